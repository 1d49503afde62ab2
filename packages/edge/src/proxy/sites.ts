/**
 * The per-configuration data-plane state: sites by host name, each with its
 * origin's keep-alive pool. A reload builds a new state and swaps it in; the
 * old pools close once their in-flight requests finish.
 */
import { Pool } from 'undici'
import type { Signer } from '@outpost/tls'
import type { EdgeConfig, SiteConfig } from '../config.ts'
import { buildSiteCertificates, type SiteCertificate } from '../tls/certificates.ts'
import {
  buildKeyPools,
  retireKeyPools,
  type KeyPool,
  type KeyPoolOptions,
} from '../tls/key-pools.ts'

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
  /** Keyless clients by pool name (empty in plaintext mode). */
  readonly keyPools: ReadonlyMap<string, KeyPool>
  /** Chain and signer by host name (empty in plaintext mode). */
  readonly certificates: ReadonlyMap<string, SiteCertificate>
}

export interface BuildOptions {
  /** Wraps every remote signer (metrics). */
  readonly wrapSigner?: (s: Signer) => Signer
  readonly keyPools?: KeyPoolOptions
}

/** Builds pools for every site. Pools for an unchanged origin are reused from `previous`. */
export function buildState(
  config: EdgeConfig,
  previous?: DataPlaneState,
  options: BuildOptions = {},
): DataPlaneState {
  // TLS material first: it is what can fail (unreadable files, SKI mismatch), and
  // nothing else has been created yet if it does.
  let keyPools: ReadonlyMap<string, KeyPool> = new Map()
  let certificates: ReadonlyMap<string, SiteCertificate> = new Map()
  if (!config.plaintext) {
    const pools = buildKeyPools(config, previous?.keyPools, options.keyPools)
    try {
      certificates = buildSiteCertificates(config, pools, options.wrapSigner)
    } catch (e) {
      void retireKeyPools(pools, previous?.keyPools)
      throw e
    }
    keyPools = pools
  }
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
  return { sites, timeouts: config.timeouts, keyPools, certificates }
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
  await Promise.all([
    ...[...done].map((p) => p.close().catch(() => undefined)),
    retireKeyPools(old.keyPools, next?.keyPools),
  ])
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
