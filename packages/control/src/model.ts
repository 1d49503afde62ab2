/**
 * The control-plane model as zod schemas: the API validates requests with
 * them and the OpenAPI document is generated from them. Field names of key
 * policies match the key server's KeyPolicy so a policy can be handed over
 * as is.
 */
import { z } from 'zod'

export const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'Expected an id like "acme" or "edge-1"')
export const regionId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'Expected a region like "eu-east"')
export const country = z
  .string()
  .regex(/^[A-Z]{2}$/, 'Expected an ISO 3166-1 alpha-2 country code like "DE"')
export const hostname = z
  .string()
  .regex(
    /^(localhost|(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/,
    'Expected a lower-case DNS name like "www.example.com" (or "localhost")',
  )

export const PLANS = ['free', 'pro', 'business', 'protected'] as const
/** Plans that cost money; `protected` (price zero, for at-risk organisations) is not one. */
export const PAID_PLANS: readonly string[] = ['pro', 'business']
export const ORG_STATUSES = ['active', 'suspended', 'pending-review', 'blocked'] as const

export const Org = z.object({
  id,
  name: z.string().min(1).max(200),
  type: z.enum(['organization', 'person']),
  country,
  region: regionId,
  plan: z.enum(PLANS),
  status: z.enum(ORG_STATUSES),
  statusReasons: z.array(z.string()),
  createdAt: z.string(),
})
export type Org = z.infer<typeof Org>

export const OrgCreate = z
  .object({
    id,
    name: z.string().min(1).max(200),
    type: z.enum(['organization', 'person']).default('organization'),
    country,
    region: regionId,
    plan: z.enum(PLANS).default('free'),
  })
  .strict()

export const OrgUpdate = z
  .object({
    name: z.string().min(1).max(200).optional(),
    plan: z.enum(PLANS).optional(),
    status: z.enum(['active', 'suspended']).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict()

export const Zone = z.object({
  id,
  orgId: id,
  hostnames: z.array(hostname).min(1),
  origin: z.url(),
  certificateChain: z.string(),
  policyId: id.optional(),
  createdAt: z.string(),
})
export type Zone = z.infer<typeof Zone>

export const ZoneCreate = z
  .object({
    id,
    orgId: id,
    hostnames: z.array(hostname).min(1).max(100),
    origin: z.url(),
    /** PEM certificates only; anything that looks like a private key is refused. */
    certificateChain: z
      .string()
      .max(64 * 1024)
      .default(''),
    policyId: id.optional(),
  })
  .strict()

export const KeyPolicy = z.object({
  id,
  name: z.string().min(1).max(200),
  allowRegions: z.array(regionId).optional(),
  denyRegions: z.array(regionId).optional(),
  allowCountries: z.array(country).optional(),
  denyCountries: z.array(country).optional(),
  allowServerNames: z.array(hostname).optional(),
})
export type KeyPolicy = z.infer<typeof KeyPolicy>
export const KeyPolicyCreate = KeyPolicy.strict()

export const RISKS = ['low', 'elevated', 'high', 'critical'] as const
export const Region = z.object({
  id: regionId,
  name: z.string().min(1).max(200),
  country,
  risk: z.enum(RISKS),
  noNewPaidPlans: z.boolean(),
  leaseGraceSeconds: z.number().int().min(5).max(86_400),
  stekRetentionSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400),
  rebootNeedsReadmission: z.boolean(),
})
export type Region = z.infer<typeof Region>
export const RegionPut = z
  .object({
    name: z.string().min(1).max(200),
    country,
    risk: z.enum(RISKS).default('low'),
    noNewPaidPlans: z.boolean().default(false),
    leaseGraceSeconds: z.number().int().min(5).max(86_400).default(30),
    stekRetentionSeconds: z
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .default(64_800),
    rebootNeedsReadmission: z.boolean().default(true),
  })
  .strict()

export const NODE_STATES = ['pending', 'active', 'revoked', 'bricked'] as const
export const Node = z.object({
  id,
  region: regionId,
  country,
  state: z.enum(NODE_STATES),
  /** SHA-256 hex of the one-time enrolment token, cleared once used. */
  enrolTokenHash: z.string().optional(),
  certificateSerial: z.string().optional(),
  certificateNotAfter: z.string().optional(),
  /** One boot unlock (Tang recovery) is approved: set at enrolment and by re-admission, used by the unlock. */
  unlockApproved: z.boolean().optional(),
  createdAt: z.string(),
})
export type Node = z.infer<typeof Node>
export const NodeCreate = z.object({ id, region: regionId }).strict()
/** The API's view of a node: no token hash, plus the last lease. */
export const NodeView = Node.omit({ enrolTokenHash: true }).extend({
  lastLease: z.string().optional(),
})

export const Enrol = z
  .object({
    nodeId: id,
    token: z.string().min(16).max(200),
    /** PKCS#10 PEM. */
    csr: z.string().max(16 * 1024),
  })
  .strict()

export const Review = z.object({
  id,
  orgId: id,
  status: z.enum(['open', 'confirmed', 'dismissed']),
  listVersions: z.array(z.string()),
  matches: z.array(z.unknown()),
  createdAt: z.string(),
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
})
export type Review = z.infer<typeof Review>

export const ScreenQuery = z
  .object({
    name: z.string().min(1).max(500),
    type: z.enum(['person', 'organization']),
    country: country.optional(),
    dob: z
      .string()
      .regex(/^\d{4}(-\d{2}-\d{2})?$/, 'Expected YYYY or YYYY-MM-DD')
      .optional(),
  })
  .strict()

export const TokenCreate = z
  .object({
    name: z.string().min(1).max(100),
    scopes: z.array(z.enum(['admin', 'read', 'nodes:write', 'orgs:write', 'screening'])).min(1),
  })
  .strict()

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) })
