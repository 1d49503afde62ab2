/**
 * The protection config of one zone (site), as a zod schema the edge and the control
 * plane embed. Validation errors name the field (`rules.0.rateLimit.rate: ...`), the
 * way @outpost/config reports them.
 *
 * Every rule and the zone itself carry `mode: enforce | log`; in log mode a rule that
 * would block, challenge or limit is counted as "would" and the request passes
 * (attack-protection.md §0.5, AP2).
 */
import { z } from 'zod'

export const Mode = z.enum(['enforce', 'log'])
export type Mode = z.infer<typeof Mode>

export const Action = z.enum(['allow', 'block', 'challenge', 'rate-limit', 'log'])
export type Action = z.infer<typeof Action>

/** What a rate limit counts by. `prefix` is the IPv4 /24 or IPv6 /64 (configurable). */
export const LimitKey = z.enum(['ip', 'prefix', 'zone', 'token', 'header'])
export type LimitKey = z.infer<typeof LimitKey>

const rateString = z
  .string()
  .regex(/^\d+(\.\d+)?r\/(s|m)$/, 'expected a rate like "10r/s" or "30r/m"')
  .transform((s) => {
    const per = s.endsWith('/m') ? 60 : 1
    return Number(s.slice(0, s.indexOf('r'))) / per
  })

/** GCRA limit with nginx `limit_req` semantics (rate, burst, nodelay / delay). */
export const RateLimitSchema = z
  .object({
    /** Requests per second; a number, or a string "10r/s" / "30r/m". */
    rate: z.union([z.number().positive().max(1e6), rateString]),
    burst: z.number().int().min(0).max(1e6).default(0),
    /** nginx `nodelay`: serve the burst at once. Default true (the edge never queues). */
    nodelay: z.boolean().default(true),
    /** nginx `delay=N`: the first N excess requests are served at once, the rest delayed. */
    delay: z.number().int().min(0).optional(),
    key: LimitKey.default('ip'),
    /** Header name for `key: header` (and the token header for `key: token`). */
    header: z.string().min(1).max(64).toLowerCase().optional(),
    status: z.number().int().min(400).max(599).default(429),
  })
  .strict()
  .refine((r) => r.key !== 'header' || r.header !== undefined, {
    message: 'key "header" needs rateLimit.header',
    path: ['header'],
  })
export type RateLimit = z.infer<typeof RateLimitSchema>

export const MatchSchema = z
  .object({
    /** Host names; `*.example.org` matches subdomains. */
    hosts: z.array(z.string().min(1).toLowerCase()).optional(),
    /** Path globs: `*` within a segment, `**` across segments, e.g. `/api/**`. */
    paths: z.array(z.string().startsWith('/', 'a path glob starts with "/"')).optional(),
    methods: z.array(z.string().min(1).toUpperCase()).optional(),
    /** Header name → glob on its value; `true` means "present", `false` "absent". */
    headers: z
      .record(z.string().min(1).toLowerCase(), z.union([z.string(), z.boolean()]))
      .optional(),
    /** Media types of the request body (`Content-Type`), e.g. `application/json`. */
    contentTypes: z.array(z.string().min(1).toLowerCase()).optional(),
  })
  .strict()
export type Match = z.infer<typeof MatchSchema>

export const RuleSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'rule id: lower case letters, digits, "_.-", ≤ 64'),
    description: z.string().max(500).optional(),
    mode: Mode.default('enforce'),
    match: MatchSchema.default({}),
    action: Action,
    rateLimit: RateLimitSchema.optional(),
    /** Status for `block` (default 403). */
    status: z.number().int().min(400).max(599).default(403),
  })
  .strict()
  .refine((r) => r.action !== 'rate-limit' || r.rateLimit !== undefined, {
    message: 'action "rate-limit" needs a rateLimit',
    path: ['rateLimit'],
  })
export type Rule = z.infer<typeof RuleSchema>

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or CIDR like 192.0.2.0/24')

export const AllowSchema = z
  .object({
    /** Addresses that are never challenged, limited or banned. */
    cidrs: z.array(cidr).default([]),
    /**
     * API tokens: SHA-256 hex of accepted bearer tokens (never the tokens themselves).
     * A request with `Authorization: Bearer <t>` (or `header`) whose hash is listed is allowed.
     */
    tokens: z
      .object({
        header: z.string().min(1).toLowerCase().default('authorization'),
        sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 hex')).default([]),
      })
      .strict()
      .default({ header: 'authorization', sha256: [] }),
    /** Bundled UA classes: feed readers, uptime monitors, link previews, git clients. */
    feedReaders: z.boolean().default(true),
    monitors: z.boolean().default(true),
    previews: z.boolean().default(true),
    git: z.boolean().default(true),
    /** Verified crawlers: crawler UA *and* an address in the bundled published ranges. */
    verifiedCrawlers: z.boolean().default(true),
    /** Extra UA substrings (case-insensitive) treated like feed readers. */
    userAgents: z.array(z.string().min(3)).default([]),
  })
  .strict()
export type Allow = z.infer<typeof AllowSchema>

export const ChallengeSchema = z
  .object({
    /** PoW difficulty in leading zero bits of SHA-256 (≤ 16 by default policy; max 24). */
    difficulty: z.number().int().min(0).max(24).default(10),
    /** No-JS tier: timed meta-refresh; the nonce is valid only after `noJsDelaySeconds`. */
    noJs: z.boolean().default(true),
    noJsDelaySeconds: z.number().min(1).max(30).default(2),
    /** How long an issued challenge can be redeemed. */
    ttlSeconds: z.number().int().min(10).max(3600).default(300),
    /** Bound on the single-use redemption cache (entries). */
    replayCacheEntries: z.number().int().min(100).max(10_000_000).default(100_000),
  })
  .strict()
export type Challenge = z.infer<typeof ChallengeSchema>

export const ClearanceSchema = z
  .object({
    /** Lifetime of a clearance cookie; at most one day. */
    ttlSeconds: z.number().int().min(60).max(86_400).default(3600),
    /** Also bind the cookie to the client's /24 (IPv4) or /64 (IPv6). Off: Tor and CGNAT. */
    bindPrefix: z.boolean().default(false),
    cookie: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default('__outpost_clearance'),
    /** Per-token limit (GCRA): one clearance shared by many clients stays within it. */
    perToken: RateLimitSchema.default({
      rate: 20,
      burst: 40,
      nodelay: true,
      key: 'token',
      status: 429,
    }),
  })
  .strict()
export type Clearance = z.infer<typeof ClearanceSchema>

export const BansSchema = z
  .object({
    /** `failures` invalid solutions within `windowSeconds` → ban for `baseSeconds`, doubling. */
    failures: z.number().int().min(1).max(100).default(3),
    windowSeconds: z.number().int().min(1).max(3600).default(10),
    baseSeconds: z.number().int().min(1).max(86_400).default(60),
    maxSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(86_400),
  })
  .strict()
export type Bans = z.infer<typeof BansSchema>

export const UnderAttackSchema = z
  .object({
    /** Challenge every request that is not allow-listed or cleared. */
    enabled: z.boolean().default(false),
    /** When set by config: switch off after this many seconds from load. */
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
    /** Switch on automatically when origin 5xx > `errorRatio` for `forSeconds`. */
    autoTrigger: z
      .object({
        errorRatio: z.number().min(0).max(1),
        forSeconds: z.number().int().min(1).max(3600).default(30),
        minRequests: z.number().int().min(1).default(20),
        ttlSeconds: z.number().int().min(1).max(86_400).default(600),
      })
      .strict()
      .optional(),
  })
  .strict()
export type UnderAttack = z.infer<typeof UnderAttackSchema>

export const PrivacyPassSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Issuer name put in the TokenChallenge (RFC 9577 §2.1). */
    issuerName: z.string().min(1).default('issuer.example'),
    /** Type-2 issuer public keys, base64 SubjectPublicKeyInfo (DER). */
    issuerKeys: z.array(z.string().min(16)).default([]),
    /** RFC 9577 redemption is off while "under attack" unless this is set. */
    duringAttack: z.boolean().default(false),
  })
  .strict()
export type PrivacyPass = z.infer<typeof PrivacyPassSchema>

export const AnomalySchema = z
  .object({
    /** z-score above the zone's norm (per 10 s bucket) that fires an alert. */
    z: z.number().positive().default(3.5),
    /** Minimum requests in a bucket before an alert can fire. */
    minRequests: z.number().int().min(1).default(200),
    /** One alert per zone per window. */
    dedupSeconds: z.number().int().min(1).default(7200),
    webhook: z.url().optional(),
  })
  .strict()
export type Anomaly = z.infer<typeof AnomalySchema>

/** One zone's protection. Everything has a default: `{}` is a valid, permissive config. */
export const ProtectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** `log` makes every rule of the zone log-only. */
    mode: Mode.default('enforce'),
    rules: z.array(RuleSchema).max(1000).default([]),
    allow: AllowSchema.default(AllowSchema.parse({})),
    challenge: ChallengeSchema.default(ChallengeSchema.parse({})),
    clearance: ClearanceSchema.default(ClearanceSchema.parse({})),
    bans: BansSchema.default(BansSchema.parse({})),
    underAttack: UnderAttackSchema.default(UnderAttackSchema.parse({})),
    privacyPass: PrivacyPassSchema.default(PrivacyPassSchema.parse({})),
    anomaly: AnomalySchema.default(AnomalySchema.parse({})),
    /** IPv4/IPv6 prefix lengths for `key: prefix` and prefix binding. */
    prefix: z
      .object({
        v4: z.number().int().min(8).max(32).default(24),
        v6: z.number().int().min(16).max(128).default(64),
      })
      .strict()
      .default({ v4: 24, v6: 64 }),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>()
    p.rules.forEach((r, i) => {
      if (seen.has(r.id))
        ctx.addIssue({
          code: 'custom',
          message: `duplicate rule id "${r.id}"`,
          path: ['rules', i, 'id'],
        })
      seen.add(r.id)
    })
  })
export type ProtectionConfig = z.infer<typeof ProtectionSchema>
export type ProtectionInput = z.input<typeof ProtectionSchema>

/** Engine-wide settings (not per zone). */
export const EngineSchema = z
  .object({
    /** Byte budget of all rate-limiter state (LRU eviction beyond it). */
    limiterBytes: z
      .number()
      .int()
      .min(4096)
      .max(4 * 1024 ** 3)
      .default(16 * 1024 * 1024),
    /** Path prefix of the challenge endpoints. */
    routePrefix: z.string().startsWith('/').default('/.outpost/challenge/'),
    /** Timeline buckets kept per zone (10 s each). */
    timelineBuckets: z.number().int().min(6).max(100_000).default(360),
  })
  .strict()
export type EngineConfig = z.infer<typeof EngineSchema>

/** Parses a zone config, throwing an Error whose message names each bad field. */
export function parseProtection(raw: unknown, where = 'protection'): ProtectionConfig {
  const r = ProtectionSchema.safeParse(raw ?? {})
  if (r.success) return r.data
  const problems = r.error.issues.map(
    (i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`,
  )
  throw new Error(`invalid protection config:\n  ${problems.join('\n  ')}`)
}
