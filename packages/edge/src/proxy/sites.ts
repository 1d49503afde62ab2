/**
 * The per-configuration data-plane state: sites by host name, each with its
 * origin's keep-alive pool. A reload builds a new state and swaps it in; the
 * old pools close once their in-flight requests finish.
 */
import { Pool } from 'undici'
import type { EdgeConfig, SiteConfig } from '../config.ts'

export interface SiteRuntime {
  /** The site's first host name: its label in logs and metrics. */
  readonly name: string
  readonly config: SiteConfig
  readonly origin: URL
  readonly pool: Pool
}

export interface Timeouts {
  readonly connectMs: number
  readonly headersMs: number
  readonly bodyIdleMs: number
}

export interface DataPlaneState {
  readonly sites: ReadonlyMap<string, SiteRuntime>
  readonly timeouts: Timeouts
}

/** Builds pools for every site. Pools for an unchanged origin are reused from `previous`. */
export function buildState(config: EdgeConfig, previous?: DataPlaneState): DataPlaneState {
  const reuse = new Map<string, Pool>()
  if (previous !== undefined && sameTimeouts(previous.timeouts, config.timeouts)) {
    for (const s of previous.sites.values()) reuse.set(s.origin.origin, s.pool)
  }
  const sites = new Map<string, SiteRuntime>()
  const pools = new Map<string, Pool>()
  for (const sc of config.sites) {
    const origin = new URL(sc.origin)
    let pool = pools.get(origin.origin) ?? reuse.get(origin.origin)
    if (pool === undefined) {
      pool = new Pool(origin.origin, {
        connections: 128,
        connectTimeout: config.timeouts.connectMs,
        headersTimeout: config.timeouts.headersMs,
        bodyTimeout: config.timeouts.bodyIdleMs,
        keepAliveTimeout: 4000,
      })
    }
    pools.set(origin.origin, pool)
    const rt: SiteRuntime = { name: sc.hosts[0] ?? origin.host, config: sc, origin, pool }
    for (const h of sc.hosts) sites.set(h, rt)
  }
  return { sites, timeouts: config.timeouts }
}

/** Closes the pools of `old` that `next` does not use; waits for their in-flight requests. */
export async function retireState(
  old: DataPlaneState,
  next: DataPlaneState | undefined,
): Promise<void> {
  const keep = new Set<Pool>()
  if (next !== undefined) for (const s of next.sites.values()) keep.add(s.pool)
  const done = new Set<Pool>()
  for (const s of old.sites.values()) {
    if (keep.has(s.pool) || done.has(s.pool)) continue
    done.add(s.pool)
  }
  await Promise.all([...done].map((p) => p.close().catch(() => undefined)))
}

/** Finds the site for a host: exact name first, then a `*.parent` wildcard. */
export function siteFor(state: DataPlaneState, host: string): SiteRuntime | undefined {
  const exact = state.sites.get(host)
  if (exact !== undefined) return exact
  const dot = host.indexOf('.')
  return dot === -1 ? undefined : state.sites.get(`*${host.slice(dot)}`)
}

function sameTimeouts(a: Timeouts, b: Timeouts): boolean {
  return a.connectMs === b.connectMs && a.headersMs === b.headersMs && a.bodyIdleMs === b.bodyIdleMs
}
