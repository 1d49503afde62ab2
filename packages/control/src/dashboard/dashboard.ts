/**
 * The dashboard: server-rendered HTML that works without JavaScript (Tor
 * Browser at the safest level). Login exchanges an API token for a session
 * cookie (HttpOnly, SameSite=Strict, Secure over TLS); sessions live in memory
 * (only the SHA-256 of the cookie value is kept). Every POST form carries the
 * session's CSRF token. Cookie sessions authenticate dashboard routes only,
 * never the JSON API. No inline script or style: CSP is `default-src 'none'`
 * plus `style-src 'self'` for /ui/style.css.
 */
import { createHash, randomBytes } from 'node:crypto'
import { ctEqual } from '@outpost/wire'
import { createOrg, setNodeDead, tokenHash, type App } from '../app.ts'
import { ControlError } from '../errors.ts'
import { sendHtml } from '../http/middleware.ts'
import type { Ctx, Principal, Route } from '../http/router.ts'
import { OrgCreate, type KeyPolicy, type Node, type Org, type Zone } from '../model.ts'
import { lastLease } from '../store/store.ts'
import { readmitNode } from '../node-lifecycle.ts'
import { zoneSecurityRoutes } from './zone-security.ts'

const COOKIE = 'outpost_session'
const PRE = 'outpost_login_csrf'
const SESSION_MS = 8 * 3_600_000

interface Session {
  readonly principal: Principal
  readonly csrf: string
  readonly expires: number
}

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

function cookies(c: Ctx): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (c.req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim()
  }
  return out
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && ctEqual(x, y)
}

function page(title: string, body: string, csrf?: string): string {
  const nav = csrf
    ? `<nav><a href="/ui">Overview</a> <a href="/ui/orgs">Organisations</a> <a href="/ui/zones">Zones</a> <a href="/ui/policies">Policies</a> <a href="/ui/nodes">Nodes</a> <a href="/ui/audit">Audit</a>
<form method="post" action="/ui/logout" class="inline"><input type="hidden" name="csrf" value="${esc(csrf)}"><button>Log out</button></form></nav>`
    : ''
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Outpost</title>
<link rel="stylesheet" href="/ui/style.css"></head><body>${nav}<main><h1>${esc(title)}</h1>${body}</main></body></html>`
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((d) => `<td>${d}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

const CSS = `body{font-family:system-ui,sans-serif;margin:0;color:#111}nav{background:#223;padding:.6em}nav a{color:#fff;margin-right:1em}
main{padding:1em 2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.inline{display:inline}.danger{background:#b00;color:#fff}.error{color:#b00}label{display:block;margin:.3em 0}`

export class Dashboard {
  readonly #sessions = new Map<string, Session>()
  readonly #app: App

  constructor(app: App) {
    this.#app = app
  }

  /** Session-cookie authentication, for dashboard (html) routes only. */
  authenticate(c: Ctx): Promise<Principal | undefined> {
    if (c.route?.kind !== 'html') return Promise.resolve(undefined)
    return Promise.resolve(this.#session(c)?.principal)
  }

  #session(c: Ctx): Session | undefined {
    const v = cookies(c)[COOKIE]
    if (v === undefined) return undefined
    const key = sha(v)
    const s = this.#sessions.get(key)
    if (s === undefined) return undefined
    if (s.expires < Date.now()) {
      this.#sessions.delete(key)
      return undefined
    }
    return s
  }

  #csrf(c: Ctx): string {
    const s = this.#session(c)
    if (s === undefined)
      throw new ControlError('ERR_CONTROL_UNAUTHENTICATED', 'Cannot continue: log in first')
    return s.csrf
  }

  #checkCsrf(c: Ctx): void {
    const given = (c.body as Record<string, string> | undefined)?.['csrf'] ?? ''
    if (!sameSecret(given, this.#csrf(c))) {
      throw new ControlError(
        'ERR_CONTROL_FORBIDDEN',
        'Cannot accept form: bad or missing CSRF token',
      )
    }
  }

  #cookie(c: Ctx, name: string, value: string, maxAge: number): string {
    return `${name}=${value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${c.secure ? '; Secure' : ''}`
  }

  routes(): Route[] {
    const app = this.#app
    const html = (
      method: Route['method'],
      path: string,
      summary: string,
      handler: (c: Ctx) => Promise<void> | void,
      scope: Route['scope'] = 'read',
    ): Route => ({ method, path, summary, tag: 'dashboard', scope, kind: 'html', handler })
    const redirect = (c: Ctx, to: string): void => {
      c.status = 303
      c.headers['location'] = to
    }
    const actorOf = (c: Ctx): string =>
      `${c.principal?.tokenId ?? '?'}(${c.principal?.name ?? '?'}) via dashboard`
    return [
      ...zoneSecurityRoutes(app, {
        page: (c, t, b) => page(t, b, this.#csrf(c)),
        esc,
        table,
        csrf: (c) => this.#csrf(c),
        checkCsrf: (c) => {
          this.#checkCsrf(c)
        },
      }),
      {
        method: 'GET',
        path: '/ui/style.css',
        summary: 'Dashboard stylesheet',
        tag: 'dashboard',
        scope: 'public',
        kind: 'html',
        handler: (c) => {
          c.status = 200
          c.headers['content-type'] = 'text/css; charset=utf-8'
          c.headers['cache-control'] = 'max-age=3600'
          c.payload = Buffer.from(CSS)
        },
      },
      html(
        'GET',
        '/ui/login',
        'Dashboard login form',
        (c) => {
          const pre = randomBytes(24).toString('hex')
          c.headers['set-cookie'] = this.#cookie(c, PRE, pre, 600)
          const err =
            c.url.searchParams.get('error') !== null ? '<p class="error">Unknown token.</p>' : ''
          sendHtml(
            c,
            200,
            page(
              'Log in',
              `${err}<form method="post" action="/ui/login"><input type="hidden" name="csrf" value="${pre}">
<label>API token <input type="password" name="token" autocomplete="off" required></label><button>Log in</button></form>`,
            ),
          )
        },
        'public',
      ),
      html(
        'POST',
        '/ui/login',
        'Exchange an API token for a session cookie',
        async (c) => {
          const form = (c.body ?? {}) as Record<string, string>
          const pre = cookies(c)[PRE] ?? ''
          if (pre === '' || !sameSecret(form['csrf'] ?? '', pre)) {
            throw new ControlError(
              'ERR_CONTROL_FORBIDDEN',
              'Cannot log in: bad or missing CSRF token',
            )
          }
          const t = await app.store.tokenByHash(tokenHash(Buffer.from(form['token'] ?? '')))
          if (t === undefined) {
            redirect(c, '/ui/login?error=1')
            return
          }
          const value = randomBytes(32).toString('hex')
          this.#sessions.set(sha(value), {
            principal: { tokenId: t.id, name: t.name, scopes: t.scopes as Principal['scopes'] },
            csrf: randomBytes(24).toString('hex'),
            expires: Date.now() + SESSION_MS,
          })
          c.headers['set-cookie'] = this.#cookie(c, COOKIE, value, SESSION_MS / 1000)
          redirect(c, '/ui')
        },
        'public',
      ),
      html('POST', '/ui/logout', 'End the session', (c) => {
        this.#checkCsrf(c)
        const v = cookies(c)[COOKIE]
        if (v !== undefined) this.#sessions.delete(sha(v))
        c.headers['set-cookie'] = this.#cookie(c, COOKIE, '', 0)
        redirect(c, '/ui/login')
      }),
      html('GET', '/ui', 'Overview: nodes by region and state', async (c) => {
        const nodes = await app.store.list<Node>('node')
        const by = new Map<string, Map<string, number>>()
        for (const n of nodes) {
          const m = by.get(n.region) ?? new Map<string, number>()
          m.set(n.state, (m.get(n.state) ?? 0) + 1)
          by.set(n.region, m)
        }
        const states = ['pending', 'active', 'revoked', 'bricked']
        sendHtml(
          c,
          200,
          page(
            'Overview',
            `<h2>Nodes by region and state</h2>${table(
              ['Region', ...states],
              [...by].map(([r, m]) => [esc(r), ...states.map((s) => String(m.get(s) ?? 0))]),
            )}`,
            this.#csrf(c),
          ),
        )
      }),
      html('GET', '/ui/orgs', 'Organisations and the sign-up form', async (c) => {
        const orgs = await app.store.list<Org>('org')
        const csrf = this.#csrf(c)
        const err = c.url.searchParams.get('error')
        sendHtml(
          c,
          200,
          page(
            'Organisations',
            `${err !== null ? `<p class="error">${esc(err)}</p>` : ''}${table(
              ['Id', 'Name', 'Country', 'Region', 'Plan', 'Status', 'Reasons'],
              orgs.map((o) =>
                [
                  o.id,
                  o.name,
                  o.country,
                  o.region,
                  o.plan,
                  o.status,
                  o.statusReasons.join('; '),
                ].map(esc),
              ),
            )}
<h2>Sign up an organisation</h2><form method="post" action="/ui/orgs"><input type="hidden" name="csrf" value="${esc(csrf)}">
<label>Id <input name="id" required></label><label>Name <input name="name" required></label>
<label>Country <input name="country" required maxlength="2"></label><label>Region <input name="region" required></label>
<label>Plan <select name="plan"><option>free</option><option>pro</option><option>business</option><option>protected</option></select></label>
<button>Create</button></form>`,
            csrf,
          ),
        )
      }),
      html(
        'POST',
        '/ui/orgs',
        'Create an organisation from the form',
        async (c) => {
          this.#checkCsrf(c)
          const { csrf: _c, ...form } = c.body as Record<string, string>
          const parsed = OrgCreate.safeParse(form)
          if (!parsed.success) {
            redirect(
              c,
              `/ui/orgs?error=${encodeURIComponent(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))}`,
            )
            return
          }
          try {
            await createOrg(app, actorOf(c), parsed.data)
          } catch (e) {
            if (e instanceof ControlError) {
              redirect(c, `/ui/orgs?error=${encodeURIComponent(`${e.code}: ${e.message}`)}`)
              return
            }
            throw e
          }
          redirect(c, '/ui/orgs')
        },
        'orgs:write',
      ),
      html('GET', '/ui/zones', 'Zones', async (c) => {
        const zones = await app.store.list<Zone>('zone')
        sendHtml(
          c,
          200,
          page(
            'Zones',
            table(
              ['Id', 'Organisation', 'Hostnames', 'Origin', 'Policy'],
              zones.map((z) => [
                `<a href="/ui/zones/${encodeURIComponent(z.id)}/security">${esc(z.id)}</a>`,
                ...[z.orgId, z.hostnames.join(', '), z.origin, z.policyId ?? ''].map(esc),
              ]),
            ),
            this.#csrf(c),
          ),
        )
      }),
      html('GET', '/ui/policies', 'Key policies', async (c) => {
        const ps = await app.store.list<KeyPolicy>('policy')
        const l = (x: readonly string[] | undefined): string => x?.join(', ') ?? '—'
        sendHtml(
          c,
          200,
          page(
            'Key policies',
            table(
              ['Id', 'Name', 'Allow regions', 'Deny regions', 'Allow countries', 'Deny countries'],
              ps.map((p) =>
                [
                  p.id,
                  p.name,
                  l(p.allowRegions),
                  l(p.denyRegions),
                  l(p.allowCountries),
                  l(p.denyCountries),
                ].map(esc),
              ),
            ),
            this.#csrf(c),
          ),
        )
      }),
      html('GET', '/ui/nodes', 'Nodes with revoke and kill', async (c) => {
        const nodes = await app.store.list<Node>('node')
        const rows = await Promise.all(
          nodes.map(async (n) => [
            esc(n.id),
            esc(n.region),
            esc(n.country),
            esc(n.state),
            esc((await lastLease(app.store, n.id)) ?? '—'),
            n.state === 'bricked'
              ? ''
              : `${n.state === 'active' ? `<a href="/ui/nodes/${encodeURIComponent(n.id)}/confirm?op=readmit">Re-admit</a> ` : ''}${n.state !== 'revoked' ? `<a href="/ui/nodes/${encodeURIComponent(n.id)}/confirm?op=revoke">Revoke</a> ` : ''}<a href="/ui/nodes/${encodeURIComponent(n.id)}/confirm?op=kill">Kill</a>`,
          ]),
        )
        sendHtml(
          c,
          200,
          page(
            'Nodes',
            table(['Id', 'Region', 'Country', 'State', 'Last lease', 'Actions'], rows),
            this.#csrf(c),
          ),
        )
      }),
      html('GET', '/ui/nodes/:id/confirm', 'Confirmation page for revoke/kill', async (c) => {
        const id = c.params['id'] ?? ''
        const asked = c.url.searchParams.get('op')
        const op = asked === 'kill' || asked === 'readmit' ? asked : 'revoke'
        const n = await app.store.get<Node>('node', id)
        if (n === undefined)
          throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find node "${id}"`)
        const csrf = this.#csrf(c)
        const what =
          op === 'kill'
            ? 'Its custody agent will wipe every secret and brick the host, and its Tang key is destroyed: it must be enrolled again.'
            : op === 'readmit'
              ? 'It may unlock once more (one reboot) in a region that requires re-admission.'
              : 'Key servers will refuse it within a second and it gets no more leases.'
        const title = op === 'kill' ? 'Kill' : op === 'readmit' ? 'Re-admit' : 'Revoke'
        sendHtml(
          c,
          200,
          page(
            `${title} node ${id}?`,
            `<p>Node <strong>${esc(id)}</strong> in ${esc(n.region)} (${esc(n.country)}), now ${esc(n.state)}. ${what}</p>
<form method="post" action="/ui/nodes/${encodeURIComponent(id)}/${op}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button class="danger">Yes, ${op} ${esc(id)}</button> <a href="/ui/nodes">Cancel</a></form>`,
            csrf,
          ),
        )
      }),
      ...(['revoke', 'kill'] as const).map((op) =>
        html(
          'POST',
          `/ui/nodes/:id/${op}`,
          `${op} a node (confirmed)`,
          async (c) => {
            this.#checkCsrf(c)
            await setNodeDead(app, actorOf(c), c.params['id'] ?? '', op)
            redirect(c, '/ui/nodes')
          },
          'nodes:write',
        ),
      ),
      html(
        'POST',
        '/ui/nodes/:id/readmit',
        'Re-admit a node (confirmed): one boot unlock',
        async (c) => {
          this.#checkCsrf(c)
          await readmitNode(app, actorOf(c), c.params['id'] ?? '')
          redirect(c, '/ui/nodes')
        },
        'nodes:write',
      ),
      html('GET', '/ui/audit', 'The audit log and its verification', async (c) => {
        const entries = await app.store.audit(0, 1000)
        const v = await app.store.verifyAudit()
        sendHtml(
          c,
          200,
          page(
            'Audit',
            `<p>Chain: <strong>${v.ok ? 'verified' : `BROKEN at ${String(v.brokenAt)}`}</strong> (${v.count} entries)</p>${table(
              ['#', 'At', 'Actor', 'Action', 'Target', 'Hash'],
              entries.map((e) =>
                [
                  String(e.seq),
                  e.at,
                  e.actor,
                  e.action,
                  `${e.kind}/${e.target}`,
                  e.hash.slice(0, 16),
                ].map(esc),
              ),
            )}`,
            this.#csrf(c),
          ),
        )
      }),
    ]
  }
}
