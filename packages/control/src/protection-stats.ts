/**
 * Reports for the site owner (attack-protection.md §7 AP18) and privacy
 * (AP20): edges report bounded batches of per-zone counters (zone, 10 s
 * bucket, rule, action, count) and decision-log entries; the control plane
 * stores counters as they are and client addresses ONLY as keyed hashes
 * (HMAC-SHA-256 with a key derived from the control plane's bundle key, cut
 * to 128 bits). A zone whose traffic departs from its norm (z-score of the
 * last 5 minutes against the previous 4 hours of 5-minute windows) triggers a
 * webhook, de-duplicated for 2 hours per zone.
 */
import { createHmac, hkdfSync } from 'node:crypto'
import { Action } from '@outpost/protect'
import { z } from 'zod'
import type { App } from './app.ts'
import { ControlError } from './errors.ts'
import type { Ctx, Route } from './http/router.ts'
import { id as idSchema, type Zone } from './model.ts'
import { ipBytes } from './protection.ts'

export const BUCKET_SECONDS = 10
/** Counters and decision-log entries older than this are dropped. */
export const RETENTION_SECONDS = 24 * 3600
/** Distinct (rule, action) rows per zone and bucket; more are dropped and counted. */
export const MAX_ROWS_PER_BUCKET = 64
/** Distinct (client hash, action) rows per zone and bucket. */
export const MAX_CLIENTS_PER_BUCKET = 200
export const MAX_COUNTERS_PER_BATCH = 2000
export const MAX_CLIENTS_PER_BATCH = 500

/**
 * Actions as edges report them. Served: `pass` (no rule), `allow`, `log`;
 * `challenge` (a challenge page was sent); rejected: `block`, `rate-limit`,
 * `ban`, `shed`. Actions starting with `would-` are log-only counters and are
 * not counted as requests.
 */
export const REJECT_ACTIONS = ['block', 'rate-limit', 'ban', 'shed'] as const
const name = z
  .string()
  .regex(/^(-|[A-Za-z0-9*][A-Za-z0-9._:*-]{0,63})$/, 'Expected a rule id, or "-" for no rule')
/** @outpost/protect's rule actions, plus what the edge adds around them. */
export const REPORTED_ACTIONS: readonly string[] = [...Action.options, 'pass', 'ban', 'shed']
const action = z
  .string()
  .max(32)
  .refine(
    (v) => REPORTED_ACTIONS.includes(v) || /^would-(block|challenge|rate-limit)$/.test(v),
    `Expected an action: ${REPORTED_ACTIONS.join(', ')} or would-block|challenge|rate-limit`,
  )
const bucket = z
  .number()
  .int()
  .min(0)
  .refine(
    (v) => v % BUCKET_SECONDS === 0,
    `Expected epoch seconds on a ${BUCKET_SECONDS} s boundary`,
  )

export const ZoneStatsBatch = z
  .object({
    counters: z
      .array(
        z
          .object({
            zoneId: idSchema,
            at: bucket,
            rule: name,
            action,
            count: z.number().int().min(0).max(1e12),
          })
          .strict(),
      )
      .max(MAX_COUNTERS_PER_BATCH)
      .default([]),
    /** Decision-log entries; `ip` is hashed on arrival and never stored. */
    clients: z
      .array(
        z
          .object({
            zoneId: idSchema,
            at: bucket,
            /** The client address, hashed here with the control-plane key. */
            ip: z.string().max(64).optional(),
            /** Or a keyed hash the edge made already (32 hex), stored as is. */
            client: z
              .string()
              .regex(/^[0-9a-f]{32}$/, 'Expected a 32-hex keyed hash')
              .optional(),
            action,
            count: z.number().int().min(1).max(1e12),
          })
          .strict(),
      )
      .max(MAX_CLIENTS_PER_BATCH)
      .default([]),
  })
  .strict()
export type ZoneStatsBatch = z.infer<typeof ZoneStatsBatch>

export const IngestResult = z.object({
  accepted: z.number(),
  dropped: z.object({
    unknownZone: z.number(),
    outOfWindow: z.number(),
    overCap: z.number(),
    badAddress: z.number(),
  }),
})

export const AlertConfig = z
  .object({
    webhookUrl: z.url({ protocol: /^https?$/ }),
    /** Fire when z ≥ this (default 3.5). */
    zThreshold: z.number().min(1).max(50).default(3.5),
    /** And the last 5 minutes carried at least this many requests. */
    minRequests: z.number().int().min(1).default(300),
  })
  .strict()
export type AlertConfig = z.infer<typeof AlertConfig> & { zoneId: string }

export const ALERT_WINDOW_SECONDS = 300
export const ALERT_BASELINE_WINDOWS = 48 // 4 h of 5-minute windows
export const ALERT_DEDUP_SECONDS = 2 * 3600
/** At least this many baseline windows with data before a zone can alert. */
const MIN_BASELINE_WINDOWS = 6

// ---- keyed hashes of client addresses ----

const keys = new WeakMap<App, Buffer>()

/** HKDF of the bundle key's PKCS#8 bytes: stable for a control plane, never stored. */
function ipHashKey(app: App): Buffer {
  let k = keys.get(app)
  if (k === undefined) {
    const der = app.bundleKey.privateKey.export({ format: 'der', type: 'pkcs8' })
    k = Buffer.from(hkdfSync('sha256', der, 'outpost control', 'client address hash v1', 32))
    der.fill(0)
    keys.set(app, k)
  }
  return k
}

/** `HMAC-SHA-256(key, address bytes)[0..16]` as hex, or undefined for a non-address. */
export function ipHash(app: App, ip: string): string | undefined {
  const b = ipBytes(ip.trim())
  if (b === undefined) return undefined
  const h = createHmac('sha256', ipHashKey(app)).update(b).digest()
  b.fill(0)
  return h.subarray(0, 16).toString('hex')
}

// ---- ingestion ----

const lastPrune = new WeakMap<App, number>()

export async function ingestZoneStats(
  app: App,
  batch: ZoneStatsBatch,
): Promise<z.infer<typeof IngestResult>> {
  const nowS = Math.floor(app.now().getTime() / 1000)
  const zones = new Set((await app.store.list<Zone>('zone')).map((z) => z.id))
  const dropped = { unknownZone: 0, outOfWindow: 0, overCap: 0, badAddress: 0 }
  const inWindow = (zoneId: string, at: number): boolean => {
    if (!zones.has(zoneId)) {
      dropped.unknownZone++
      return false
    }
    if (at < nowS - RETENTION_SECONDS || at > nowS + 60) {
      dropped.outOfWindow++
      return false
    }
    return true
  }
  let accepted = 0
  const touched = new Set<string>()
  await app.store.driver.transaction(async (tx) => {
    // The keys already stored per (table, zone, bucket), read once: a row that exists
    // is always added to; a new one only while the bucket is under its cap.
    const seen = new Map<string, Set<string>>()
    const admit = async (
      table: 'zone_stats' | 'zone_clients',
      zoneId: string,
      at: number,
      key: string,
      cap: number,
    ): Promise<boolean> => {
      const k = `${table}|${zoneId}|${at}`
      let keys = seen.get(k)
      if (keys === undefined) {
        const col = table === 'zone_stats' ? 'rule' : 'ip_hash'
        keys = new Set(
          (
            await tx.all(
              `SELECT ${col} AS a, action FROM ${table} WHERE zone_id = ? AND bucket = ?`,
              [zoneId, at],
            )
          ).map((r) => `${String(r['a'])}|${String(r['action'])}`),
        )
        seen.set(k, keys)
      }
      if (keys.has(key)) return true
      if (keys.size >= cap) {
        dropped.overCap++
        return false
      }
      keys.add(key)
      return true
    }
    for (const c of batch.counters) {
      if (!inWindow(c.zoneId, c.at)) continue
      if (
        !(await admit('zone_stats', c.zoneId, c.at, `${c.rule}|${c.action}`, MAX_ROWS_PER_BUCKET))
      )
        continue
      await tx.run(
        'INSERT INTO zone_stats (zone_id, bucket, rule, action, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (zone_id, bucket, rule, action) DO UPDATE SET count = zone_stats.count + excluded.count',
        [c.zoneId, c.at, c.rule, c.action, c.count],
      )
      touched.add(c.zoneId)
      accepted++
    }
    for (const c of batch.clients) {
      if (!inWindow(c.zoneId, c.at)) continue
      const h = c.client ?? (c.ip !== undefined ? ipHash(app, c.ip) : undefined)
      if (h === undefined) {
        dropped.badAddress++
        continue
      }
      if (
        !(await admit('zone_clients', c.zoneId, c.at, `${h}|${c.action}`, MAX_CLIENTS_PER_BUCKET))
      )
        continue
      await tx.run(
        'INSERT INTO zone_clients (zone_id, bucket, ip_hash, action, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (zone_id, bucket, ip_hash, action) DO UPDATE SET count = zone_clients.count + excluded.count',
        [c.zoneId, c.at, h, c.action, c.count],
      )
      accepted++
    }
    if ((lastPrune.get(app) ?? 0) < nowS - 60) {
      lastPrune.set(app, nowS)
      await tx.run('DELETE FROM zone_stats WHERE bucket < ?', [nowS - RETENTION_SECONDS])
      await tx.run('DELETE FROM zone_clients WHERE bucket < ?', [nowS - RETENTION_SECONDS])
    }
  })
  for (const zoneId of touched) await checkAnomaly(app, zoneId)
  return { accepted, dropped }
}

// ---- queries ----

export interface ZoneReport {
  readonly zoneId: string
  readonly from: number
  readonly to: number
  readonly binSeconds: number
  /** Per bin: requests served, challenged and rejected. */
  readonly timeline: readonly { at: number; served: number; challenged: number; rejected: number }[]
  readonly totals: { requests: number; served: number; challenged: number; rejected: number }
  readonly peak: { rps: number; at: number | null }
  readonly byAction: readonly { action: string; count: number }[]
  readonly topRules: readonly { rule: string; action: string; count: number }[]
  readonly topClients: readonly { ipHash: string; count: number }[]
  /** Runs of bins where ≥ 20 % of requests were rejected or challenged. */
  readonly attacks: readonly { start: number; end: number; peakRps: number; rules: string[] }[]
}

type Kind = 'served' | 'challenged' | 'rejected' | 'log'
function kindOf(action: string): Kind {
  if (action.startsWith('would-')) return 'log'
  if ((REJECT_ACTIONS as readonly string[]).includes(action)) return 'rejected'
  if (action === 'challenge') return 'challenged'
  return 'served'
}

/**
 * The report, aggregated in SQL so memory stays bounded by buckets × actions
 * (not by rules): totals per (bucket, action), the top rules, and the rules
 * that fired in each attack period.
 */
export async function zoneReport(app: App, zoneId: string, hours = 24): Promise<ZoneReport> {
  const to = Math.floor(app.now().getTime() / 1000 / BUCKET_SECONDS) * BUCKET_SECONDS
  const from = to - Math.round(hours * 3600)
  const binSeconds = Math.max(60, Math.ceil((to - from) / 120 / 60) * 60)
  const db = app.store.driver
  const range = [zoneId, from, to]
  const rows = await db.all(
    'SELECT bucket, action, SUM(count) AS n FROM zone_stats WHERE zone_id = ? AND bucket > ? AND bucket <= ? GROUP BY bucket, action',
    range,
  )
  const bins = new Map<number, { served: number; challenged: number; rejected: number }>()
  const perBucket = new Map<number, number>()
  const actions = new Map<string, number>()
  const totals = { requests: 0, served: 0, challenged: 0, rejected: 0 }
  for (const r of rows) {
    const at = Number(r['bucket'])
    const act = String(r['action'])
    const n = Number(r['n'])
    actions.set(act, (actions.get(act) ?? 0) + n)
    const k = kindOf(act)
    if (k === 'log') continue
    const bin = from + Math.floor((at - from - 1) / binSeconds) * binSeconds
    const b = bins.get(bin) ?? { served: 0, challenged: 0, rejected: 0 }
    b[k] += n
    bins.set(bin, b)
    totals[k] += n
    totals.requests += n
    perBucket.set(at, (perBucket.get(at) ?? 0) + n)
  }
  let peak: { rps: number; at: number | null } = { rps: 0, at: null }
  for (const [at, n] of perBucket)
    if (n / BUCKET_SECONDS > peak.rps) peak = { rps: n / BUCKET_SECONDS, at }
  const timeline = [...Array(Math.ceil((to - from) / binSeconds)).keys()].map((i) => {
    const at = from + i * binSeconds
    return { at, ...(bins.get(at) ?? { served: 0, challenged: 0, rejected: 0 }) }
  })
  const attacks: { start: number; end: number; peakRps: number; rules: string[] }[] = []
  let cur: (typeof attacks)[number] | undefined
  for (const b of timeline) {
    const total = b.served + b.challenged + b.rejected
    if (total > 0 && (b.rejected + b.challenged) / total >= 0.2) {
      let peakRps = 0
      for (const [at, n] of perBucket)
        if (at > b.at && at <= b.at + binSeconds) peakRps = Math.max(peakRps, n / BUCKET_SECONDS)
      if (cur === undefined) {
        cur = { start: b.at, end: b.at + binSeconds, peakRps, rules: [] }
        attacks.push(cur)
      } else {
        cur.end = b.at + binSeconds
        cur.peakRps = Math.max(cur.peakRps, peakRps)
      }
    } else cur = undefined
  }
  const stopping = [...REJECT_ACTIONS, 'challenge']
  for (const a of attacks.slice(0, 20)) {
    const fired = await db.all(
      `SELECT rule, SUM(count) AS n FROM zone_stats WHERE zone_id = ? AND bucket > ? AND bucket <= ? AND rule <> '-' AND action IN (${stopping.map(() => '?').join(', ')}) GROUP BY rule ORDER BY n DESC LIMIT 10`,
      [zoneId, a.start, a.end, ...stopping],
    )
    a.rules = fired.map((r) => String(r['rule']))
  }
  const top = await db.all(
    "SELECT rule, action, SUM(count) AS n FROM zone_stats WHERE zone_id = ? AND bucket > ? AND bucket <= ? AND rule <> '-' GROUP BY rule, action ORDER BY n DESC LIMIT 10",
    range,
  )
  const clients = await db.all(
    'SELECT ip_hash, SUM(count) AS n FROM zone_clients WHERE zone_id = ? AND bucket > ? AND bucket <= ? GROUP BY ip_hash ORDER BY n DESC LIMIT 10',
    range,
  )
  return {
    zoneId,
    from,
    to,
    binSeconds,
    timeline,
    totals,
    peak,
    byAction: [...actions]
      .map(([a, count]) => ({ action: a, count }))
      .sort((a, b) => b.count - a.count),
    topRules: top.map((r) => ({
      rule: String(r['rule']),
      action: String(r['action']),
      count: Number(r['n']),
    })),
    topClients: clients.map((r) => ({ ipHash: String(r['ip_hash']), count: Number(r['n']) })),
    attacks,
  }
}

// ---- anomaly alerts ----

/** z-score of `x` against `samples` (population standard deviation, floor 1). */
export function zScore(
  x: number,
  samples: readonly number[],
): { z: number; mean: number; sd: number } {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length
  const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length)
  const floor = Math.max(sd, 1)
  return { z: (x - mean) / floor, mean, sd }
}

export interface AnomalyAlert {
  readonly type: 'zone.traffic_anomaly'
  readonly zoneId: string
  readonly at: string
  readonly windowSeconds: number
  readonly requests: number
  readonly baselineMean: number
  readonly baselineStddev: number
  readonly zScore: number
  readonly threshold: number
}

/** Sends at most one webhook per zone per 2 h when the last 5 minutes are anomalous. */
export async function checkAnomaly(app: App, zoneId: string): Promise<AnomalyAlert | undefined> {
  const cfg = await app.store.get<AlertConfig>('zone-alert', zoneId)
  if (cfg === undefined) return undefined
  const latest = Number(
    (
      await app.store.driver.all('SELECT MAX(bucket) AS m FROM zone_stats WHERE zone_id = ?', [
        zoneId,
      ])
    )[0]?.['m'] ?? 0,
  )
  const start = latest - ALERT_WINDOW_SECONDS * (ALERT_BASELINE_WINDOWS + 1)
  const rows = await app.store.driver.all(
    'SELECT bucket, action, SUM(count) AS n FROM zone_stats WHERE zone_id = ? AND bucket > ? GROUP BY bucket, action',
    [zoneId, start],
  )
  const windows = new Map<number, number>()
  let first = Infinity
  for (const r of rows) {
    if (kindOf(String(r['action'])) === 'log') continue
    const at = Number(r['bucket'])
    const w = Math.floor((latest - at) / ALERT_WINDOW_SECONDS) // 0 = the last 5 minutes
    windows.set(w, (windows.get(w) ?? 0) + Number(r['n']))
    first = Math.min(first, at)
  }
  const oldest = Math.min(
    ALERT_BASELINE_WINDOWS,
    Math.floor((latest - first) / ALERT_WINDOW_SECONDS),
  )
  if (oldest < MIN_BASELINE_WINDOWS) return undefined
  const baseline: number[] = []
  for (let w = 1; w <= oldest; w++) baseline.push(windows.get(w) ?? 0)
  const x = windows.get(0) ?? 0
  const s = zScore(x, baseline)
  if (x < cfg.minRequests || s.z < cfg.zThreshold) return undefined
  const at = app.now()
  // De-duplicate for 2 h, across instances: claim the slot in one transaction.
  const key = `alert:${zoneId}`
  const claimed = await app.store.driver.transaction(async (tx) => {
    const r = (await tx.all('SELECT value FROM meta WHERE key = ?', [key]))[0]
    if (
      r !== undefined &&
      at.getTime() - Date.parse(String(r['value'])) < ALERT_DEDUP_SECONDS * 1000
    )
      return false
    if (r === undefined)
      await tx.run('INSERT INTO meta (key, value) VALUES (?, ?)', [key, at.toISOString()])
    else await tx.run('UPDATE meta SET value = ? WHERE key = ?', [at.toISOString(), key])
    return true
  })
  if (!claimed) return undefined
  const alert: AnomalyAlert = {
    type: 'zone.traffic_anomaly',
    zoneId,
    at: at.toISOString(),
    windowSeconds: ALERT_WINDOW_SECONDS,
    requests: x,
    baselineMean: Math.round(s.mean * 100) / 100,
    baselineStddev: Math.round(s.sd * 100) / 100,
    zScore: Math.round(s.z * 100) / 100,
    threshold: cfg.zThreshold,
  }
  // Fire and forget, bounded: a slow receiver never holds up an edge's report.
  void fetch(cfg.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'outpost-control' },
    body: JSON.stringify(alert),
    signal: AbortSignal.timeout(5000),
  }).then(
    (r) => r.body?.cancel(),
    () => undefined,
  )
  return alert
}

// ---- routes ----

function actorOf(c: Ctx): string {
  const p = c.principal
  return p === undefined ? 'anonymous' : `${p.tokenId}(${p.name})`
}

async function mustZone(app: App, id: string): Promise<Zone> {
  const z = await app.store.get<Zone>('zone', id)
  if (z === undefined) throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find zone "${id}"`)
  return z
}

const StoredAlert = AlertConfig.extend({ zoneId: idSchema })

export function statsRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/zones/:id/security',
      tag: 'protection',
      summary:
        'Security report of a zone: timeline, peak rps, top rules, rejected counts (?hours=1..24)',
      scope: 'read',
      handler: async (c) => {
        const id = c.params['id'] ?? ''
        await mustZone(app, id)
        const h = Number(c.url.searchParams.get('hours') ?? '24')
        if (!(h > 0 && h <= 24))
          throw new ControlError(
            'ERR_CONTROL_BAD_REQUEST',
            'Cannot read query: "hours" must be in (0, 24]',
          )
        return zoneReport(app, id, h)
      },
    },
    {
      method: 'PUT',
      path: '/v1/zones/:id/alert',
      tag: 'protection',
      summary: 'Set the traffic-anomaly webhook of a zone (z-score rule, 2 h de-duplication)',
      scope: 'orgs:write',
      body: AlertConfig,
      response: StoredAlert,
      handler: async (c) => {
        const id = c.params['id'] ?? ''
        await mustZone(app, id)
        const cfg: AlertConfig = { ...(c.body as z.infer<typeof AlertConfig>), zoneId: id }
        return app.store.mutate<AlertConfig>({
          actor: actorOf(c),
          action: 'zone-alert.put',
          kind: 'zone-alert',
          id,
          apply: () => cfg,
        })
      },
    },
    {
      method: 'DELETE',
      path: '/v1/zones/:id/alert',
      tag: 'protection',
      summary: 'Remove the traffic-anomaly webhook of a zone',
      scope: 'orgs:write',
      response: z.object({ ok: z.literal(true) }),
      handler: async (c) => {
        const id = c.params['id'] ?? ''
        if ((await app.store.get('zone-alert', id)) === undefined)
          throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find an alert on zone "${id}"`)
        await app.store.mutate({
          actor: actorOf(c),
          action: 'zone-alert.delete',
          kind: 'zone-alert',
          id,
          apply: () => undefined,
        })
        return { ok: true }
      },
    },
    {
      method: 'POST',
      path: '/v1/ip-hash',
      tag: 'protection',
      summary: 'The keyed hash of an address, to find it among a zone\u2019s top clients',
      scope: 'admin',
      body: z.object({ ip: z.string().max(64) }).strict(),
      response: z.object({ ipHash: z.string() }),
      handler: (c) => {
        const h = ipHash(app, (c.body as { ip: string }).ip)
        if (h === undefined)
          throw new ControlError(
            'ERR_CONTROL_VALIDATION',
            'Cannot accept request body: ip: expected an IP address',
          )
        return { ipHash: h }
      },
    },
  ]
}

export function statsNodeRoutes(app: App, nodeOf: (c: Ctx) => Promise<unknown>): Route[] {
  return [
    {
      method: 'POST',
      path: '/node/v1/zone-stats',
      tag: 'node',
      summary: `Report per-zone counters per ${BUCKET_SECONDS} s bucket and hashed decision-log entries (bounded batches, mTLS only)`,
      scope: 'public',
      body: ZoneStatsBatch,
      response: IngestResult,
      handler: async (c) => {
        await nodeOf(c)
        return ingestZoneStats(app, c.body as ZoneStatsBatch)
      },
    },
  ]
}
