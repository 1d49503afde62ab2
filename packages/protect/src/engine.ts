/**
 * The protection engine: one synchronous `evaluate()` per request.
 *
 *   challenge route? ─► handleChallengeRoute (verify PoW / no-JS, issue clearance)
 *   allow-listed?    ─► verified classes skip every rule; UA classes skip challenges
 *   banned?          ─► 403 + Retry-After
 *   rules in order   ─► allow (stop) · log (count) · block · challenge · rate-limit
 *                       (log mode: count "would …" and go on)
 *   under attack?    ─► challenge unless cleared (or a Privacy Pass token redeems)
 *   cleared?         ─► per-token rate limit
 *   pass
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { Bans, ReplayCache, Tier, checkWork, issueChallenge, openChallenge } from './challenge.ts'
import { issueClearance, verifyClearance } from './clearance.ts'
import { AllowList, type AllowMatch } from './allow.ts'
import { ipBytes, prefixKey } from './ip.ts'
import { KeyRing } from './keys.ts'
import { Limiter, type LimitParams } from './limiter.ts'
import { compileMatch, header, type Matcher, type Req } from './match.ts'
import { Metrics, type Outcome } from './metrics.ts'
import {
  bannedResponse,
  blockResponse,
  challengeResponse,
  failedResponse,
  limitResponse,
  tooEarlyResponse,
  wantsHtml,
} from './pages.ts'
import {
  issuerFromSpki,
  parseAuthorization,
  tokenChallenge,
  verifyToken,
  wwwAuthenticate,
  type Issuer,
} from './privacypass.ts'
import {
  EngineSchema,
  parseProtection,
  type EngineConfig,
  type ProtectionConfig,
  type RateLimit,
  type Rule,
} from './schema.ts'
import type {
  ActionClass,
  AnomalyAlert,
  Decision,
  DecisionLogEntry,
  Headers,
  Reason,
  RequestFacts,
  Response,
} from './types.ts'

export interface ProtectionOptions {
  /** Zone name → config. */
  readonly zones?: Readonly<Record<string, unknown>>
  /** Config for zones not listed (default: `{}`, permissive). Validated like zones. */
  readonly defaults?: unknown
  readonly engine?: Partial<EngineConfig>
  /** Clearance/challenge keys; share one ring (same key material) across edges. */
  readonly keys?: KeyRing
  /** Key for the decision-log client hash (random per process by default). */
  readonly logKey?: Uint8Array
  readonly onDecision?: (e: DecisionLogEntry) => void
  readonly onAlert?: (a: AnomalyAlert) => void
  readonly onError?: (e: unknown, what: string) => void
  readonly now?: () => number
}

interface CompiledRule {
  readonly rule: Rule
  readonly match: Matcher
  readonly limit?: LimitParams
  readonly limitCfg?: RateLimit
  /**
   * This rule's 429 decisions, built once per (Retry-After, HTML or JSON) and
   * reused: a flood's rejects allocate nothing here. Bounded (cleared when full).
   */
  readonly rejects?: Map<number, Decision>
}

/** Distinct Retry-After values kept per rule before its decision cache is cleared. */
const MAX_CACHED_REJECTS = 256

interface ZoneRuntime {
  readonly name: string
  readonly cfg: ProtectionConfig
  readonly rules: readonly CompiledRule[]
  readonly allow: AllowList
  readonly perToken: LimitParams
  readonly issuers: readonly Issuer[]
  readonly ppChallenge: Buffer
  readonly ppDigest: Buffer
  underAttackUntil: number
  /** Origin health for the auto-trigger: per-second [total, errors]. */
  readonly health: { sec: number; total: number; errors: number }[]
}

const params = (r: RateLimit): LimitParams => {
  const rate = typeof r.rate === 'number' ? r.rate : Number(r.rate)
  return { rate, burst: r.burst, delay: r.nodelay ? r.burst : (r.delay ?? 0) }
}

const PASS: Decision = { kind: 'pass', delayMs: 0 }

export class Protection {
  readonly keys: KeyRing
  readonly metrics: Metrics
  readonly limiter: Limiter
  readonly engine: EngineConfig
  readonly #zones = new Map<string, ZoneRuntime>()
  /** Zones configured explicitly (the others follow the defaults). */
  readonly #explicit = new Set<string>()
  #defaults: ProtectionConfig
  readonly #o: ProtectionOptions
  readonly #now: () => number
  readonly #replay: ReplayCache
  readonly #bans = new Bans()
  /** Prefix bans from the control plane: masked prefix key → entries (zone undefined = all). */
  #prefixBans = new Map<string, readonly { zone: string | undefined; until: number }[]>()
  #prefixLens: { v4: number[]; v6: number[] } = { v4: [], v6: [] }
  readonly #listeners = new Set<(e: DecisionLogEntry) => void>()
  readonly #logKey: Buffer

  constructor(o: ProtectionOptions = {}) {
    this.#o = o
    this.#now = o.now ?? Date.now
    this.engine = EngineSchema.parse(o.engine ?? {})
    this.keys = o.keys ?? new KeyRing()
    this.limiter = new Limiter(this.engine.limiterBytes)
    this.#defaults = parseProtection(o.defaults ?? {}, 'defaults')
    this.#logKey = Buffer.from(o.logKey ?? randomBytes(32))
    this.#replay = new ReplayCache(this.#defaults.challenge.replayCacheEntries)
    this.metrics = new Metrics(
      this.engine.timelineBuckets,
      (zone) => this.#zone(zone).cfg.anomaly,
      (a) => {
        this.#alert(a)
      },
    )
    for (const [name, cfg] of Object.entries(o.zones ?? {})) this.setZone(name, cfg)
  }

  /** Installs or replaces a zone's config (validated; errors name the field). */
  setZone(name: string, raw: unknown): void {
    const cfg = parseProtection(raw, `zones.${name}`)
    const prev = this.#zones.get(name)
    this.#zones.set(name, this.#compile(name, cfg, prev))
    this.#explicit.add(name)
  }

  setDefaults(raw: unknown): void {
    this.#defaults = parseProtection(raw, 'defaults')
    for (const [name, z] of this.#zones)
      if (!this.#explicit.has(name)) this.#zones.set(name, this.#compile(name, this.#defaults, z))
  }

  removeZone(name: string): void {
    this.#zones.delete(name)
    this.#explicit.delete(name)
  }

  /** Switches "under attack" on until `untilMs` (0 switches it off). */
  setUnderAttack(zone: string, untilMs: number): void {
    this.#zone(zone).underAttackUntil = untilMs
  }

  underAttack(zone: string, now = this.#now()): boolean {
    return this.#zone(zone).underAttackUntil > now
  }

  /** Bans an address (a decision from the control plane) until `untilMs`. */
  ban(ip: string, untilMs: number): void {
    this.#bans.set(ip, untilMs)
  }

  unban(ip: string): void {
    this.#bans.lift(ip)
  }

  /**
   * Replaces the set of prefix bans (decisions from the control plane): `prefix` is
   * `ADDRESS/LENGTH`, `zone` undefined bans on every zone, `untilMs` ends the ban.
   */
  setPrefixBans(bans: readonly { prefix: string; zone?: string; untilMs: number }[]): void {
    const map = new Map<string, { zone: string | undefined; until: number }[]>()
    const v4 = new Set<number>()
    const v6 = new Set<number>()
    for (const b of bans) {
      const [addr = '', lenText = ''] = b.prefix.split('/')
      const bytes = ipBytes(addr)
      const len = Number(lenText)
      if (bytes === undefined || !Number.isInteger(len) || len < 0 || len > bytes.length * 8)
        throw new TypeError(`Cannot ban "${b.prefix}": expected ADDRESS/LENGTH`)
      ;(bytes.length === 4 ? v4 : v6).add(len)
      const key = prefixKey(addr, len, len)
      const list = map.get(key) ?? []
      list.push({ zone: b.zone, until: b.untilMs })
      map.set(key, list)
    }
    this.#prefixBans = map
    this.#prefixLens = { v4: [...v4], v6: [...v6] }
  }

  /** Adds a decision-log listener beside `onDecision` (e.g. the stats sync); returns its remover. */
  onDecisionLog(fn: (e: DecisionLogEntry) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** Keyed hash of a client address, as decision logs carry it (AP20). */
  clientHash(ip: string): string {
    return createHmac('sha256', this.#logKey).update(ip).digest('hex').slice(0, 16)
  }

  /** Feeds origin response statuses to the "under attack" auto-trigger. */
  observeResponse(zone: string, status: number, now = this.#now()): void {
    const z = this.#zone(zone)
    const t = z.cfg.underAttack.autoTrigger
    if (t === undefined) return
    const sec = Math.floor(now / 1000)
    let last = z.health[z.health.length - 1]
    if (last?.sec !== sec) {
      last = { sec, total: 0, errors: 0 }
      z.health.push(last)
      while ((z.health[0]?.sec ?? sec) <= sec - t.forSeconds) z.health.shift()
    }
    last.total++
    if (status >= 500) last.errors++
    if (z.underAttackUntil > now) return
    const first = z.health[0]
    // Every second of the window must be over the ratio (a sustained error rate).
    if (first === undefined || z.health.length < t.forSeconds) return
    let total = 0
    for (const h of z.health) {
      if (h.total === 0 || h.errors / h.total <= t.errorRatio) return
      total += h.total
    }
    if (total < t.minRequests) return
    z.underAttackUntil = now + t.ttlSeconds * 1000
  }

  /** Decides one request. Synchronous and allocation-light on the reject path. */
  evaluate(f: RequestFacts): Decision {
    const z = this.#zone(f.zone)
    if (!z.cfg.enabled) return PASS
    const now = f.now ?? this.#now()
    const q = f.path.indexOf('?')
    const path = q < 0 ? f.path : f.path.slice(0, q)
    if (path.startsWith(this.engine.routePrefix)) return this.handleChallengeRoute(f)
    const ua = header(f.headers, 'user-agent') ?? ''
    const allow = z.allow.match(f.ip, ua, f.headers)
    if (allow === undefined) {
      const until = this.#bannedUntil(z.name, f.ip, now)
      if (until > 0) {
        this.#count(z, f, now, 'ban', 'block', 'reject')
        return this.#respond(
          'respond',
          'banned',
          undefined,
          bannedResponse(f.headers, Math.ceil((until - now) / 1000)),
        )
      }
    }
    const req: Req = { host: f.host, method: f.method, path, headers: f.headers }
    let delayMs = 0
    /** Clearance token id: undefined = not looked at yet, '' = none or invalid. */
    let token: string | undefined
    const logOnly = z.cfg.mode === 'log'
    for (const c of z.rules) {
      const r = c.rule
      if (allow?.verified === true && r.action !== 'log' && r.action !== 'allow') continue
      if (!c.match(req)) continue
      const enforce = !logOnly && r.mode === 'enforce'
      switch (r.action) {
        case 'allow':
          this.#count(z, f, now, r.id, 'allow', 'allow')
          return PASS
        case 'log':
          this.metrics.would(z.name, r.id, 'log', now)
          continue
        case 'block':
          if (!enforce) {
            this.#would(z, f, now, r.id, 'block')
            continue
          }
          this.#count(z, f, now, r.id, 'block', 'reject')
          return this.#respond('respond', 'rule-block', r.id, blockResponse(f.headers, r.status))
        case 'challenge': {
          if (allow !== undefined) continue
          token ??= this.#cleared(z, f, ua, now)
          if (token !== '') continue
          if (!enforce) {
            this.#would(z, f, now, r.id, 'challenge')
            continue
          }
          const d = this.#challengeOrRedeem(z, f, ua, now, r.id, 'challenge')
          if (d !== undefined) return d
          continue
        }
        case 'rate-limit': {
          const lc = c.limitCfg
          const lp = c.limit
          if (lc === undefined || lp === undefined) continue
          const key = this.#limitKey(z, r.id, lc, f)
          if (key === undefined) continue
          const res = this.limiter.take(key, lp, now)
          if (res.ok) {
            if (enforce) delayMs = Math.max(delayMs, res.delayMs)
            continue
          }
          if (!enforce) {
            this.#would(z, f, now, r.id, 'block')
            continue
          }
          this.#count(z, f, now, r.id, 'rate-limit', 'reject')
          return this.#limitDecision(c, lc, f.headers, res.retryAfterS)
        }
      }
    }
    if (allow === undefined && z.underAttackUntil > now) {
      token ??= this.#cleared(z, f, ua, now)
      if (token === '') {
        if (logOnly) this.#would(z, f, now, 'under-attack', 'challenge')
        else {
          const d = this.#challengeOrRedeem(z, f, ua, now, 'under-attack', 'under-attack')
          if (d !== undefined) return d
        }
      }
    }
    if (token !== undefined && token !== '') {
      const res = this.limiter.take(`tok:${token}`, z.perToken, now)
      if (!res.ok && !logOnly) {
        this.#count(z, f, now, 'clearance', 'rate-limit', 'reject')
        return this.#respond(
          'respond',
          'token-rate-limit',
          'clearance',
          limitResponse(f.headers, z.cfg.clearance.perToken.status, res.retryAfterS),
        )
      }
    }
    this.#count(
      z,
      f,
      now,
      '-',
      allow !== undefined ? 'allow' : 'pass',
      allow !== undefined ? 'allow' : 'pass',
    )
    if (delayMs > 0 || allow !== undefined)
      return allow === undefined
        ? { kind: 'pass', delayMs }
        : { kind: 'pass', delayMs, allowed: allow.cls }
    return PASS
  }

  /**
   * The challenge endpoints under `routePrefix` (default `/.outpost/challenge/`):
   * `verify?c=&n=&r=` (proof of work) and `nojs?c=&r=` (timed meta refresh). Success
   * sets the clearance cookie and redirects (303) to `r`, a same-site path.
   */
  handleChallengeRoute(f: RequestFacts): Decision {
    const z = this.#zone(f.zone)
    const now = f.now ?? this.#now()
    const url = new URL(f.path, 'http://x')
    const sub = url.pathname.slice(this.engine.routePrefix.length)
    const back = safeReturn(url.searchParams.get('r'))
    const ua = header(f.headers, 'user-agent') ?? ''
    const allow = z.allow.match(f.ip, ua, f.headers)
    if (allow === undefined) {
      const until = this.#bannedUntil(z.name, f.ip, now)
      if (until > 0)
        return this.#respond(
          'respond',
          'banned',
          undefined,
          bannedResponse(f.headers, Math.ceil((until - now) / 1000)),
        )
    }
    if (sub !== 'verify' && sub !== 'nojs')
      return this.#respond('respond', 'challenge-route', undefined, {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: Buffer.from('not found\n'),
      })
    const c = url.searchParams.get('c') ?? ''
    const ttlMs = z.cfg.challenge.ttlSeconds * 1000
    const opened = openChallenge(this.keys, c, { zone: z.name, userAgent: ua }, now, ttlMs)
    const fail = (): Decision => {
      if (allow === undefined) {
        const until = this.#bans.fail(f.ip, now, z.cfg.bans)
        if (until > 0) {
          this.metrics.banned(z.name)
          this.#log(z, f, now, 'challenge-failed', 'ban')
        }
      }
      this.metrics.record(z.name, 'challenge', 'failed', 'reject', now)
      return this.#respond('respond', 'challenge-route', undefined, failedResponse(f.headers, back))
    }
    if (!opened.ok) {
      if (opened.why === 'expired') return redirect(back, undefined)
      return fail()
    }
    if (sub === 'verify') {
      if (
        opened.tier !== Tier.pow ||
        !checkWork(c, url.searchParams.get('n') ?? '', opened.difficulty)
      )
        return fail()
    } else {
      if (opened.tier !== Tier.noJs) return fail()
      const delay = z.cfg.challenge.noJsDelaySeconds
      if (now - opened.issued < delay * 1000) {
        this.metrics.record(z.name, 'challenge', 'too-early', 'reject', now)
        return this.#respond('respond', 'challenge-route', undefined, tooEarlyResponse(back, delay))
      }
    }
    if (!this.#replay.claim(opened.nonce, opened.issued + ttlMs, now)) return fail()
    this.metrics.solved(
      z.name,
      sub === 'verify' ? 'pow' : 'nojs',
      Math.max(0, now - opened.issued) / 1000,
    )
    this.metrics.record(
      z.name,
      'challenge',
      sub === 'verify' ? 'solved' : 'solved-nojs',
      'pass',
      now,
    )
    return redirect(back, this.#cookie(z, f, ua, now))
  }

  /** Prometheus text for every zone, plus limiter gauges. */
  prometheus(): string {
    return this.metrics.prometheus([
      '# HELP outpost_protect_limiter_keys Keys held by the rate limiter.',
      '# TYPE outpost_protect_limiter_keys gauge',
      `outpost_protect_limiter_keys ${this.limiter.size}`,
      '# HELP outpost_protect_limiter_bytes Byte budget of the rate limiter.',
      '# TYPE outpost_protect_limiter_bytes gauge',
      `outpost_protect_limiter_bytes ${this.limiter.bytes}`,
      '# HELP outpost_protect_limiter_evictions_total Keys evicted (LRU) from the rate limiter.',
      '# TYPE outpost_protect_limiter_evictions_total counter',
      `outpost_protect_limiter_evictions_total ${this.limiter.evictions}`,
    ])
  }

  // --- internals -------------------------------------------------------------------

  /** The latest end of a ban on `ip` in `zone` (challenge-failure or prefix ban), or 0. */
  #bannedUntil(zone: string, ip: string, now: number): number {
    let until = this.#bans.bannedUntil(ip, now)
    if (this.#prefixBans.size === 0) return until
    const b = ipBytes(ip)
    if (b === undefined) return until
    for (const len of b.length === 4 ? this.#prefixLens.v4 : this.#prefixLens.v6) {
      for (const e of this.#prefixBans.get(prefixKey(ip, len, len)) ?? [])
        if (e.until > now && (e.zone === undefined || e.zone === zone))
          until = Math.max(until, e.until)
    }
    return until
  }

  /** The id of a valid clearance cookie, or ''. */
  #cleared(z: ZoneRuntime, f: RequestFacts, ua: string, now: number): string {
    const token = cookieValue(f.headers, z.cfg.clearance.cookie)
    if (token === undefined) return ''
    const v = verifyClearance(
      this.keys,
      token,
      { zone: z.name, userAgent: ua, prefix: prefixKey(f.ip, z.cfg.prefix.v4, z.cfg.prefix.v6) },
      now,
    )
    return v.ok ? v.id : ''
  }

  #challengeOrRedeem(
    z: ZoneRuntime,
    f: RequestFacts,
    ua: string,
    now: number,
    rule: string,
    reason: Reason,
  ): Decision | undefined {
    const pp = z.cfg.privacyPass
    const ppOn =
      pp.enabled && z.issuers.length > 0 && (z.underAttackUntil <= now || pp.duringAttack)
    if (ppOn) {
      const token = parseAuthorization(header(f.headers, 'authorization'))
      if (token !== undefined) {
        const r = verifyToken(token, z.ppDigest, z.issuers)
        if (
          r.ok &&
          this.#replay.claim(`pp:${r.nonce}`, now + z.cfg.challenge.ttlSeconds * 1000, now)
        ) {
          this.#count(z, f, now, 'privacy-pass', 'allow', 'allow')
          return undefined
        }
      }
    }
    this.#count(z, f, now, rule, 'challenge', 'challenge')
    const q = f.path
    const back = encodeURIComponent(safeReturn(q))
    const prefix = this.engine.routePrefix
    const cz = { zone: z.name, userAgent: ua }
    const ch = z.cfg.challenge
    const c = wantsHtml(f.headers)
      ? issueChallenge(this.keys, cz, Tier.pow, ch.difficulty, now)
      : ''
    const extra: Record<string, string> = {}
    const issuer = z.issuers[0]
    if (ppOn && issuer !== undefined)
      extra['www-authenticate'] = wwwAuthenticate(z.ppChallenge, issuer)
    return this.#respond(
      'challenge',
      reason,
      rule,
      challengeResponse(f.headers, {
        c,
        difficulty: ch.difficulty,
        verifyUrl: `${prefix}verify?c=${c}&r=${back}`,
        ...(ch.noJs && c !== ''
          ? {
              noJs: {
                url: `${prefix}nojs?c=${issueChallenge(this.keys, cz, Tier.noJs, 0, now)}&r=${back}`,
                delaySeconds: ch.noJsDelaySeconds,
              },
            }
          : {}),
        extraHeaders: extra,
      }),
    )
  }

  #cookie(z: ZoneRuntime, f: RequestFacts, ua: string, now: number): string {
    const cl = z.cfg.clearance
    const token = issueClearance(
      this.keys,
      {
        zone: z.name,
        userAgent: ua,
        ...(cl.bindPrefix ? { prefix: prefixKey(f.ip, z.cfg.prefix.v4, z.cfg.prefix.v6) } : {}),
      },
      now,
      cl.ttlSeconds,
    )
    return `${cl.cookie}=${token}; Path=/; Max-Age=${cl.ttlSeconds}; HttpOnly; SameSite=Lax${f.secure === true ? '; Secure' : ''}`
  }

  #limitKey(z: ZoneRuntime, rule: string, l: RateLimit, f: RequestFacts): string | undefined {
    switch (l.key) {
      case 'ip':
        return `${z.name}|${rule}|${f.ip}`
      case 'prefix':
        return `${z.name}|${rule}|${prefixKey(f.ip, z.cfg.prefix.v4, z.cfg.prefix.v6)}`
      case 'zone':
        return `${z.name}|${rule}`
      case 'token': {
        const v = header(f.headers, l.header ?? 'authorization')
        return v === undefined ? undefined : `${z.name}|${rule}|t:${v}`
      }
      case 'header': {
        const v = header(f.headers, l.header ?? '')
        return v === undefined ? undefined : `${z.name}|${rule}|h:${v}`
      }
    }
  }

  #count(
    z: ZoneRuntime,
    f: RequestFacts,
    now: number,
    rule: string,
    action: string,
    outcome: Outcome,
  ): void {
    this.metrics.record(z.name, rule, action, outcome, now)
    if (
      outcome !== 'pass' &&
      outcome !== 'allow' &&
      (this.#o.onDecision !== undefined || this.#listeners.size > 0)
    )
      this.#log(z, f, now, rule, action as ActionClass)
  }

  #would(
    z: ZoneRuntime,
    f: RequestFacts,
    now: number,
    rule: string,
    would: 'block' | 'challenge',
  ): void {
    this.metrics.would(z.name, rule, would, now)
    if (this.#o.onDecision !== undefined || this.#listeners.size > 0)
      this.#log(z, f, now, rule, 'pass', would)
  }

  #log(
    z: ZoneRuntime,
    f: RequestFacts,
    now: number,
    rule: string,
    action: ActionClass | 'ban',
    would?: 'block' | 'challenge',
  ): void {
    const q = f.path.indexOf('?')
    const e: DecisionLogEntry = {
      time: now,
      zone: z.name,
      client: this.clientHash(f.ip),
      method: f.method,
      path: q < 0 ? f.path : f.path.slice(0, q),
      rule,
      action,
      ...(would !== undefined ? { would } : {}),
    }
    this.#o.onDecision?.(e)
    for (const fn of this.#listeners) fn(e)
  }

  /** The cached 429 (or the rule's status) decision for one Retry-After value. */
  #limitDecision(c: CompiledRule, lc: RateLimit, h: Headers, retryAfterS: number): Decision {
    const html = wantsHtml(h)
    const cache = c.rejects
    const k = retryAfterS * 2 + (html ? 1 : 0)
    let d = cache?.get(k)
    if (d === undefined) {
      d = this.#respond(
        'respond',
        'rate-limit',
        c.rule.id,
        limitResponse(h, lc.status, retryAfterS),
      )
      if (cache !== undefined) {
        if (cache.size >= MAX_CACHED_REJECTS) cache.clear()
        cache.set(k, d)
      }
    }
    return d
  }

  #respond(
    kind: 'respond' | 'challenge',
    reason: Reason,
    rule: string | undefined,
    r: Response,
  ): Decision {
    return rule === undefined ? { kind, reason, ...r } : { kind, reason, rule, ...r }
  }

  #alert(a: AnomalyAlert): void {
    this.#o.onAlert?.(a)
    const hook = this.#zone(a.zone).cfg.anomaly.webhook
    if (hook === undefined) return
    fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'outpost.protect.anomaly', ...a }),
      signal: AbortSignal.timeout(5000),
    })
      .then((r) => r.body?.cancel())
      .catch((e: unknown) => this.#o.onError?.(e, 'webhook'))
  }

  #zone(name: string): ZoneRuntime {
    let z = this.#zones.get(name)
    if (z === undefined) {
      z = this.#compile(name, this.#defaults, undefined)
      this.#zones.set(name, z)
    }
    return z
  }

  #compile(name: string, cfg: ProtectionConfig, prev: ZoneRuntime | undefined): ZoneRuntime {
    const ppChallenge = tokenChallenge(cfg.privacyPass.issuerName, name)
    const ua = cfg.underAttack
    return {
      name,
      cfg,
      rules: cfg.rules.map((rule) => ({
        rule,
        match: compileMatch(rule.match),
        ...(rule.rateLimit !== undefined
          ? {
              limit: params(rule.rateLimit),
              limitCfg: rule.rateLimit,
              rejects: new Map<number, Decision>(),
            }
          : {}),
      })),
      allow: new AllowList(cfg.allow),
      perToken: params(cfg.clearance.perToken),
      issuers: cfg.privacyPass.enabled
        ? cfg.privacyPass.issuerKeys.map((k) => issuerFromSpki(k))
        : [],
      ppChallenge,
      ppDigest: createHash('sha256').update(ppChallenge).digest(),
      underAttackUntil: ua.enabled
        ? ua.ttlSeconds === undefined
          ? Number.POSITIVE_INFINITY
          : this.#now() + ua.ttlSeconds * 1000
        : (prev?.underAttackUntil ?? 0),
      health: [],
    }
  }
}

function cookieValue(h: Headers, name: string): string | undefined {
  const raw = h['cookie']
  const s = typeof raw === 'string' ? raw : raw?.join('; ')
  if (s === undefined) return undefined
  const at = s.indexOf(`${name}=`)
  if (at < 0 || (at > 0 && s[at - 1] !== ' ' && s[at - 1] !== ';')) return undefined
  const end = s.indexOf(';', at)
  return s.slice(at + name.length + 1, end < 0 ? undefined : end).trim()
}

/** A same-site return path: starts with one "/", no scheme or authority (no open redirect). */
export function safeReturn(r: string | null): string {
  if (r === null || !r.startsWith('/') || r.startsWith('//') || r.includes('\\')) return '/'
  for (let i = 0; i < r.length; i++) if (r.charCodeAt(i) < 0x20) return '/'
  return r
}

function redirect(to: string, cookie: string | undefined): Decision {
  return {
    kind: 'respond',
    reason: 'challenge-route',
    status: 303,
    headers: {
      location: to,
      'cache-control': 'no-store',
      'content-type': 'text/plain; charset=utf-8',
      ...(cookie !== undefined ? { 'set-cookie': cookie } : {}),
    },
    body: Buffer.from(`See ${to}\n`),
  }
}

export type { AllowMatch }
