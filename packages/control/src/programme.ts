/**
 * The free programme for at-risk organisations (attack-protection.md §2 and
 * §7 AP19): plan `protected` at price zero. An application moves
 *
 *   submitted → partner_review → screening → (review_hold →) screened → approved → active
 *
 * (or `rejected`), every step one audited `store.mutate`. `partner_review` is
 * a referral: a compact JWS (RFC 7515 §7.1, alg EdDSA per RFC 8037) signed by
 * a partner an admin registered with its Ed25519 public key, over
 * `{sub: application id | org: organisation name, partner, iat, exp, aud}`
 * where `aud` is this control plane's audience (`GET /v1/programme/audience`).
 * Screening uses the control plane's sanctions index: a possible match opens a
 * review in the human queue (`/v1/reviews`) and holds the application until an
 * operator decides it. Activation creates (or upgrades) the organisation with
 * plan `protected`, which region rules do not count as a paid plan.
 *
 * Nothing here is served to the public except the application form and the
 * referral hand-in, which answer with the caller's own application only.
 */
import { createHash, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { assertPlanAllowed, openReview, screenParty, type App } from './app.ts'
import { Limiter, prefixKey } from '@outpost/protect'
import { ControlError } from './errors.ts'
import type { Ctx, Route } from './http/router.ts'
import {
  country,
  hostname,
  id as idSchema,
  regionId,
  type Org,
  type Region,
  type Review,
} from './model.ts'

// ---- referral tokens (compact JWS, EdDSA) ----

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url')

/** What a referral asserts; `sub` (application id) or `org` (organisation name) scopes it. */
export interface ReferralClaims {
  readonly partner: string
  readonly aud: string
  readonly iat: number
  readonly exp: number
  readonly sub?: string
  readonly org?: string
}

/** Signs a referral as a partner would (`outpost ctl programme sign-referral`). */
export function signReferral(claims: ReferralClaims, partnerKey: KeyObject): string {
  const header = b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: claims.partner }))
  const payload = b64u(JSON.stringify(claims))
  const sig = sign(null, Buffer.from(`${header}.${payload}`), partnerKey)
  return `${header}.${payload}.${b64u(sig)}`
}

function refuse(why: string): never {
  throw new ControlError('ERR_CONTROL_REFERRAL_REJECTED', `Cannot accept referral: ${why}`)
}

/** Longest lifetime a referral may claim. */
export const MAX_REFERRAL_SECONDS = 30 * 86_400
const SKEW_SECONDS = 60

/**
 * Verifies a referral for `application`: registered, enabled partner; good
 * Ed25519 signature; `aud` is ours; `iat`/`exp` valid now; scoped to this
 * application id or its organisation name.
 */
export function verifyReferral(
  token: string,
  o: {
    readonly audience: string
    readonly now: Date
    readonly partner: (id: string) => Partner | undefined
    readonly application: Application
  },
): ReferralClaims {
  const parts = token.split('.')
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p)))
    refuse('not a compact JWS (three base64url parts)')
  const [h = '', p = '', s = ''] = parts
  let header: Record<string, unknown>
  let claims: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    refuse('header or payload is not JSON')
  }
  if (header['alg'] !== 'EdDSA') refuse(`alg must be "EdDSA", not ${JSON.stringify(header['alg'])}`)
  if (header['crit'] !== undefined) refuse('"crit" header parameters are not supported')
  const partnerId = claims['partner']
  if (typeof partnerId !== 'string') refuse('claim "partner" is missing')
  if (header['kid'] !== undefined && header['kid'] !== partnerId)
    refuse('header "kid" differs from claim "partner"')
  const partner = o.partner(partnerId)
  if (partner === undefined || partner.disabled === true)
    refuse(`partner "${partnerId}" is not registered`)
  const key = createPublicKey(partner.publicKeyPem)
  if (!verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')))
    refuse(`bad signature for partner "${partnerId}"`)
  if (claims['aud'] !== o.audience)
    refuse(`audience ${JSON.stringify(claims['aud'])} is not this control plane (${o.audience})`)
  const now = Math.floor(o.now.getTime() / 1000)
  const iat = claims['iat']
  const exp = claims['exp']
  if (typeof iat !== 'number' || typeof exp !== 'number')
    refuse('claims "iat" and "exp" must be numbers')
  if (exp <= now) refuse(`expired at ${new Date(exp * 1000).toISOString()}`)
  if (iat > now + SKEW_SECONDS) refuse('issued in the future')
  if (exp - iat > MAX_REFERRAL_SECONDS) refuse(`lifetime over ${MAX_REFERRAL_SECONDS} s`)
  const sub = claims['sub']
  const org = claims['org']
  const norm = (x: string): string => x.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ')
  const forUs =
    (typeof sub === 'string' && sub === o.application.id) ||
    (typeof org === 'string' && norm(org) === norm(o.application.name))
  if (!forUs)
    refuse(
      `it names neither application "${o.application.id}" nor organisation "${o.application.name}"`,
    )
  return {
    partner: partnerId,
    aud: o.audience,
    iat,
    exp,
    ...(typeof sub === 'string' ? { sub } : {}),
    ...(typeof org === 'string' ? { org } : {}),
  }
}

/** This control plane's audience: derived from its bundle key, so it needs no configuration. */
export function programmeAudience(app: App): string {
  const spki = app.bundleKey.publicKey.export({ type: 'spki', format: 'der' })
  return `urn:outpost:control:${createHash('sha256').update(spki).digest('hex').slice(0, 32)}`
}

// ---- model ----

export const CATEGORIES = ['news', 'civil-society', 'human-rights', 'elections', 'other'] as const
export const APPLICATION_STATES = [
  'submitted',
  'partner_review',
  'screening',
  'review_hold',
  'screened',
  'approved',
  'active',
  'rejected',
] as const

export const Partner = z.object({
  id: idSchema,
  name: z.string().min(1).max(200),
  publicKeyPem: z.string(),
  disabled: z.boolean().optional(),
  createdAt: z.string(),
})
export type Partner = z.infer<typeof Partner>
export const PartnerPut = z
  .object({ name: z.string().min(1).max(200), publicKeyPem: z.string().max(4096) })
  .strict()

export const ApplicationCreate = z
  .object({
    /** The organisation id to create (or an existing organisation to move to `protected`). */
    orgId: idSchema,
    name: z.string().min(1).max(200),
    type: z.enum(['organization', 'person']).default('organization'),
    country,
    region: regionId,
    category: z.enum(CATEGORIES),
    sites: z.array(hostname).min(1).max(20),
    /** Why the organisation is attacked or at risk because of its work. */
    atRisk: z.string().min(10).max(4000),
    contact: z.email(),
    expedited: z.boolean().default(false),
  })
  .strict()

export const Application = ApplicationCreate.extend({
  id: z.string(),
  state: z.enum(APPLICATION_STATES),
  partnerId: z.string().optional(),
  /** The referral's lifetime and SHA-256 (a referral is used once). */
  referral: z.object({ iat: z.number(), exp: z.number(), sha256: z.string() }).optional(),
  reviewId: z.string().optional(),
  listVersions: z.array(z.string()).optional(),
  reason: z.string().optional(),
  history: z.array(
    z.object({ state: z.string(), at: z.string(), by: z.string(), note: z.string().optional() }),
  ),
  createdAt: z.string(),
})
export type Application = z.infer<typeof Application>

/** What the public endpoints answer: the caller's own application id and state. */
const PublicView = z.object({ id: z.string(), state: z.enum(APPLICATION_STATES) })

/** Open applications are bounded: the form is public. */
export const MAX_OPEN_APPLICATIONS = 10_000

// ---- workflow ----

async function must(app: App, id: string): Promise<Application> {
  const a = await app.store.get<Application>('application', id)
  if (a === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find application "${id}"`)
  return a
}

/** Moves an application from one of `from` to `to`, audited as `programme.<to>`. */
async function step(
  app: App,
  who: string,
  id: string,
  from: readonly Application['state'][],
  to: Application['state'],
  extra: Partial<Application> = {},
  note?: string,
): Promise<Application> {
  const out = await app.store.mutate<Application>({
    actor: who,
    action: `programme.${to}`,
    kind: 'application',
    id,
    apply: (a) => {
      if (a === undefined)
        throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find application "${id}"`)
      if (!from.includes(a.state))
        throw new ControlError(
          'ERR_CONTROL_CONFLICT',
          `Cannot move application "${id}" to ${to}: it is ${a.state}`,
        )
      return {
        ...a,
        ...extra,
        state: to,
        history: [
          ...a.history,
          {
            state: to,
            at: app.now().toISOString(),
            by: who,
            ...(note !== undefined ? { note } : {}),
          },
        ],
      }
    },
  })
  return out as Application
}

export async function submitApplication(
  app: App,
  b: z.infer<typeof ApplicationCreate>,
): Promise<Application> {
  const open = (await app.store.list<Application>('application')).filter(
    (a) => a.state !== 'active' && a.state !== 'rejected',
  )
  if (open.length >= MAX_OPEN_APPLICATIONS)
    throw new ControlError(
      'ERR_CONTROL_BUSY',
      'Cannot take applications now: the queue is full; try later',
    )
  if ((await app.store.get<Region>('region', b.region)) === undefined)
    throw new ControlError(
      'ERR_CONTROL_VALIDATION',
      `Cannot accept request body: region: unknown region "${b.region}"`,
    )
  const at = app.now().toISOString()
  const a: Application = {
    ...b,
    id: `apl_${randomBytes(8).toString('hex')}`,
    state: 'submitted',
    history: [{ state: 'submitted', at, by: 'applicant' }],
    createdAt: at,
  }
  await app.store.mutate<Application>({
    actor: 'applicant',
    action: 'programme.submitted',
    kind: 'application',
    id: a.id,
    apply: () => a,
  })
  return a
}

/** Runs sanctions screening; a possible match opens a review and holds the application. */
export async function screenApplication(app: App, who: string, id: string): Promise<Application> {
  const index = app.screening
  if (index === undefined)
    throw new ControlError(
      'ERR_CONTROL_SCREENING_UNAVAILABLE',
      `Cannot screen application "${id}": no sanctions lists are loaded (it stays in screening)`,
    )
  const a = await must(app, id)
  const found = screenParty(index, { name: a.name, type: a.type, country: a.country })
  const { listVersions } = found
  if (found.matches.length === 0)
    return step(app, who, id, ['screening'], 'screened', { listVersions }, 'no match')
  const review = await openReview(app, who, a.orgId, found)
  return step(
    app,
    who,
    id,
    ['screening'],
    'review_hold',
    { reviewId: review.id, listVersions },
    `possible match: review ${review.id}`,
  )
}

/** Hands in a referral: partner_review, then screening at once. */
export async function handInReferral(app: App, id: string, token: string): Promise<Application> {
  const a = await must(app, id)
  if (a.state !== 'submitted')
    throw new ControlError(
      'ERR_CONTROL_CONFLICT',
      `Cannot take a referral for application "${id}": it is ${a.state}`,
    )
  const partners = new Map((await app.store.list<Partner>('partner')).map((p) => [p.id, p]))
  const claims = verifyReferral(token, {
    audience: programmeAudience(app),
    now: app.now(),
    partner: (pid) => partners.get(pid),
    application: a,
  })
  const sha256 = createHash('sha256').update(token).digest('hex')
  const reused = (await app.store.list<Application>('application')).find(
    (x) => x.referral?.sha256 === sha256,
  )
  if (reused !== undefined) refuse(`it was already used for application "${reused.id}"`)
  const who = `partner:${claims.partner}`
  await step(
    app,
    who,
    id,
    ['submitted'],
    'partner_review',
    { partnerId: claims.partner, referral: { iat: claims.iat, exp: claims.exp, sha256 } },
    'signed referral verified',
  )
  const screening = await step(app, who, id, ['partner_review'], 'screening')
  if (app.screening === undefined) return screening
  return screenApplication(app, 'screening', id)
}

/** Approves a screened application (or one whose review was dismissed) and activates it. */
export async function approveApplication(
  app: App,
  who: string,
  id: string,
): Promise<{ application: Application; org: Org }> {
  let a = await must(app, id)
  if (a.state === 'review_hold') {
    const r = await app.store.get<Review>('review', a.reviewId ?? '')
    if (r?.status === 'open')
      throw new ControlError(
        'ERR_CONTROL_CONFLICT',
        `Cannot approve application "${id}": decide screening review ${r.id} first`,
      )
    if (r?.status === 'confirmed') {
      await step(app, who, id, ['review_hold'], 'rejected', {
        reason: `sanctions match confirmed (review ${r.id})`,
      })
      throw new ControlError(
        'ERR_CONTROL_ORG_BLOCKED',
        `Cannot approve application "${id}": screening review ${r.id} confirmed a match`,
      )
    }
  }
  a = await step(app, who, id, ['screened', 'review_hold'], 'approved')
  // Activation: price zero; `protected` is not a paid plan for region rules.
  await assertPlanAllowed(app, a.region, 'protected')
  const before = await app.store.get<Org>('org', a.orgId)
  const org = (await app.store.mutate<Org>({
    actor: who,
    action: before === undefined ? 'org.create' : 'org.update',
    kind: 'org',
    id: a.orgId,
    apply: (o) =>
      o === undefined
        ? {
            id: a.orgId,
            name: a.name,
            type: a.type,
            country: a.country,
            region: a.region,
            plan: 'protected',
            status: 'active',
            statusReasons: [`programme application ${a.id}`],
            createdAt: app.now().toISOString(),
          }
        : {
            ...o,
            plan: 'protected',
            statusReasons: [...o.statusReasons, `programme application ${a.id}`],
          },
  })) as Org
  const application = await step(
    app,
    who,
    id,
    ['approved'],
    'active',
    {},
    `org ${org.id} on plan protected, price 0`,
  )
  return { application, org }
}

// ---- routes ----

function actorOf(c: Ctx): string {
  const p = c.principal
  return p === undefined ? 'anonymous' : `${p.tokenId}(${p.name})`
}

/** Per-address budgets of the public endpoints (control.yaml `programme`). */
export interface PublicLimits {
  readonly applicationsPerHour: number
  readonly referralsPerHour: number
}

/**
 * A GCRA budget per client address (IPv4 address, IPv6 /64) for the public
 * endpoints, in a byte-bounded LRU (64 KiB, ~500 addresses; an evicted address
 * starts afresh). Over budget: 429 with Retry-After, nothing stored.
 */
function publicThrottle(perHour: number): (c: Ctx) => void {
  const limiter = new Limiter(64 * 1024)
  // The whole hourly allowance may come at once; it refills evenly over the hour.
  const params = { rate: perHour / 3600, burst: perHour - 1, delay: perHour - 1 }
  return (c) => {
    const ip = c.req.socket.remoteAddress ?? ''
    const r = limiter.take(prefixKey(ip, 32, 64), params, Date.now())
    if (r.ok) return
    c.headers['retry-after'] = String(r.retryAfterS)
    throw new ControlError(
      'ERR_CONTROL_RATE_LIMITED',
      `Too many requests from this address: try again in ${r.retryAfterS} s`,
    )
  }
}

export function programmeRoutes(
  app: App,
  limits: PublicLimits = { applicationsPerHour: 10, referralsPerHour: 60 },
): Route[] {
  const id = (c: Ctx): string => c.params['id'] ?? ''
  const applyThrottle = publicThrottle(limits.applicationsPerHour)
  const referralThrottle = publicThrottle(limits.referralsPerHour)
  return [
    {
      method: 'GET',
      path: '/v1/programme/audience',
      tag: 'programme',
      summary: 'The "aud" a partner puts in referrals for this control plane',
      scope: 'public',
      response: z.object({ audience: z.string() }),
      handler: () => ({ audience: programmeAudience(app) }),
    },
    {
      method: 'POST',
      path: '/v1/programme/applications',
      tag: 'programme',
      summary: 'Apply for the protected plan (public; answers with the application id only)',
      scope: 'public',
      status: 201,
      body: ApplicationCreate,
      response: PublicView,
      handler: async (c) => {
        applyThrottle(c)
        const a = await submitApplication(app, c.body as z.infer<typeof ApplicationCreate>)
        c.status = 201
        return { id: a.id, state: a.state }
      },
    },
    {
      method: 'POST',
      path: '/v1/programme/applications/:id/referral',
      tag: 'programme',
      summary: 'Hand in a partner\u2019s signed referral (public; the signature is the authority)',
      scope: 'public',
      body: z.object({ referral: z.string().min(10).max(8192) }).strict(),
      response: PublicView,
      handler: async (c) => {
        referralThrottle(c)
        const a = await handInReferral(app, id(c), (c.body as { referral: string }).referral)
        return { id: a.id, state: a.state }
      },
    },
    {
      method: 'GET',
      path: '/v1/programme/applications',
      tag: 'programme',
      summary: 'Applications and their audit trail (never public)',
      scope: 'read',
      response: z.object({ applications: z.array(Application) }),
      handler: async () => ({ applications: await app.store.list('application') }),
    },
    {
      method: 'GET',
      path: '/v1/programme/applications/:id',
      tag: 'programme',
      summary: 'One application',
      scope: 'read',
      response: Application,
      handler: (c) => must(app, id(c)),
    },
    {
      method: 'POST',
      path: '/v1/programme/applications/:id/screen',
      tag: 'programme',
      summary: 'Run (or re-run) sanctions screening of an application in screening',
      scope: 'screening',
      response: Application,
      handler: (c) => screenApplication(app, actorOf(c), id(c)),
    },
    {
      method: 'POST',
      path: '/v1/programme/applications/:id/approve',
      tag: 'programme',
      summary:
        'Approve a screened application: the organisation becomes active on plan protected (price 0)',
      scope: 'admin',
      response: z.object({ application: Application, org: z.unknown() }),
      handler: (c) => approveApplication(app, actorOf(c), id(c)),
    },
    {
      method: 'POST',
      path: '/v1/programme/applications/:id/reject',
      tag: 'programme',
      summary: 'Reject an application with a reason',
      scope: 'admin',
      body: z.object({ reason: z.string().min(1).max(500) }).strict(),
      response: Application,
      handler: (c) =>
        step(
          app,
          actorOf(c),
          id(c),
          ['submitted', 'partner_review', 'screening', 'review_hold', 'screened', 'approved'],
          'rejected',
          { reason: (c.body as { reason: string }).reason },
        ),
    },
    {
      method: 'GET',
      path: '/v1/programme/partners',
      tag: 'programme',
      summary: 'Registered referral partners',
      scope: 'read',
      response: z.object({ partners: z.array(Partner) }),
      handler: async () => ({ partners: await app.store.list('partner') }),
    },
    {
      method: 'PUT',
      path: '/v1/programme/partners/:id',
      tag: 'programme',
      summary: 'Register (or replace) a partner and its Ed25519 public key (SPKI PEM)',
      scope: 'admin',
      body: PartnerPut,
      response: Partner,
      handler: (c) => {
        const pid = id(c)
        if (!idSchema.safeParse(pid).success)
          throw new ControlError('ERR_CONTROL_VALIDATION', `Cannot accept partner id "${pid}"`)
        const b = c.body as z.infer<typeof PartnerPut>
        let key: KeyObject
        try {
          key = createPublicKey(b.publicKeyPem)
        } catch {
          throw new ControlError(
            'ERR_CONTROL_VALIDATION',
            'Cannot accept request body: publicKeyPem: not a PEM public key',
          )
        }
        if (key.asymmetricKeyType !== 'ed25519')
          throw new ControlError(
            'ERR_CONTROL_VALIDATION',
            `Cannot accept request body: publicKeyPem: expected Ed25519, got ${key.asymmetricKeyType ?? '?'}`,
          )
        const p: Partner = {
          id: pid,
          name: b.name,
          publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
          createdAt: app.now().toISOString(),
        }
        return app.store.mutate<Partner>({
          actor: actorOf(c),
          action: 'partner.put',
          kind: 'partner',
          id: pid,
          apply: () => p,
        })
      },
    },
    {
      method: 'DELETE',
      path: '/v1/programme/partners/:id',
      tag: 'programme',
      summary: 'Disable a partner: its referrals are refused from now on',
      scope: 'admin',
      response: Partner,
      handler: async (c) => {
        const pid = id(c)
        if ((await app.store.get('partner', pid)) === undefined)
          throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find partner "${pid}"`)
        return app.store.mutate<Partner>({
          actor: actorOf(c),
          action: 'partner.disable',
          kind: 'partner',
          id: pid,
          apply: (p) => (p === undefined ? undefined : { ...p, disabled: true }),
        })
      },
    },
  ]
}
