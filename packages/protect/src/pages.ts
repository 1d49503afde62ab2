/**
 * What the visitor sees: the challenge page (PoW with a no-JS meta-refresh tier),
 * short block / rate-limit pages, and JSON bodies for API clients, which never get
 * HTML (AP11). Pages are small, self-contained and readable without styles.
 */
import type { Headers, Response } from './types.ts'
import { header } from './match.ts'
import { SOLVER_JS } from './solver.ts'

/** True when the client is a browser that wants HTML (not a JSON or API client). */
export function wantsHtml(h: Headers): boolean {
  const accept = header(h, 'accept') ?? ''
  if (accept.includes('text/html')) return true
  if (accept.includes('application/json') || accept.includes('+json')) return false
  const ua = header(h, 'user-agent') ?? ''
  return accept.includes('*/*') || accept === '' ? ua.startsWith('Mozilla/') : false
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const STYLE =
  'body{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}'

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-robots-tag': 'noindex',
}

function page(title: string, body: string, head = ''): Buffer {
  return Buffer.from(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>${head}<style>${STYLE}</style></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`,
  )
}

function json(
  status: number,
  error: string,
  message: string,
  extra: Record<string, string> = {},
): Response {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra },
    body: Buffer.from(JSON.stringify({ error, message })),
  }
}

export interface ChallengeView {
  /** PoW challenge, its difficulty and the verify URL (without `&n=`). */
  readonly c: string
  readonly difficulty: number
  readonly verifyUrl: string
  /** No-JS tier: the URL the meta refresh follows, and its delay. */
  readonly noJs?: { readonly url: string; readonly delaySeconds: number }
  readonly extraHeaders?: Readonly<Record<string, string>>
}

export function challengeResponse(h: Headers, v: ChallengeView): Response {
  if (!wantsHtml(h))
    return json(
      403,
      'challenge_required',
      'This site is checking visitors. API clients: use an API token the site allows.',
      { ...v.extraHeaders },
    )
  const refresh =
    v.noJs === undefined
      ? ''
      : `<noscript><meta http-equiv="refresh" content="${v.noJs.delaySeconds};url=${esc(v.noJs.url)}"></noscript>`
  const noJsText =
    v.noJs === undefined
      ? '<noscript><p>This check needs JavaScript.</p></noscript>'
      : `<noscript><p>Without JavaScript you will continue automatically in ${v.noJs.delaySeconds} seconds. If not, <a href="${esc(v.noJs.url)}">continue here</a> after waiting.</p></noscript>`
  const script = `<script>var C=${JSON.stringify(v.c)},D=${v.difficulty},U=${JSON.stringify(v.verifyUrl)};${SOLVER_JS}</script>`
  return {
    status: 403,
    headers: { ...HTML_HEADERS, ...v.extraHeaders },
    body: page(
      'Checking your connection',
      `<p>This site is protecting itself from abusive traffic. Your browser is doing a short check; you will continue in a moment.</p><p id="s" role="status" aria-live="polite">Working…</p>${noJsText}${script}`,
      refresh,
    ),
  }
}

const BLOCK_HTML = page(
  'Access denied',
  '<p>This request was blocked by the site’s protection rules. If you think this is a mistake, contact the site’s owners.</p>',
)
const LIMIT_HTML = page(
  'Too many requests',
  '<p>You are sending requests faster than this site allows. Please wait a moment and try again.</p>',
)
const BANNED_HTML = page(
  'Temporarily blocked',
  '<p>Too many failed checks came from your network. Please try again later.</p>',
)
const JSON_LIMIT = Buffer.from(
  JSON.stringify({ error: 'rate_limited', message: 'Too many requests; see Retry-After.' }),
)

export function blockResponse(h: Headers, status: number): Response {
  return wantsHtml(h)
    ? { status, headers: HTML_HEADERS, body: BLOCK_HTML }
    : json(status, 'blocked', 'Blocked by the site’s protection rules.')
}

export function bannedResponse(h: Headers, retryAfterS: number): Response {
  const extra = { 'retry-after': String(retryAfterS) }
  return wantsHtml(h)
    ? { status: 403, headers: { ...HTML_HEADERS, ...extra }, body: BANNED_HTML }
    : json(403, 'banned', 'Too many failed checks; try again later.', extra)
}

export function limitResponse(h: Headers, status: number, retryAfterS: number): Response {
  const html = wantsHtml(h)
  return {
    status,
    headers: {
      'content-type': html ? 'text/html; charset=utf-8' : 'application/json',
      'cache-control': 'no-store',
      'retry-after': String(retryAfterS),
    },
    body: html ? LIMIT_HTML : JSON_LIMIT,
  }
}

export function tooEarlyResponse(retryUrl: string, delaySeconds: number): Response {
  return {
    status: 403,
    headers: HTML_HEADERS,
    body: page(
      'A little too fast',
      `<p>Please wait ${delaySeconds} seconds before continuing. <a href="${esc(retryUrl)}">Start again</a>.</p>`,
      `<meta http-equiv="refresh" content="${delaySeconds};url=${esc(retryUrl)}">`,
    ),
  }
}

export function failedResponse(h: Headers, retryUrl: string): Response {
  return wantsHtml(h)
    ? {
        status: 403,
        headers: HTML_HEADERS,
        body: page(
          'Check failed',
          `<p>The check did not succeed. <a href="${esc(retryUrl)}">Try again</a>.</p>`,
        ),
      }
    : json(403, 'challenge_failed', 'The challenge solution was not accepted.')
}
