-- Outpost control plane, schema 1. Portable between node:sqlite and PostgreSQL:
-- TEXT ids, times as ISO-8601 TEXT, JSON documents as TEXT.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

-- Organisations, zones, key policies, regions, nodes, screening reviews:
-- one JSON document per record, validated by zod on the way in and out.
CREATE TABLE records (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);

-- The hash-chained audit log: hash = SHA-256(prev_hash || canonical entry).
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  before_hash TEXT,
  after_hash TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);

-- Counters (config bundle version) and small settings.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
