/**
 * Protection sync (issue #8, docs/protect-control.md "The edge side"): closes the
 * loop between the control plane and this edge's @outpost/protect engine.
 *
 *   GET  /node/v1/decisions (mTLS long-poll) ──► engine.setUnderAttack / setPrefixBans
 *   engine counters + decision log ──every 10 s──► POST /node/v1/zone-stats
 *
 * Zones: the control plane names zones by id; the edge names a site (and its
 * protection zone) by its first host name (proxy/sites.ts). `zones()` gives the
 * bundle's zones, so `hostnames[0]` ↔ `id` maps one to the other.
 *
 * Decisions: every snapshot replaces the previous one (bans as one prefix set,
 * under-attack switches per zone; a zone whose switch disappeared is switched
 * off). Expiry is the engine's: `untilMs` is `expiresAt` corrected by the feed's
 * clock offset. A new engine or a new zone map (reload) gets the snapshot again.
 *
 * Stats: the deltas of the engine's cumulative counters since the last post,
 * attributed to the 10 s bucket that just closed (the post runs 1 s after each
 * boundary), plus per-client tallies of non-pass decisions from the decision log
 * (keyed hashes only; the engine never hands out an address). Memory is bounded:
 * the client tally holds at most MAX_CLIENT_ROWS rows, a batch at most the control
 * plane's caps, and a failed post is dropped and counted, never queued.
 */
import { createHash } from 'node:crypto'
import { Agent, request } from 'node:https'
import {
  DecisionFeedClient,
  nodeApiAgent,
  type FeedDecision,
  type NodeTlsOptions,
} from '@outpost/control/node'
import type { DecisionLogEntry, Protection } from '@outpost/protect'

export const STATS_BUCKET_MS = 10_000
/** The control plane's batch caps (docs/protect-control.md, AP18). */
export const MAX_COUNTERS_PER_BATCH = 2000
export const MAX_CLIENTS_PER_BATCH = 500
/** Distinct (zone, bucket, client, action) rows held between posts. */
export const MAX_CLIENT_ROWS = 2000

/** The part of a bundle zone the sync needs. */
export interface SyncZone {
  readonly id: string
  readonly hostnames: readonly string[]
}

export interface ProtectionSyncOptions extends NodeTlsOptions {
  /** The edge's engine (a getter: it is created on first use and may be replaced). */
  readonly protection: () => Protection | undefined
  /** The zones of the bundle in force. */
  readonly zones: () => readonly SyncZone[]
  /** Long-poll wait (default 25 s). */
  readonly waitSeconds?: number
  readonly log?: (l: Record<string, unknown>) => void
}

export interface ProtectionSyncStats {
  /** Snapshots applied to the engine. */
  applied: number
  posts: number
  postFailures: number
  /** Counter rows / client rows dropped (post failed, over a cap, unknown zone or action). */
  droppedCounters: number
  droppedClients: number
}

/** An engine counter as the control plane names it, or undefined (not reported). */
export function reportedAction(rule: string, action: string): string | undefined {
  if (rule === 'ban' && action === 'block') return 'ban'
  if (rule === 'challenge') {
    // The challenge routes: a solved challenge was served, a failed one refused.
    if (action === 'solved' || action === 'solved-nojs') return 'pass'
    if (action === 'failed' || action === 'too-early') return 'block'
  }
  return /^(pass|allow|log|block|challenge|rate-limit|ban|shed|would-(block|challenge|rate-limit))$/.test(
    action,
  )
    ? action
    : undefined
}

/** The 32-hex client key the control plane stores, from the engine's keyed hash. */
export function clientKey(engineHash: string): string {
  return createHash('sha256')
    .update('outpost edge client v1\u0000')
    .update(engineHash)
    .digest('hex')
    .slice(0, 32)
}

interface ZoneMap {
  readonly key: string
  readonly siteOf: ReadonlyMap<string, string>
  readonly zoneOf: ReadonlyMap<string, string>
}

function zoneMap(zones: readonly SyncZone[]): ZoneMap {
  const siteOf = new Map<string, string>()
  const zoneOf = new Map<string, string>()
  for (const z of zones) {
    const site = z.hostnames[0]
    if (site === undefined) continue
    siteOf.set(z.id, site)
    zoneOf.set(site, z.id)
  }
  return { key: [...siteOf].map(([i, s]) => `${i}=${s}`).join(','), siteOf, zoneOf }
}

interface Batch {
  counters: { zoneId: string; at: number; rule: string; action: string; count: number }[]
  clients: { zoneId: string; at: number; client: string; action: string; count: number }[]
}

export class ProtectionSync {
  readonly #o: ProtectionSyncOptions
  readonly #feed: DecisionFeedClient
  readonly #agent: Agent
  readonly stats: ProtectionSyncStats = {
    applied: 0,
    posts: 0,
    postFailures: 0,
    droppedCounters: 0,
    droppedClients: 0,
  }
  #engine: Protection | undefined
  #unsubscribe: (() => void) | undefined
  #map: ZoneMap = zoneMap([])
  /** Sites whose under-attack switch this sync turned on. */
  #switched = new Set<string>()
  /** Cumulative counters at the last post, per engine counter key. */
  #last = new Map<string, number>()
  /** (site, bucket start, client, action) → count, at most MAX_CLIENT_ROWS. */
  readonly #clients = new Map<string, number>()
  #watch: NodeJS.Timeout | undefined
  #tick: NodeJS.Timeout | undefined
  #posting = false
  #stopped = false

  constructor(o: ProtectionSyncOptions) {
    this.#o = o
    this.#feed = new DecisionFeedClient({
      ...o,
      waitSeconds: o.waitSeconds ?? 25,
      onChange: () => {
        this.#apply()
      },
      onError: (e) => o.log?.({ level: 'warn', msg: 'decision feed', err: e.message }),
    })
    this.#agent = nodeApiAgent(o)
  }

  /** The decision feed (its version and snapshot). */
  get feed(): DecisionFeedClient {
    return this.#feed
  }

  /** Starts the feed and the stats timer; resolves once the first snapshot is applied. */
  async start(): Promise<void> {
    // Reload replaces the engine or the zone map: re-apply the snapshot within 1 s.
    this.#watch = setInterval(() => {
      if (this.#o.protection() !== this.#engine || zoneMap(this.#o.zones()).key !== this.#map.key)
        this.#apply()
    }, 1000)
    this.#watch.unref()
    this.#schedule()
    await this.#feed.start()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#watch)
    clearTimeout(this.#tick)
    this.#unsubscribe?.()
    await this.#feed.stop()
    this.#agent.destroy()
  }

  /** Applies the feed's snapshot to the engine (and follows a new engine or zone map). */
  #apply(): void {
    const engine = this.#o.protection()
    const map = zoneMap(this.#o.zones())
    if (engine !== this.#engine) {
      this.#unsubscribe?.()
      this.#unsubscribe = engine?.onDecisionLog((e) => {
        this.#tally(e)
      })
      this.#engine = engine
      // Report from now on: what the engine counted before is not this sync's to post.
      this.#last = new Map()
      if (engine !== undefined)
        for (const [site, rule, action, count] of engine.metrics.counters())
          this.#last.set(`${site}\u0000${rule}\u0000${action}`, count)
      this.#switched = new Set()
    }
    this.#map = map
    if (engine === undefined) return
    const offset = this.#feed.clockOffsetMs
    const until = (d: FeedDecision): number => Date.parse(d.expiresAt) - offset
    const on = new Set<string>()
    const bans: { prefix: string; zone?: string; untilMs: number }[] = []
    for (const d of this.#feed.decisions) {
      if (d.type === 'under-attack' && d.zoneId !== undefined) {
        const site = map.siteOf.get(d.zoneId)
        if (site === undefined) continue
        engine.setUnderAttack(site, until(d))
        on.add(site)
      } else if (d.type === 'ban' && d.prefix !== undefined) {
        if (d.zoneId === undefined) bans.push({ prefix: d.prefix, untilMs: until(d) })
        else {
          const site = map.siteOf.get(d.zoneId)
          if (site !== undefined) bans.push({ prefix: d.prefix, zone: site, untilMs: until(d) })
        }
      }
    }
    for (const site of this.#switched) if (!on.has(site)) engine.setUnderAttack(site, 0)
    this.#switched = on
    engine.setPrefixBans(bans)
    this.stats.applied++
  }

  #tally(e: DecisionLogEntry): void {
    const action = reportedAction(e.rule, e.would !== undefined ? `would-${e.would}` : e.action)
    if (action === undefined) return
    const at = e.time - (e.time % STATS_BUCKET_MS)
    const k = `${e.zone}\u0000${at}\u0000${e.client}\u0000${action}`
    const n = this.#clients.get(k)
    if (n !== undefined) this.#clients.set(k, n + 1)
    else if (this.#clients.size < MAX_CLIENT_ROWS) this.#clients.set(k, 1)
    else this.stats.droppedClients++
  }

  /** Runs `flush` 1 s after every 10 s boundary. */
  #schedule(): void {
    if (this.#stopped) return
    const now = Date.now()
    const next = now - (now % STATS_BUCKET_MS) + STATS_BUCKET_MS + 1000
    this.#tick = setTimeout(() => {
      void this.flush().finally(() => {
        this.#schedule()
      })
    }, next - now)
    this.#tick.unref()
  }

  /**
   * Posts what was counted since the last post (the counter deltas go to the bucket
   * that closed last). Public for tests and shutdown. Never throws.
   */
  async flush(now = Date.now()): Promise<void> {
    const batch = this.#collect(now)
    if (batch.counters.length === 0 && batch.clients.length === 0) return
    if (this.#posting) {
      // The previous post is still out: drop, do not queue (bounded memory).
      this.stats.droppedCounters += batch.counters.length
      this.stats.droppedClients += batch.clients.length
      return
    }
    this.#posting = true
    try {
      await this.#post(batch)
      this.stats.posts++
    } catch (e) {
      this.stats.postFailures++
      this.stats.droppedCounters += batch.counters.length
      this.stats.droppedClients += batch.clients.length
      this.#o.log?.({ level: 'warn', msg: 'zone stats not posted', err: (e as Error).message })
    } finally {
      this.#posting = false
    }
  }

  #collect(now: number): Batch {
    const batch: Batch = { counters: [], clients: [] }
    const engine = this.#engine
    if (engine === undefined) return batch
    const closed = now - (now % STATS_BUCKET_MS)
    const at = (closed - STATS_BUCKET_MS) / 1000
    const next = new Map<string, number>()
    for (const [site, rule, action, count] of engine.metrics.counters()) {
      const k = `${site}\u0000${rule}\u0000${action}`
      next.set(k, count)
      const delta = count - (this.#last.get(k) ?? 0)
      if (delta <= 0) continue
      const zoneId = this.#map.zoneOf.get(site)
      const reported = reportedAction(rule, action)
      if (zoneId === undefined || reported === undefined) continue
      if (batch.counters.length >= MAX_COUNTERS_PER_BATCH) {
        this.stats.droppedCounters++
        continue
      }
      batch.counters.push({ zoneId, at, rule, action: reported, count: delta })
    }
    this.#last = next
    for (const [k, count] of this.#clients) {
      const [site = '', bucket = '', client = '', action = ''] = k.split('\u0000')
      if (Number(bucket) >= closed) continue // still open: next post
      this.#clients.delete(k)
      const zoneId = this.#map.zoneOf.get(site)
      if (zoneId === undefined || batch.clients.length >= MAX_CLIENTS_PER_BATCH) {
        this.stats.droppedClients++
        continue
      }
      batch.clients.push({
        zoneId,
        at: Number(bucket) / 1000,
        client: clientKey(client),
        action,
        count,
      })
    }
    return batch
  }

  #post(batch: Batch): Promise<void> {
    const u = new URL('/node/v1/zone-stats', this.#o.url)
    const body = Buffer.from(JSON.stringify(batch))
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent: this.#agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          ...(this.#o.servername !== undefined ? { servername: this.#o.servername } : {}),
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => {
            if (chunks.length < 64) chunks.push(c)
          })
          res.on('end', () => {
            if (res.statusCode === 200) resolve()
            else
              reject(
                new Error(
                  `Cannot post zone stats: HTTP ${res.statusCode ?? 0} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`,
                ),
              )
          })
          res.on('error', reject)
        },
      )
      req.setTimeout(5000, () => req.destroy(new Error('Cannot post zone stats: timed out')))
      req.on('error', reject)
      req.end(body)
    })
  }
}
