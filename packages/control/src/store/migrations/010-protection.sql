-- Attack protection (issue #8): per-zone counters that edges report every 10 s,
-- and per-zone decision-log entries keyed by an HMAC of the client address
-- (never the address). Both are bounded by retention and per-bucket caps in
-- protection-stats.ts; neither is audited (they are telemetry, not changes).
CREATE TABLE zone_stats (
  zone_id TEXT NOT NULL,
  bucket BIGINT NOT NULL,
  rule TEXT NOT NULL,
  action TEXT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (zone_id, bucket, rule, action)
);

CREATE TABLE zone_clients (
  zone_id TEXT NOT NULL,
  bucket BIGINT NOT NULL,
  ip_hash TEXT NOT NULL,
  action TEXT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (zone_id, bucket, ip_hash, action)
);
