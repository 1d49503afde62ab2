/**
 * The per-zone security page of the dashboard (attack-protection.md §7 AP18):
 * server-rendered, no JavaScript. An SVG attack timeline (served, challenged
 * and rejected requests per bin, presentation attributes only, so the strict
 * CSP holds), peak request rate, attack periods, top rules, counts by action,
 * top clients by keyed hash (never an address), and the zone's decisions.
 */
import type { App } from '../app.ts'
import { ControlError } from '../errors.ts'
import { sendHtml } from '../http/middleware.ts'
import type { Ctx, Route } from '../http/router.ts'
import type { Zone } from '../model.ts'
import { activeDecisions, clearUnderAttack, setUnderAttack } from '../protection.ts'
import { zoneReport, type ZoneReport } from '../protection-stats.ts'

/** Layout helpers the dashboard hands in (its session and CSRF stay private to it). */
export interface Layout {
  readonly page: (c: Ctx, title: string, body: string) => string
  readonly esc: (s: unknown) => string
  readonly table: (head: readonly string[], rows: readonly (readonly string[])[]) => string
  /** The session's CSRF token (for forms) and its check (for POSTs). */
  readonly csrf: (c: Ctx) => string
  readonly checkCsrf: (c: Ctx) => void
}

const TTL_CHOICES = [
  [900, '15 minutes'],
  [3600, '1 hour'],
  [21_600, '6 hours'],
  [86_400, '24 hours'],
] as const

const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z')
const num = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1))

/** Stacked bars, one per bin: served (grey), challenged (amber), rejected (red). */
export function timelineSvg(r: ZoneReport, esc: (s: unknown) => string): string {
  const W = 720
  const H = 160
  const n = r.timeline.length
  const max = Math.max(1, ...r.timeline.map((b) => b.served + b.challenged + b.rejected))
  const bw = W / Math.max(1, n)
  const bars = r.timeline
    .map((b, i) => {
      const x = (i * bw).toFixed(2)
      let y = H
      const parts: string[] = []
      for (const [v, fill] of [
        [b.served, '#8a94a6'],
        [b.challenged, '#e0a100'],
        [b.rejected, '#c0262d'],
      ] as const) {
        if (v === 0) continue
        const h = (v / max) * (H - 10)
        y -= h
        parts.push(
          `<rect x="${x}" y="${y.toFixed(2)}" width="${Math.max(1, bw - 1).toFixed(2)}" height="${h.toFixed(2)}" fill="${fill}"><title>${esc(`${iso(b.at)}: ${v}`)}</title></rect>`,
        )
      }
      return parts.join('')
    })
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" viewBox="0 0 ${W} ${H + 20}" role="img" aria-label="Requests per ${r.binSeconds} s: served, challenged, rejected">
<rect x="0" y="0" width="${W}" height="${H}" fill="#f6f7f9"/>${bars}
<text x="0" y="${H + 15}" font-size="11" fill="#333">${esc(iso(r.from))}</text><text x="${W}" y="${H + 15}" font-size="11" fill="#333" text-anchor="end">${esc(iso(r.to))}</text>
<text x="4" y="12" font-size="11" fill="#333">max ${max} / ${r.binSeconds} s</text></svg>`
}

export function zoneSecurityRoutes(app: App, l: Layout): Route[] {
  return [
    {
      method: 'GET',
      path: '/ui/zones/:id/security',
      summary:
        'Security report of a zone (no JS): attack timeline, peak rps, top rules, rejected counts',
      tag: 'dashboard',
      scope: 'read',
      kind: 'html',
      handler: async (c) => {
        const id = c.params['id'] ?? ''
        const zone = await app.store.get<Zone>('zone', id)
        if (zone === undefined)
          throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find zone "${id}"`)
        const hours = Math.min(
          24,
          Math.max(1, Number(c.url.searchParams.get('hours') ?? '24') || 24),
        )
        const r = await zoneReport(app, id, hours)
        const decisions = (await activeDecisions(app)).filter(
          (d) => d.zoneId === id || (d.type === 'ban' && d.zoneId === undefined),
        )
        const ua = decisions.find((d) => d.type === 'under-attack')
        const bans = decisions.filter((d) => d.type === 'ban')
        const { esc, table } = l
        const rangeLinks = [1, 6, 24]
          .map(
            (h) => `<a href="/ui/zones/${encodeURIComponent(id)}/security?hours=${h}">${h} h</a>`,
          )
          .join(' ')
        const body = `<p>Zone <strong>${esc(id)}</strong> (${esc(zone.hostnames.join(', '))}), last ${hours} h: ${rangeLinks}</p>
<p id="status">Under attack: <strong>${ua ? `on until ${esc(ua.expiresAt)}` : 'off'}</strong>; active bans: <strong>${bans.length}</strong></p>
${
  ua
    ? `<form method="post" action="/ui/zones/${encodeURIComponent(id)}/calm"><input type="hidden" name="csrf" value="${esc(l.csrf(c))}"><button>Switch "under attack" off</button></form>`
    : `<form method="post" action="/ui/zones/${encodeURIComponent(id)}/under-attack"><input type="hidden" name="csrf" value="${esc(l.csrf(c))}">
<label>Challenge every visitor for <select name="ttlSeconds">${TTL_CHOICES.map(([v, t]) => `<option value="${v}"${v === 3600 ? ' selected' : ''}>${t}</option>`).join('')}</select></label>
<button class="danger">Switch "under attack" on</button></form>`
}
<h2>Summary</h2>${table(
          ['Requests', 'Served', 'Challenged', 'Rejected', 'Peak rate', 'Peak at'],
          [
            [
              String(r.totals.requests),
              String(r.totals.served),
              String(r.totals.challenged),
              `<strong id="rejected">${r.totals.rejected}</strong>`,
              `<strong id="peak">${num(r.peak.rps)} req/s</strong>`,
              r.peak.at === null ? '—' : esc(iso(r.peak.at)),
            ],
          ],
        )}
<h2>Attack timeline</h2><figure>${timelineSvg(r, esc)}<figcaption>Requests per ${r.binSeconds} s: served (grey), challenged (amber), rejected (red).</figcaption></figure>
${
  r.attacks.length === 0
    ? '<p>No attack periods (a period is where ≥ 20 % of requests were challenged or rejected).</p>'
    : table(
        ['Start', 'End', 'Peak rate', 'Rules'],
        r.attacks.map((a) => [
          esc(iso(a.start)),
          esc(iso(a.end)),
          `${num(a.peakRps)} req/s`,
          esc(a.rules.join(', ')),
        ]),
      )
}
<h2>Top rules</h2>${table(
          ['Rule', 'Action', 'Requests'],
          r.topRules.map((t) => [esc(t.rule), esc(t.action), String(t.count)]),
        )}
<h2>By action</h2>${table(
          ['Action', 'Requests'],
          r.byAction.map((a) => [esc(a.action), String(a.count)]),
        )}
<h2>Top clients (keyed hash)</h2><p>Addresses are never stored: each is an HMAC with the control plane\u2019s key.</p>${table(
          ['Client hash', 'Requests'],
          r.topClients.map((t) => [`<code>${esc(t.ipHash)}</code>`, String(t.count)]),
        )}`
        sendHtml(c, 200, l.page(c, `Security: ${id}`, body))
      },
    },
    ...(['under-attack', 'calm'] as const).map((op): Route => ({
      method: 'POST',
      path: `/ui/zones/:id/${op}`,
      summary:
        op === 'calm'
          ? 'Switch "under attack" off (form)'
          : 'Switch "under attack" on for a TTL (form)',
      tag: 'dashboard',
      scope: 'orgs:write',
      kind: 'html',
      handler: async (c) => {
        l.checkCsrf(c)
        const id = c.params['id'] ?? ''
        const who = `${c.principal?.tokenId ?? '?'}(${c.principal?.name ?? '?'}) via dashboard`
        if (op === 'calm') await clearUnderAttack(app, who, id)
        else {
          const ttl = Number((c.body as Record<string, string> | undefined)?.['ttlSeconds'])
          if (!TTL_CHOICES.some(([v]) => v === ttl))
            throw new ControlError(
              'ERR_CONTROL_VALIDATION',
              'Cannot accept form: ttlSeconds: pick one of the offered durations',
            )
          await setUnderAttack(app, who, id, { ttlSeconds: ttl })
        }
        c.status = 303
        c.headers['location'] = `/ui/zones/${encodeURIComponent(id)}/security`
      },
    })),
  ]
}
