/**
 * Decisions everywhere at once (issue #8, attack-protection.md §7 AP12): the
 * per-zone "under attack" switch and IP/prefix bans, each with a TTL, set
 * through the operator API (audited through `store.mutate`) and fanned out to
 * every edge by a long-poll feed on the mTLS node listener:
 * `GET /node/v1/decisions?after=VERSION&wait=SECONDS` answers at once when the
 * decision version is newer than `after`, else when it changes (in-process
 * wake-up, plus a 1 s poll of the shared counter for other control-plane
 * instances on PostgreSQL), else after `wait` seconds with `changed: false`.
 * The feed format is documented in docs/protect-control.md.
 */
import { randomBytes } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { parseProtection } from '@outpost/protect'
import { z } from 'zod'
import type { App } from './app.ts'
import { ControlError } from './errors.ts'
import type { Ctx, Route } from './http/router.ts'
import { id as idSchema, type Zone } from './model.ts'
import type { SqlExecutor } from './store/driver.ts'

// ---- addresses and prefixes ----

/** The address as 4 or 16 bytes, or undefined when it is not an IP literal. */
export function ipBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number))
  if (!isIPv6(ip)) return undefined
  let s = ip.toLowerCase().replace(/%.*$/, '')
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (v4?.[1] !== undefined) {
    const b = v4[1].split('.').map(Number)
    s = `${s.slice(0, -v4[1].length)}${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`
  }
  const [head = '', tail] = s.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

/** RFC 5952 text for 4 or 16 address bytes. */
export function ipText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.')
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0))
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = g.map((x) => x.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** Shortest prefix a ban may cover: no banning a quarter of the Internet by a typo. */
export const MIN_BAN_PREFIX = { v4: 8, v6: 16 } as const

/**
 * Canonical `address/length` with host bits cleared; a bare address is a /32
 * or /128. Throws a ControlError naming the problem.
 */
export function normalisePrefix(input: string): string {
  const [addr = '', len, extra] = input.trim().split('/')
  const b = ipBytes(addr)
  if (b === undefined || extra !== undefined)
    throw new ControlError(
      'ERR_CONTROL_VALIDATION',
      `Cannot accept prefix "${input}": expected an IP address or CIDR prefix like 203.0.113.0/24`,
    )
  const max = b.length * 8
  const n = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN
  const min = b.length === 4 ? MIN_BAN_PREFIX.v4 : MIN_BAN_PREFIX.v6
  if (!(n >= min && n <= max))
    throw new ControlError(
      'ERR_CONTROL_VALIDATION',
      `Cannot accept prefix "${input}": length must be ${min}..${max}`,
    )
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, n - i * 8))
    b[i] = (b[i] ?? 0) & ((0xff << (8 - keep)) & 0xff)
  }
  return `${ipText(b)}/${n}`
}

// ---- decisions ----

export const UnderAttack = z.object({
  id: z.string(),
  type: z.literal('under-attack'),
  zoneId: idSchema,
  reason: z.string().optional(),
  createdAt: z.string(),
  expiresAt: z.string(),
})
export const Ban = z.object({
  id: z.string(),
  type: z.literal('ban'),
  /** Canonical CIDR prefix; the one place a raw address is kept (a ban needs it). */
  prefix: z.string(),
  /** Absent: the ban applies on every zone. */
  zoneId: idSchema.optional(),
  reason: z.string().optional(),
  createdAt: z.string(),
  expiresAt: z.string(),
})
export const Decision = z.discriminatedUnion('type', [UnderAttack, Ban])
export type Decision = z.infer<typeof Decision>

const MAX_TTL_UNDER_ATTACK = 7 * 86_400
const MAX_TTL_BAN = 30 * 86_400
/** Active decisions are bounded: the feed is a full snapshot. */
export const MAX_ACTIVE_DECISIONS = 10_000
/** The longest a node's long-poll may wait. */
export const MAX_WAIT_SECONDS = 30
const VERSION_KEY = 'decision_version'

export const UnderAttackSet = z
  .object({
    ttlSeconds: z.number().int().min(1).max(MAX_TTL_UNDER_ATTACK).default(3600),
    reason: z.string().max(500).optional(),
  })
  .strict()
export const BanCreate = z
  .object({
    prefix: z.string().min(2).max(64),
    ttlSeconds: z.number().int().min(1).max(MAX_TTL_BAN).default(3600),
    zoneId: idSchema.optional(),
    reason: z.string().max(500).optional(),
  })
  .strict()

export const DecisionFeed = z.object({
  version: z.number(),
  changed: z.boolean(),
  serverTime: z.string(),
  decisions: z.array(Decision).optional(),
})
export type DecisionFeed = z.infer<typeof DecisionFeed>

/** Wakes long-polls on a change: in-process at once, other instances via a 1 s poll. */
class DecisionHub {
  /** Each waiting poll with the version it already has. */
  readonly #waiters = new Map<() => void, number>()
  #poll: NodeJS.Timeout | undefined
  readonly #version: () => Promise<number>

  constructor(version: () => Promise<number>) {
    this.#version = version
  }

  /** A change made here: wake every poll (each re-reads the version). */
  notify(): void {
    for (const w of [...this.#waiters.keys()]) w()
  }

  /** The shared counter (changes by other instances): wake the polls it moved past. */
  #tick(): void {
    this.#version().then(
      (v) => {
        for (const [w, after] of [...this.#waiters]) if (v > after) w()
      },
      () => undefined,
    )
  }

  /** Resolves on a change past `after`, on `ms` elapsed, or when `c`'s socket closes. */
  wait(after: number, ms: number, c: Ctx): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        c.req.socket.off('close', done)
        if (this.#waiters.size === 0 && this.#poll !== undefined) {
          clearInterval(this.#poll)
          this.#poll = undefined
        }
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      c.req.socket.once('close', done)
      this.#waiters.set(done, after)
      if (this.#poll === undefined) {
        this.#poll = setInterval(() => {
          this.#tick()
        }, 1000)
        this.#poll.unref()
      }
    })
  }
}

interface ProtectionState {
  readonly hub: DecisionHub
}
const states = new WeakMap<App, ProtectionState>()

function state(app: App): ProtectionState {
  let s = states.get(app)
  if (s === undefined) {
    s = { hub: new DecisionHub(() => app.store.counter(VERSION_KEY)) }
    states.set(app, s)
  }
  return s
}

async function bumpVersion(app: App): Promise<number> {
  const next = await app.store.driver.transaction(async (tx: SqlExecutor) => {
    const r = (await tx.all('SELECT value FROM meta WHERE key = ?', [VERSION_KEY]))[0]
    const v = (r === undefined ? 0 : Number(r['value'])) + 1
    if (r === undefined)
      await tx.run('INSERT INTO meta (key, value) VALUES (?, ?)', [VERSION_KEY, String(v)])
    else await tx.run('UPDATE meta SET value = ? WHERE key = ?', [String(v), VERSION_KEY])
    return v
  })
  state(app).hub.notify()
  return next
}

/** Decisions that have not expired (expired ones are swept, audited, on the next change). */
export async function activeDecisions(app: App): Promise<Decision[]> {
  const now = app.now().getTime()
  return (await app.store.list<Decision>('decision')).filter((d) => Date.parse(d.expiresAt) > now)
}

async function sweepExpired(app: App): Promise<void> {
  const now = app.now().getTime()
  const expired = (await app.store.list<Decision>('decision'))
    .filter((d) => Date.parse(d.expiresAt) <= now)
    .slice(0, 100)
  for (const d of expired) {
    await app.store.mutate<Decision>({
      actor: 'system:ttl',
      action: 'decision.expire',
      kind: 'decision',
      id: d.id,
      apply: () => undefined,
    })
  }
}

async function putDecision(app: App, who: string, d: Decision): Promise<Decision> {
  await sweepExpired(app)
  const active = await activeDecisions(app)
  if (active.length >= MAX_ACTIVE_DECISIONS && !active.some((x) => x.id === d.id))
    throw new ControlError(
      'ERR_CONTROL_CONFLICT',
      `Cannot add decision: ${MAX_ACTIVE_DECISIONS} are active (the limit); remove some first`,
    )
  await app.store.mutate<Decision>({
    actor: who,
    action: d.type === 'ban' ? 'ban.create' : 'under-attack.set',
    kind: 'decision',
    id: d.id,
    apply: () => d,
  })
  await bumpVersion(app)
  return d
}

async function removeDecision(app: App, who: string, id: string, action: string): Promise<void> {
  if ((await app.store.get<Decision>('decision', id)) === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find decision "${id}"`)
  await app.store.mutate<Decision>({
    actor: who,
    action,
    kind: 'decision',
    id,
    apply: () => undefined,
  })
  await bumpVersion(app)
}

/** Sets "under attack" on a zone for `ttlSeconds` (replacing an earlier switch). */
export async function setUnderAttack(
  app: App,
  who: string,
  zoneId: string,
  b: z.infer<typeof UnderAttackSet>,
): Promise<Decision> {
  if ((await app.store.get<Zone>('zone', zoneId)) === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find zone "${zoneId}"`)
  const at = app.now()
  return putDecision(app, who, {
    id: `ua:${zoneId}`,
    type: 'under-attack',
    zoneId,
    ...(b.reason !== undefined ? { reason: b.reason } : {}),
    createdAt: at.toISOString(),
    expiresAt: new Date(at.getTime() + b.ttlSeconds * 1000).toISOString(),
  })
}

export async function clearUnderAttack(app: App, who: string, zoneId: string): Promise<void> {
  await removeDecision(app, who, `ua:${zoneId}`, 'under-attack.clear')
}

export async function createBan(
  app: App,
  who: string,
  b: z.infer<typeof BanCreate>,
): Promise<Decision> {
  const prefix = normalisePrefix(b.prefix)
  if (b.zoneId !== undefined && (await app.store.get<Zone>('zone', b.zoneId)) === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find zone "${b.zoneId}"`)
  const at = app.now()
  return putDecision(app, who, {
    id: `ban_${randomBytes(6).toString('hex')}`,
    type: 'ban',
    prefix,
    ...(b.zoneId !== undefined ? { zoneId: b.zoneId } : {}),
    ...(b.reason !== undefined ? { reason: b.reason } : {}),
    createdAt: at.toISOString(),
    expiresAt: new Date(at.getTime() + b.ttlSeconds * 1000).toISOString(),
  })
}

export async function deleteBan(app: App, who: string, id: string): Promise<void> {
  if (!id.startsWith('ban_'))
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find ban "${id}"`)
  await removeDecision(app, who, id, 'ban.delete')
}

/** One answer of the feed: a full snapshot when the version moved past `after`. */
export async function decisionFeed(
  app: App,
  after: number,
  waitMs: number,
  c?: Ctx,
): Promise<DecisionFeed> {
  const deadline = Date.now() + waitMs
  let v = await app.store.counter(VERSION_KEY)
  while (v <= after && c !== undefined && Date.now() < deadline) {
    await state(app).hub.wait(after, deadline - Date.now(), c)
    if (c.req.socket.destroyed) break
    v = await app.store.counter(VERSION_KEY)
  }
  const serverTime = app.now().toISOString()
  if (v <= after) return { version: v, changed: false, serverTime }
  return { version: v, changed: true, serverTime, decisions: await activeDecisions(app) }
}

// ---- routes ----

function actorOf(c: Ctx): string {
  const p = c.principal
  return p === undefined ? 'anonymous' : `${p.tokenId}(${p.name})`
}

function param(c: Ctx, name: string): string {
  return c.params[name] ?? ''
}

const Ok = z.object({ ok: z.literal(true) })

export function protectionRoutes(app: App): Route[] {
  return [
    ...zoneProtectionRoutes(app),
    {
      method: 'GET',
      path: '/v1/decisions',
      tag: 'protection',
      summary: 'Active decisions (under-attack switches and bans) and the feed version',
      scope: 'read',
      response: DecisionFeed,
      handler: () => decisionFeed(app, -1, 0),
    },
    {
      method: 'POST',
      path: '/v1/zones/:id/under-attack',
      tag: 'protection',
      summary: 'Switch "under attack" on for a zone with a TTL (every edge within 5 s)',
      scope: 'orgs:write',
      body: UnderAttackSet,
      response: UnderAttack,
      handler: (c) =>
        setUnderAttack(app, actorOf(c), param(c, 'id'), c.body as z.infer<typeof UnderAttackSet>),
    },
    {
      method: 'DELETE',
      path: '/v1/zones/:id/under-attack',
      tag: 'protection',
      summary: 'Switch "under attack" off for a zone before its TTL',
      scope: 'orgs:write',
      response: Ok,
      handler: async (c) => {
        await clearUnderAttack(app, actorOf(c), param(c, 'id'))
        return { ok: true }
      },
    },
    {
      method: 'GET',
      path: '/v1/bans',
      tag: 'protection',
      summary: 'Active IP/prefix bans',
      scope: 'read',
      response: z.object({ bans: z.array(Ban) }),
      handler: async () => ({
        bans: (await activeDecisions(app)).filter((d) => d.type === 'ban'),
      }),
    },
    {
      method: 'POST',
      path: '/v1/bans',
      tag: 'protection',
      summary: 'Ban an IP or prefix with a TTL, on one zone or all (every edge within 5 s)',
      scope: 'orgs:write',
      status: 201,
      body: BanCreate,
      response: Ban,
      handler: async (c) => {
        const d = await createBan(app, actorOf(c), c.body as z.infer<typeof BanCreate>)
        c.status = 201
        return d
      },
    },
    {
      method: 'DELETE',
      path: '/v1/bans/:id',
      tag: 'protection',
      summary: 'Lift a ban before its TTL',
      scope: 'orgs:write',
      response: Ok,
      handler: async (c) => {
        await deleteBan(app, actorOf(c), param(c, 'id'))
        return { ok: true }
      },
    },
  ]
}

// ---- zone protection config (delivered to edges in the signed bundle) ----

/** A zone's @outpost/protect config: record kind `zone-protection`, id = the zone id. */
export interface ZoneProtection {
  readonly id: string
  readonly config: unknown
  readonly updatedAt: string
}

/** At most this much JSON per zone config (it rides in every bundle). */
export const MAX_ZONE_PROTECTION_BYTES = 64 * 1024

/**
 * Validates with @outpost/protect's schema (the edge parses it the same way) and
 * stores the config as given, so the edge applies its own defaults. Audited
 * (`zone.protection.set`); every change bumps the bundle version, so nodes reload.
 */
export async function setZoneProtection(
  app: App,
  who: string,
  zoneId: string,
  config: unknown,
): Promise<ZoneProtection> {
  if ((await app.store.get<Zone>('zone', zoneId)) === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find zone "${zoneId}"`)
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new ControlError('ERR_CONTROL_VALIDATION', 'protection: expected an object')
  if (Buffer.byteLength(JSON.stringify(config)) > MAX_ZONE_PROTECTION_BYTES)
    throw new ControlError(
      'ERR_CONTROL_VALIDATION',
      `protection: over ${MAX_ZONE_PROTECTION_BYTES} bytes of JSON`,
    )
  try {
    parseProtection(config, 'protection')
  } catch (e) {
    throw new ControlError('ERR_CONTROL_VALIDATION', (e as Error).message)
  }
  const rec: ZoneProtection = { id: zoneId, config, updatedAt: app.now().toISOString() }
  await app.store.mutate<ZoneProtection>({
    actor: who,
    action: 'zone.protection.set',
    kind: 'zone-protection',
    id: zoneId,
    apply: () => rec,
  })
  return rec
}

export async function deleteZoneProtection(app: App, who: string, zoneId: string): Promise<void> {
  if ((await app.store.get<ZoneProtection>('zone-protection', zoneId)) === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Zone "${zoneId}" has no protection config`)
  await app.store.mutate<ZoneProtection>({
    actor: who,
    action: 'zone.protection.delete',
    kind: 'zone-protection',
    id: zoneId,
    apply: () => undefined,
  })
}

/** Zone id → protection config, for the bundle payload. */
export async function zoneProtections(app: App): Promise<Map<string, unknown>> {
  return new Map(
    (await app.store.list<ZoneProtection>('zone-protection')).map((p) => [p.id, p.config]),
  )
}

const ZoneProtectionView = z.object({
  id: z.string(),
  config: z.unknown(),
  updatedAt: z.string(),
})

export function zoneProtectionRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/zones/:id/protection',
      tag: 'protection',
      summary: "A zone's attack-protection config (as delivered in the bundle)",
      scope: 'read',
      response: ZoneProtectionView,
      handler: async (c) => {
        const id = param(c, 'id')
        const p = await app.store.get<ZoneProtection>('zone-protection', id)
        if (p === undefined)
          throw new ControlError('ERR_CONTROL_NOT_FOUND', `Zone "${id}" has no protection config`)
        return p
      },
    },
    {
      method: 'PUT',
      path: '/v1/zones/:id/protection',
      tag: 'protection',
      summary:
        "Set a zone's attack-protection config (@outpost/protect schema); edges apply it on reload",
      scope: 'orgs:write',
      body: z.record(z.string(), z.unknown()),
      response: ZoneProtectionView,
      handler: (c) => setZoneProtection(app, actorOf(c), param(c, 'id'), c.body),
    },
    {
      method: 'DELETE',
      path: '/v1/zones/:id/protection',
      tag: 'protection',
      summary: "Remove a zone's protection config (the edge then serves the zone unprotected)",
      scope: 'orgs:write',
      response: Ok,
      handler: async (c) => {
        await deleteZoneProtection(app, actorOf(c), param(c, 'id'))
        return { ok: true }
      },
    },
  ]
}

/** The node-facing feed; `nodeOf` authenticates the mTLS peer as an active node. */
export function protectionNodeRoutes(app: App, nodeOf: (c: Ctx) => Promise<unknown>): Route[] {
  return [
    {
      method: 'GET',
      path: '/node/v1/decisions',
      tag: 'node',
      summary:
        'Long-poll the decision feed: ?after=VERSION&wait=SECONDS (≤ 30); answers at once on a change (mTLS only)',
      scope: 'public',
      response: DecisionFeed,
      handler: async (c) => {
        await nodeOf(c)
        const after = Number(c.url.searchParams.get('after') ?? '-1')
        const wait = Number(c.url.searchParams.get('wait') ?? '0')
        if (!Number.isInteger(after) || !Number.isFinite(wait) || wait < 0)
          throw new ControlError(
            'ERR_CONTROL_BAD_REQUEST',
            'Cannot read query: "after" must be an integer and "wait" a number of seconds ≥ 0',
          )
        return decisionFeed(app, after, Math.min(wait, MAX_WAIT_SECONDS) * 1000, c)
      },
    },
  ]
}
