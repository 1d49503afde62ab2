/**
 * @module
 * Attack protection for the sites behind the edge: per-zone rules, GCRA rate limits
 * with nginx `limit_req` semantics, allow-lists, a site-wide "under attack" switch,
 * WebCrypto proof-of-work and no-JS challenges, compact HMAC clearance tokens, escalating
 * bans, Privacy Pass redemption, Prometheus metrics, a per-zone timeline and anomaly alerts.
 *
 * Pure and synchronous on the data path: `evaluate()` decides from memory.
 *
 * @example
 * ```ts
 * import { Protection } from '@outpost/protect'
 * const protection = new Protection({ zones: { 'example.org': { rules: [] } } })
 * const d = protection.evaluate({ zone: 'example.org', host, method, path, headers, ip })
 * if (d.kind !== 'pass') { res.writeHead(d.status, d.headers); res.end(d.body) }
 * ```
 */
export {
  Mode,
  Action,
  LimitKey,
  RateLimitSchema,
  MatchSchema,
  RuleSchema,
  AllowSchema,
  ChallengeSchema,
  ClearanceSchema,
  BansSchema,
  UnderAttackSchema,
  PrivacyPassSchema,
  AnomalySchema,
  ProtectionSchema,
  EngineSchema,
  parseProtection,
} from './schema.ts'
export type {
  RateLimit,
  Match,
  Rule,
  Allow,
  Challenge,
  Clearance,
  Bans,
  UnderAttack,
  PrivacyPass,
  Anomaly,
  ProtectionConfig,
  ProtectionInput,
  EngineConfig,
} from './schema.ts'
export type {
  Headers,
  RequestFacts,
  Reason,
  Response,
  Decision,
  ActionClass,
  AllowClass,
  DecisionLogEntry,
  AnomalyAlert,
  TimelineBucket,
} from './types.ts'
export { Protection, safeReturn } from './engine.ts'
export type { ProtectionOptions } from './engine.ts'
export { KeyRing, KEY_BYTES } from './keys.ts'
export type { EpochKey } from './keys.ts'
export { Limiter, SLOT_BYTES } from './limiter.ts'
export type { LimitParams, LimitResult } from './limiter.ts'
export { issueClearance, verifyClearance } from './clearance.ts'
export { Tier, issueChallenge, openChallenge, checkWork, solveWork } from './challenge.ts'
export { AllowList, UA_CLASSES } from './allow.ts'
export { CidrSet, prefixKey } from './ip.ts'
export { wantsHtml } from './pages.ts'
export { Metrics, BUCKET_MS } from './metrics.ts'
export { tokenChallenge, TOKEN_TYPE_BLIND_RSA } from './privacypass.ts'
export { toNodeHandler, writeDecision } from './node.ts'
