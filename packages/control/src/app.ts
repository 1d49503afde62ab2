/**
 * The control plane's route table (operator API + node API) over one `App`
 * context. Every state change goes through `store.mutate`, which audits it.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto'
import { ctEqual } from '@outpost/wire'
import { z } from 'zod'
import { nodeIdentityFromCert } from '@outpost/pki'
import { renderMatches, type ScreeningIndex, type ScreeningQuery } from '@outpost/screening'
import { ControlError } from './errors.ts'
import type { Ctx, Principal, Route, Scope } from './http/router.ts'
import {
  Enrol,
  KeyPolicy,
  KeyPolicyCreate,
  Node,
  NodeCreate,
  NodeView,
  Org,
  OrgCreate,
  OrgUpdate,
  PAID_PLANS,
  Region,
  RegionPut,
  Review,
  ScreenQuery,
  TokenCreate,
  Zone,
  ZoneCreate,
} from './model.ts'
import type { NodeCa } from './node-ca.ts'
import { signBundle, type BundlePayload, type SignedBundle } from './bundle.ts'
import type { StekSchedule } from './stek.ts'
import type { ClearanceKeySchedule } from './clearance-keys.ts'
import { secretJson, secretSlot } from './secret-json.ts'
import type { PushResult, RevocationPusher } from './revocation.ts'
import { lastLease, recordLease, type Store } from './store/store.ts'
import { hexBuffer } from './stek.ts'
import { protectionNodeRoutes, zoneProtections } from './protection.ts'
import { statsNodeRoutes } from './protection-stats.ts'
import type { TangServer } from '@outpost/custody'
import { lifecycleNodeRoutes, shredNodeTang } from './node-lifecycle.ts'

export interface App {
  readonly store: Store
  readonly ca: NodeCa
  readonly bundleKey: { readonly privateKey: KeyObject; readonly publicKey: KeyObject }
  readonly steks: StekSchedule
  /** Clearance-cookie keys shared by every node (in the lease, like the STEKs). */
  readonly clearanceKeys: ClearanceKeySchedule
  readonly revocations: RevocationPusher
  screening: ScreeningIndex | undefined
  bundleCache: SignedBundle | undefined
  readonly now: () => Date
  /** The per-node Tang server mounted at `/tang` (node-lifecycle.ts). */
  readonly tang?: TangServer | undefined
  /** Listener URLs, known once both listen (told to nodes at enrolment). */
  urls?: { readonly operator: string; readonly node: string }
}

// ---- tokens ----

/** A fresh API token `opt_<64 hex>` as bytes (shown once; only its hash is stored). */
export function newTokenBytes(): Buffer {
  const raw = randomBytes(32)
  const token = Buffer.concat([Buffer.from('opt_'), hexBuffer(raw)])
  raw.fill(0)
  return token
}

export function tokenHash(token: Uint8Array): string {
  return createHash('sha256').update(token).digest('hex')
}

/** Creates a token; returns its id and the token bytes (the caller zeroises them). */
export async function createToken(
  app: App,
  actor: string,
  name: string,
  scopes: readonly Scope[],
): Promise<{ id: string; token: Buffer }> {
  const token = newTokenBytes()
  const id = `tok_${randomBytes(6).toString('hex')}`
  await app.store.createToken(actor, { id, name, hash: tokenHash(token), scopes })
  return { id, token }
}

export async function authenticateBearer(app: App, c: Ctx): Promise<Principal | undefined> {
  const h = c.req.headers.authorization
  if (h === undefined || !h.startsWith('Bearer ')) return undefined
  const t = await app.store.tokenByHash(tokenHash(Buffer.from(h.slice(7).trim())))
  if (t === undefined) return undefined
  return { tokenId: t.id, name: t.name, scopes: t.scopes as Scope[] }
}

function actor(c: Ctx): string {
  const p = c.principal
  return p === undefined ? 'anonymous' : `${p.tokenId}(${p.name})`
}

function body<T extends z.ZodType>(c: Ctx, _schema: T): z.infer<T> {
  return c.body as z.infer<T>
}

function param(c: Ctx, name: string): string {
  const v = c.params[name]
  if (v === undefined)
    throw new ControlError('ERR_CONTROL_BAD_REQUEST', `Missing path parameter "${name}"`)
  return v
}

async function mustGet<T>(app: App, kind: string, id: string, label: string): Promise<T> {
  const v = await app.store.get<T>(kind, id)
  if (v === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find ${label} "${id}"`)
  return v
}

// ---- domain rules ----

const PRIVATE_KEY_RE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|PRIVATE KEY/i

/** Zones carry public certificate chains only. */
export function assertPublicChain(chain: string): void {
  if (PRIVATE_KEY_RE.test(chain)) {
    throw new ControlError(
      'ERR_CONTROL_PRIVATE_KEY_REJECTED',
      'Cannot store certificate chain: it contains private key material; keys belong in the key server',
    )
  }
  const stripped = chain
    .replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '')
    .trim()
  if (stripped !== '') {
    throw new ControlError(
      'ERR_CONTROL_VALIDATION',
      'Cannot store certificate chain: only PEM CERTIFICATE blocks are accepted',
    )
  }
}

export async function assertPlanAllowed(
  app: App,
  regionId: string,
  plan: string,
  before?: Org,
): Promise<void> {
  if (!PAID_PLANS.includes(plan)) return
  if (before !== undefined && PAID_PLANS.includes(before.plan)) return // not a new paid plan
  const region = await app.store.get<Region>('region', regionId)
  if (region?.noNewPaidPlans === true) {
    throw new ControlError(
      'ERR_CONTROL_REGION_NO_NEW_PAID_PLANS',
      `Cannot set plan "${plan}": region "${regionId}" takes no new paid plans`,
    )
  }
}

/** Whether a node with `region`/`country` may use a key under `p` (the key server's rules). */
export function policyAllows(
  p: KeyPolicy,
  region: string,
  country: string,
): { ok: boolean; reason?: string } {
  if (p.denyRegions?.includes(region)) return { ok: false, reason: `region "${region}" is denied` }
  if (p.allowRegions !== undefined && !p.allowRegions.includes(region)) {
    return { ok: false, reason: `region "${region}" is not allowed` }
  }
  if (p.denyCountries?.includes(country))
    return { ok: false, reason: `country "${country}" is denied` }
  if (p.allowCountries !== undefined && !p.allowCountries.includes(country)) {
    return { ok: false, reason: `country "${country}" is not allowed` }
  }
  return { ok: true }
}

async function revokedIds(app: App): Promise<string[]> {
  return (await app.store.list<Node>('node'))
    .filter((n) => n.state === 'revoked' || n.state === 'bricked')
    .map((n) => n.id)
}

// ---- bundles ----

/** The signed bundle for the current version (zones of active organisations only). */
export async function currentBundle(app: App): Promise<SignedBundle> {
  const version = await app.store.counter('bundle_version')
  if (app.bundleCache?.version === version) return app.bundleCache
  const orgs = new Map((await app.store.list<Org>('org')).map((o) => [o.id, o]))
  const zones = (await app.store.list<Zone>('zone')).filter(
    (z) => orgs.get(z.orgId)?.status === 'active',
  )
  const protection = await zoneProtections(app)
  const payload: BundlePayload = {
    version,
    issuedAt: app.now().toISOString(),
    zones: zones.map((z) => ({
      id: z.id,
      orgId: z.orgId,
      hostnames: z.hostnames,
      origin: z.origin,
      certificateChain: z.certificateChain,
      ...(z.policyId !== undefined ? { policyId: z.policyId } : {}),
      ...(protection.has(z.id) ? { protection: protection.get(z.id) } : {}),
    })),
    policies: await app.store.list<KeyPolicy>('policy'),
  }
  const signed = signBundle(payload, app.bundleKey.privateKey)
  app.bundleCache = signed
  return signed
}

// ---- screening ----

function listVersions(index: ScreeningIndex): string[] {
  return index.versions.map((v) => `${v.list}@${v.date}:${v.sha256.slice(0, 12)}`)
}

/** Screens one name against the loaded lists: the matches and the list versions used. */
export function screenParty(
  index: ScreeningIndex,
  q: ScreeningQuery,
): { matches: Review['matches']; listVersions: string[] } {
  return { matches: renderMatches(index.screen(q)).matches, listVersions: listVersions(index) }
}

/** Opens a screening review (audited) for a possible match. */
export async function openReview(
  app: App,
  who: string,
  orgId: string,
  found: { matches: Review['matches']; listVersions: string[] },
): Promise<Review> {
  const review: Review = {
    id: `rev_${randomBytes(6).toString('hex')}`,
    orgId,
    status: 'open',
    listVersions: found.listVersions,
    matches: found.matches,
    createdAt: app.now().toISOString(),
  }
  await app.store.mutate({
    actor: who,
    action: 'review.open',
    kind: 'review',
    id: review.id,
    apply: () => review,
  })
  return review
}

/**
 * Screens an organisation; a possible match opens a review and puts the
 * organisation in `pending-review` (not served until an operator decides).
 */
export async function screenOrg(app: App, who: string, org: Org): Promise<Review | undefined> {
  const index = app.screening
  if (index === undefined) return undefined
  const found = screenParty(index, { name: org.name, type: org.type, country: org.country })
  if (found.matches.length === 0) return undefined
  const review = await openReview(app, who, org.id, found)
  await app.store.mutate<Org>({
    actor: who,
    action: 'org.screening-hold',
    kind: 'org',
    id: org.id,
    apply: (b) =>
      b === undefined
        ? undefined
        : {
            ...b,
            status: b.status === 'blocked' ? 'blocked' : 'pending-review',
            statusReasons: [...b.statusReasons, `screening review ${review.id}`],
          },
  })
  return review
}

/** Re-screens every organisation against (new) lists; returns the reviews opened. */
export async function rescreenAll(app: App, who: string): Promise<Review[]> {
  const out: Review[] = []
  const open = new Set(
    (await app.store.list<Review>('review')).filter((r) => r.status === 'open').map((r) => r.orgId),
  )
  for (const org of await app.store.list<Org>('org')) {
    if (open.has(org.id) || org.status === 'blocked') continue
    const r = await screenOrg(app, who, org)
    if (r) out.push(r)
  }
  return out
}

// ---- operations shared by the API and the dashboard ----

export async function createOrg(
  app: App,
  who: string,
  b: z.infer<typeof OrgCreate>,
): Promise<{ org: Org; review?: Review }> {
  await mustGet<Region>(app, 'region', b.region, 'region')
  await assertPlanAllowed(app, b.region, b.plan)
  const org: Org = { ...b, status: 'active', statusReasons: [], createdAt: app.now().toISOString() }
  await app.store.mutate<Org>({
    actor: who,
    action: 'org.create',
    kind: 'org',
    id: b.id,
    apply: (before) => {
      if (before !== undefined) {
        throw new ControlError(
          'ERR_CONTROL_CONFLICT',
          `Cannot create organisation "${b.id}": it exists`,
        )
      }
      return org
    },
  })
  const review = await screenOrg(app, who, org)
  const fresh = await mustGet<Org>(app, 'org', b.id, 'organisation')
  return review ? { org: fresh, review } : { org: fresh }
}

/** Revokes or kills a node and pushes the revocation list to every key server. */
export async function setNodeDead(
  app: App,
  who: string,
  id: string,
  op: 'revoke' | 'kill',
): Promise<{ node: Omit<Node, 'enrolTokenHash'>; pushed: PushResult[] }> {
  await mustGet<Node>(app, 'node', id, 'node')
  const after = await app.store.mutate<Node>({
    actor: who,
    action: `node.${op}`,
    kind: 'node',
    id,
    apply: (n) =>
      n === undefined
        ? undefined
        : { ...n, state: op === 'kill' || n.state === 'bricked' ? 'bricked' : 'revoked' },
  })
  if (op === 'kill') await shredNodeTang(app, who, id)
  const pushed = await app.revocations.push(await revokedIds(app))
  const { enrolTokenHash: _t, ...view } = after as Node
  return { node: view, pushed }
}

// ---- routes ----

const Ok = z.object({ ok: z.literal(true) })
const Token = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
})
const AuditEntry = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  kind: z.string(),
  target: z.string(),
  beforeHash: z.string().nullable(),
  afterHash: z.string().nullable(),
  prevHash: z.string(),
  hash: z.string(),
})
const FleetVerdict = z.object({
  policyId: z.string(),
  allowed: z.array(z.object({ nodeId: z.string(), region: z.string(), country: z.string() })),
  denied: z.array(
    z.object({ nodeId: z.string(), region: z.string(), country: z.string(), reason: z.string() }),
  ),
})
const Lease = z.object({
  nodeId: z.string(),
  leaseExpiresAt: z.string(),
  graceSeconds: z.number(),
  bundleVersion: z.number(),
  rebootNeedsReadmission: z.boolean(),
  steks: z.array(z.object({ id: z.string(), key: z.string(), current: z.boolean() })),
  clearanceKeys: z.array(z.object({ epoch: z.number(), key: z.string(), current: z.boolean() })),
})

export function operatorRoutes(app: App): Route[] {
  const s = app.store
  const now = (): string => app.now().toISOString()
  return [
    {
      method: 'GET',
      path: '/healthz',
      tag: 'meta',
      summary: 'Liveness',
      scope: 'public',
      response: Ok,
      handler: () => ({ ok: true }),
    },
    {
      method: 'GET',
      path: '/v1/bundle-key',
      tag: 'meta',
      summary: 'The Ed25519 public key (SPKI PEM) that signs config bundles',
      scope: 'public',
      response: z.object({ publicKeyPem: z.string() }),
      handler: () => ({
        publicKeyPem: app.bundleKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      }),
    },

    // tokens
    {
      method: 'POST',
      path: '/v1/tokens',
      tag: 'tokens',
      summary: 'Create an API token (shown once)',
      scope: 'admin',
      status: 201,
      body: TokenCreate,
      response: z.object({ id: z.string(), token: z.string() }),
      handler: async (c) => {
        const b = body(c, TokenCreate)
        const { id, token } = await createToken(app, actor(c), b.name, b.scopes)
        c.status = 201
        c.headers['content-type'] = 'application/json; charset=utf-8'
        // The token is already hex text: splice its bytes in, never a string.
        c.payload = Buffer.concat([
          Buffer.from(`{"id":${JSON.stringify(id)},"token":"`),
          token,
          Buffer.from('"}'),
        ])
        token.fill(0)
        c.wipeAfterSend = true
        return undefined
      },
    },
    {
      method: 'GET',
      path: '/v1/tokens',
      tag: 'tokens',
      summary: 'List tokens (never the secrets)',
      scope: 'admin',
      response: z.object({ tokens: z.array(Token) }),
      handler: async () => ({ tokens: (await s.listTokens()).map(({ hash: _h, ...t }) => t) }),
    },
    {
      method: 'DELETE',
      path: '/v1/tokens/:id',
      tag: 'tokens',
      summary: 'Revoke a token',
      scope: 'admin',
      response: Ok,
      handler: async (c) => {
        if (!(await s.revokeToken(actor(c), param(c, 'id')))) {
          throw new ControlError(
            'ERR_CONTROL_NOT_FOUND',
            `Cannot find live token "${param(c, 'id')}"`,
          )
        }
        return { ok: true }
      },
    },

    // regions
    {
      method: 'GET',
      path: '/v1/regions',
      tag: 'regions',
      summary: 'List regions',
      scope: 'read',
      response: z.object({ regions: z.array(Region) }),
      handler: async () => ({ regions: await s.list('region') }),
    },
    {
      method: 'PUT',
      path: '/v1/regions/:id',
      tag: 'regions',
      summary: 'Create or replace a region and its rules',
      scope: 'admin',
      body: RegionPut,
      response: Region,
      handler: async (c) => {
        const id = param(c, 'id')
        const parsed = Region.shape.id.safeParse(id)
        if (!parsed.success)
          throw new ControlError('ERR_CONTROL_VALIDATION', `Cannot accept region id "${id}"`)
        const region: Region = { id, ...body(c, RegionPut) }
        return s.mutate<Region>({
          actor: actor(c),
          action: 'region.put',
          kind: 'region',
          id,
          apply: () => region,
        })
      },
    },

    // organisations
    {
      method: 'GET',
      path: '/v1/orgs',
      tag: 'orgs',
      summary: 'List organisations',
      scope: 'read',
      response: z.object({ orgs: z.array(Org) }),
      handler: async () => ({ orgs: await s.list('org') }),
    },
    {
      method: 'GET',
      path: '/v1/orgs/:id',
      tag: 'orgs',
      summary: 'Get an organisation',
      scope: 'read',
      response: Org,
      handler: (c) => mustGet<Org>(app, 'org', param(c, 'id'), 'organisation'),
    },
    {
      method: 'POST',
      path: '/v1/orgs',
      tag: 'orgs',
      summary: 'Sign up an organisation (screened against sanctions lists)',
      scope: 'orgs:write',
      status: 201,
      body: OrgCreate,
      response: z.object({ org: Org, review: Review.optional() }),
      handler: (c) => createOrg(app, actor(c), body(c, OrgCreate)),
    },
    {
      method: 'PATCH',
      path: '/v1/orgs/:id',
      tag: 'orgs',
      summary: 'Change plan, name or status (with a reason)',
      scope: 'orgs:write',
      body: OrgUpdate,
      response: Org,
      handler: async (c) => {
        const b = body(c, OrgUpdate)
        const id = param(c, 'id')
        const before = await mustGet<Org>(app, 'org', id, 'organisation')
        if (b.plan !== undefined) await assertPlanAllowed(app, before.region, b.plan, before)
        if (
          b.status === 'active' &&
          (before.status === 'blocked' || before.status === 'pending-review')
        ) {
          throw new ControlError(
            'ERR_CONTROL_ORG_BLOCKED',
            `Cannot activate "${id}": decide its screening review first`,
          )
        }
        return s.mutate<Org>({
          actor: actor(c),
          action: 'org.update',
          kind: 'org',
          id,
          apply: (o) =>
            o === undefined
              ? undefined
              : {
                  ...o,
                  ...(b.name !== undefined ? { name: b.name } : {}),
                  ...(b.plan !== undefined ? { plan: b.plan } : {}),
                  ...(b.status !== undefined
                    ? {
                        status: b.status,
                        statusReasons: [...o.statusReasons, b.reason ?? `set ${b.status}`],
                      }
                    : {}),
                },
        })
      },
    },

    // zones
    {
      method: 'GET',
      path: '/v1/zones',
      tag: 'zones',
      summary: 'List zones',
      scope: 'read',
      response: z.object({ zones: z.array(Zone) }),
      handler: async () => ({ zones: await s.list('zone') }),
    },
    {
      method: 'POST',
      path: '/v1/zones',
      tag: 'zones',
      summary: 'Create a zone (public certificate chain only)',
      scope: 'orgs:write',
      status: 201,
      body: ZoneCreate,
      response: Zone,
      handler: async (c) => {
        const b = body(c, ZoneCreate)
        assertPublicChain(b.certificateChain)
        await mustGet<Org>(app, 'org', b.orgId, 'organisation')
        if (b.policyId !== undefined)
          await mustGet<KeyPolicy>(app, 'policy', b.policyId, 'key policy')
        const zone: Zone = { ...b, createdAt: now() }
        return s.mutate<Zone>({
          actor: actor(c),
          action: 'zone.create',
          kind: 'zone',
          id: b.id,
          apply: (before) => {
            if (before !== undefined)
              throw new ControlError(
                'ERR_CONTROL_CONFLICT',
                `Cannot create zone "${b.id}": it exists`,
              )
            return zone
          },
        })
      },
    },
    {
      method: 'DELETE',
      path: '/v1/zones/:id',
      tag: 'zones',
      summary: 'Delete a zone',
      scope: 'orgs:write',
      response: Ok,
      handler: async (c) => {
        const id = param(c, 'id')
        await mustGet<Zone>(app, 'zone', id, 'zone')
        await s.mutate({
          actor: actor(c),
          action: 'zone.delete',
          kind: 'zone',
          id,
          apply: () => undefined,
        })
        return { ok: true }
      },
    },

    // key policies
    {
      method: 'GET',
      path: '/v1/policies',
      tag: 'policies',
      summary: 'List key policies',
      scope: 'read',
      response: z.object({ policies: z.array(KeyPolicy) }),
      handler: async () => ({ policies: await s.list('policy') }),
    },
    {
      method: 'PUT',
      path: '/v1/policies/:id',
      tag: 'policies',
      summary: 'Create or replace a key policy',
      scope: 'admin',
      body: KeyPolicyCreate,
      response: KeyPolicy,
      handler: async (c) => {
        const b = body(c, KeyPolicyCreate)
        if (b.id !== param(c, 'id'))
          throw new ControlError(
            'ERR_CONTROL_VALIDATION',
            'Cannot accept policy: body id differs from the path',
          )
        return s.mutate<KeyPolicy>({
          actor: actor(c),
          action: 'policy.put',
          kind: 'policy',
          id: b.id,
          apply: () => b,
        })
      },
    },
    {
      method: 'GET',
      path: '/v1/policies/:id/fleet',
      tag: 'policies',
      summary: 'Validate a key policy against the fleet: which active nodes could use the key',
      scope: 'read',
      response: FleetVerdict,
      handler: async (c) => {
        const p = await mustGet<KeyPolicy>(app, 'policy', param(c, 'id'), 'key policy')
        const allowed: { nodeId: string; region: string; country: string }[] = []
        const denied: { nodeId: string; region: string; country: string; reason: string }[] = []
        for (const n of await s.list<Node>('node')) {
          if (n.state !== 'active') continue
          const v = policyAllows(p, n.region, n.country)
          if (v.ok) allowed.push({ nodeId: n.id, region: n.region, country: n.country })
          else
            denied.push({
              nodeId: n.id,
              region: n.region,
              country: n.country,
              reason: v.reason ?? '',
            })
        }
        return { policyId: p.id, allowed, denied }
      },
    },

    // nodes
    {
      method: 'GET',
      path: '/v1/nodes',
      tag: 'nodes',
      summary: 'List nodes with state and last lease',
      scope: 'read',
      response: z.object({ nodes: z.array(NodeView) }),
      handler: async () => ({
        nodes: await Promise.all(
          (await s.list<Node>('node')).map(async ({ enrolTokenHash: _t, ...n }) => {
            const l = await lastLease(s, n.id)
            return l === undefined ? n : { ...n, lastLease: l }
          }),
        ),
      }),
    },
    {
      method: 'POST',
      path: '/v1/nodes',
      tag: 'nodes',
      summary: 'Register a node (pending) and get its one-time enrolment token',
      scope: 'nodes:write',
      status: 201,
      body: NodeCreate,
      response: z.object({ node: NodeView, enrolToken: z.string() }),
      handler: async (c) => {
        const b = body(c, NodeCreate)
        const region = await mustGet<Region>(app, 'region', b.region, 'region')
        const token = newTokenBytes()
        const node: Node = {
          id: b.id,
          region: b.region,
          country: region.country,
          state: 'pending',
          enrolTokenHash: tokenHash(token),
          createdAt: now(),
        }
        await s.mutate<Node>({
          actor: actor(c),
          action: 'node.register',
          kind: 'node',
          id: b.id,
          apply: (before) => {
            if (before !== undefined)
              throw new ControlError(
                'ERR_CONTROL_CONFLICT',
                `Cannot register node "${b.id}": it exists`,
              )
            return node
          },
        })
        const { enrolTokenHash: _h, ...view } = node
        c.status = 201
        c.headers['content-type'] = 'application/json; charset=utf-8'
        c.payload = Buffer.concat([
          Buffer.from(`{"node":${JSON.stringify(view)},"enrolToken":"`),
          token,
          Buffer.from('"}'),
        ])
        token.fill(0)
        c.wipeAfterSend = true
        return undefined
      },
    },
    {
      method: 'POST',
      path: '/v1/enrol',
      tag: 'nodes',
      summary: 'Enrol a node: one-time token + CSR -> node certificate',
      scope: 'public',
      body: Enrol,
      response: z.object({
        certificatePem: z.string(),
        caPem: z.string(),
        nodeApiUrl: z.string().optional(),
        tangUrl: z.string().optional(),
        tangThumbprint: z.string().optional(),
        bundlePublicKeyPem: z.string(),
        graceSeconds: z.number(),
      }),
      handler: async (c) => {
        const b = body(c, Enrol)
        const refuse = (): never => {
          throw new ControlError(
            'ERR_CONTROL_ENROLMENT',
            `Cannot enrol "${b.nodeId}": unknown node or bad token`,
          )
        }
        const node = (await s.get<Node>('node', b.nodeId)) ?? refuse()
        const given = Buffer.from(tokenHash(Buffer.from(b.token)))
        const stored = Buffer.from(node.enrolTokenHash ?? '')
        if (node.state !== 'pending' || !ctEqual(stored, given)) refuse()
        const issued = await app.ca.issue(b.csr, {
          nodeId: node.id,
          region: node.region,
          country: node.country,
        })
        await s.mutate<Node>({
          actor: `node:${node.id}`,
          action: 'node.enrol',
          kind: 'node',
          id: node.id,
          apply: (n) => {
            // Re-check under the transaction: the token is single use.
            if (n?.state !== 'pending' || n.enrolTokenHash !== node.enrolTokenHash) refuse()
            const { enrolTokenHash: _t, ...rest } = n as Node
            return {
              ...rest,
              state: 'active',
              certificateSerial: issued.serial,
              certificateNotAfter: issued.notAfter,
              unlockApproved: true, // the first boot after enrolment may unlock
            }
          },
        })
        const region = await s.get<Region>('region', node.region)
        const signer = app.tang?.keys.ensure(node.id).find((k) => k.kind === 'es512' && !k.hidden)
        return {
          certificatePem: issued.certPem,
          caPem: app.ca.certPem,
          ...(app.urls !== undefined
            ? {
                nodeApiUrl: app.urls.node,
                tangUrl: `${app.urls.operator}/tang/${node.id}`,
              }
            : {}),
          ...(signer !== undefined ? { tangThumbprint: signer.thp } : {}),
          bundlePublicKeyPem: app.bundleKey.publicKey
            .export({ type: 'spki', format: 'pem' })
            .toString(),
          graceSeconds: region?.leaseGraceSeconds ?? 30,
        }
      },
    },
    ...(['revoke', 'kill'] as const).map((op): Route => ({
      method: 'POST',
      path: `/v1/nodes/:id/${op}`,
      tag: 'nodes',
      summary:
        op === 'revoke'
          ? 'Revoke a node: refused by key servers within 1 s, no more leases'
          : 'Kill a node: revoke it and tell its custody agent to wipe and brick',
      scope: 'nodes:write',
      response: z.object({
        node: NodeView,
        pushed: z.array(
          z.object({ sink: z.string(), ok: z.boolean(), error: z.string().optional() }),
        ),
      }),
      handler: (c) => setNodeDead(app, actor(c), param(c, 'id'), op),
    })),

    // audit
    {
      method: 'GET',
      path: '/v1/audit',
      tag: 'audit',
      summary: 'Audit entries after ?after=SEQ',
      scope: 'read',
      response: z.object({ entries: z.array(AuditEntry) }),
      handler: async (c) => ({
        entries: await s.audit(Number(c.url.searchParams.get('after') ?? '0') || 0, 1000),
      }),
    },
    {
      method: 'GET',
      path: '/v1/audit/verify',
      tag: 'audit',
      summary: 'Verify the audit hash chain',
      scope: 'read',
      response: z.object({ ok: z.boolean(), count: z.number(), brokenAt: z.number().optional() }),
      handler: () => s.verifyAudit(),
    },

    // bundles
    {
      method: 'GET',
      path: '/v1/bundle',
      tag: 'meta',
      summary: 'The current signed config bundle',
      scope: 'read',
      response: z.object({ payload: z.string(), signature: z.string(), version: z.number() }),
      handler: () => currentBundle(app),
    },

    // screening
    {
      method: 'POST',
      path: '/v1/screen',
      tag: 'screening',
      summary: 'Screen a name (same JSON as `outpost screen`)',
      scope: 'screening',
      body: ScreenQuery,
      response: z.object({
        matches: z.array(
          z.object({ id: z.string(), name: z.string(), score: z.number(), decision: z.string() }),
        ),
      }),
      handler: (c) => {
        if (app.screening === undefined)
          throw new ControlError(
            'ERR_CONTROL_SCREENING_UNAVAILABLE',
            'Cannot screen: no sanctions lists are loaded (screening.listsDir)',
          )
        const q = body(c, ScreenQuery)
        return renderMatches(
          app.screening.screen({
            name: q.name,
            type: q.type,
            ...(q.country !== undefined ? { country: q.country } : {}),
            ...(q.dob !== undefined ? { dob: q.dob } : {}),
          }),
        )
      },
    },
    {
      method: 'GET',
      path: '/v1/reviews',
      tag: 'screening',
      summary: 'The screening review queue',
      scope: 'screening',
      response: z.object({ reviews: z.array(Review) }),
      handler: async () => ({ reviews: await s.list('review') }),
    },
    ...(['confirm', 'dismiss'] as const).map((op): Route => ({
      method: 'POST',
      path: `/v1/reviews/:id/${op}`,
      tag: 'screening',
      summary:
        op === 'confirm'
          ? 'Confirm a match: the organisation is blocked and its zones stop being served'
          : 'Dismiss a false positive: the organisation is served again',
      scope: 'screening',
      response: z.object({ review: Review, org: Org }),
      handler: async (c) => {
        const id = param(c, 'id')
        const r = await mustGet<Review>(app, 'review', id, 'review')
        if (r.status !== 'open')
          throw new ControlError(
            'ERR_CONTROL_CONFLICT',
            `Cannot ${op} review "${id}": it is ${r.status}`,
          )
        const review = await s.mutate<Review>({
          actor: actor(c),
          action: `review.${op}`,
          kind: 'review',
          id,
          apply: (x) =>
            x === undefined
              ? undefined
              : {
                  ...x,
                  status: op === 'confirm' ? 'confirmed' : 'dismissed',
                  decidedBy: actor(c),
                  decidedAt: now(),
                },
        })
        const org = await s.mutate<Org>({
          actor: actor(c),
          action: op === 'confirm' ? 'org.block' : 'org.clear',
          kind: 'org',
          id: r.orgId,
          apply: (o) =>
            o === undefined
              ? undefined
              : {
                  ...o,
                  status: op === 'confirm' ? 'blocked' : 'active',
                  statusReasons: [
                    ...o.statusReasons,
                    `review ${id} ${op === 'confirm' ? 'confirmed' : 'dismissed'}`,
                  ],
                },
        })
        return { review, org }
      },
    })),
  ]
}

/** Routes of the mTLS node listener; the node is identified by its certificate. */
export function nodeRoutes(app: App): Route[] {
  const s = app.store
  const nodeOf = async (c: Ctx): Promise<{ node: Node; region: Region | undefined }> => {
    const id = nodeIdentityFromCert(c.peerCert)
    if (id === undefined)
      throw new ControlError(
        'ERR_CONTROL_NODE_UNKNOWN',
        'Cannot identify node: no node identity in the client certificate',
      )
    const node = await s.get<Node>('node', id.nodeId)
    if (node === undefined)
      throw new ControlError(
        'ERR_CONTROL_NODE_UNKNOWN',
        `Cannot serve node "${id.nodeId}": not registered`,
      )
    if (node.state === 'bricked')
      throw new ControlError(
        'ERR_CONTROL_NODE_KILLED',
        `Node "${node.id}" is killed: wipe every secret and brick`,
      )
    if (node.state !== 'active')
      throw new ControlError(
        'ERR_CONTROL_NODE_REVOKED',
        `Cannot serve node "${node.id}": it is ${node.state}`,
      )
    // The certificate must be the one we issued (a re-registered id with an old cert is refused).
    const serial = c.peerCert?.serialNumber.toLowerCase().replace(/^0+/, '')
    if (
      node.certificateSerial !== undefined &&
      serial !== node.certificateSerial.replace(/^0+/, '')
    ) {
      throw new ControlError(
        'ERR_CONTROL_NODE_REVOKED',
        `Cannot serve node "${node.id}": certificate superseded`,
      )
    }
    return { node, region: await s.get<Region>('region', node.region) }
  }
  return [
    {
      method: 'POST',
      path: '/node/v1/lease',
      tag: 'node',
      summary:
        'Lease heartbeat: lease expiry, bundle version, STEKs and clearance keys (mTLS only)',
      scope: 'public',
      response: Lease,
      handler: async (c) => {
        const { node, region } = await nodeOf(c)
        const at = app.now()
        await recordLease(s, node.id, at.toISOString())
        const grace = region?.leaseGraceSeconds ?? 30
        const steks = app.steks.forRegion((region?.stekRetentionSeconds ?? 64_800) * 1000)
        const secrets: Buffer[] = []
        const doc = {
          nodeId: node.id,
          leaseExpiresAt: new Date(at.getTime() + grace * 1000).toISOString(),
          graceSeconds: grace,
          bundleVersion: await s.counter('bundle_version'),
          rebootNeedsReadmission: region?.rebootNeedsReadmission ?? true,
          steks: steks.map((k, i) => {
            secrets.push(k.key)
            return {
              id: k.id.toString('hex'),
              key: secretSlot(secrets.length - 1),
              current: i === 0,
            }
          }),
          // After the STEKs: the node pairs the n-th "key" field with the n-th entry.
          clearanceKeys: app.clearanceKeys.forLease().map((k, i) => {
            secrets.push(k.key)
            return { epoch: k.epoch, key: secretSlot(secrets.length - 1), current: i === 0 }
          }),
        }
        c.status = 200
        c.headers['content-type'] = 'application/json; charset=utf-8'
        c.payload = secretJson(doc, secrets)
        c.wipeAfterSend = true
        return undefined
      },
    },
    {
      method: 'GET',
      path: '/node/v1/bundle',
      tag: 'node',
      summary: 'The current signed config bundle (mTLS only)',
      scope: 'public',
      response: z.object({ payload: z.string(), signature: z.string(), version: z.number() }),
      handler: async (c) => {
        await nodeOf(c)
        return currentBundle(app)
      },
    },
    ...lifecycleNodeRoutes(app, nodeOf),
    ...protectionNodeRoutes(app, nodeOf),
    ...statsNodeRoutes(app, nodeOf),
  ]
}
