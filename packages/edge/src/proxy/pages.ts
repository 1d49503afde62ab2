/**
 * The edge's own error responses: a small HTML page for browsers, JSON for
 * clients that ask for it (`Accept: application/json`).
 */
import type { HeaderMap } from '../cache/policy.ts'

export const ErrorKind = {
  badGateway: {
    status: 502,
    title: 'Bad gateway',
    detail: 'The origin server could not be reached.',
  },
  gatewayTimeout: {
    status: 504,
    title: 'Gateway timeout',
    detail: 'The origin server did not answer in time.',
  },
  notCached: {
    status: 504,
    title: 'Gateway timeout',
    detail: 'The response is not in the cache (only-if-cached).',
  },
  unknownSite: {
    status: 421,
    title: 'Misdirected request',
    detail: 'This edge does not serve that host.',
  },
  unauthorized: { status: 401, title: 'Unauthorized', detail: 'A valid bearer token is required.' },
  notFound: { status: 404, title: 'Not found', detail: 'No such resource.' },
  badRequest: { status: 400, title: 'Bad request', detail: 'The request could not be understood.' },
} as const

export type ErrorKindName = keyof typeof ErrorKind

export interface ErrorPage {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
}

function wantsJson(h: HeaderMap): boolean {
  const a = h['accept']
  const text = a === undefined ? '' : typeof a === 'string' ? a : a.join(',')
  return /\bapplication\/(?:[\w.+-]+\+)?json\b/i.test(text) && !/\btext\/html\b/i.test(text)
}

/** Builds the page for `kind`, in the format the request prefers. */
export function errorPage(
  kind: ErrorKindName,
  reqHeaders: HeaderMap,
  requestId: string,
): ErrorPage {
  const k = ErrorKind[kind]
  if (wantsJson(reqHeaders)) {
    const body = Buffer.from(
      JSON.stringify({ error: { status: k.status, title: k.title, detail: k.detail, requestId } }) +
        '\n',
    )
    return {
      status: k.status,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'content-length': String(body.length),
      },
      body,
    }
  }
  const body = Buffer.from(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${k.status} ${k.title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{color:#666}</style>
</head><body><h1>${k.status} ${k.title}</h1><p>${k.detail}</p><p><code>request ${requestId} · outpost edge</code></p></body></html>
`,
  )
  return {
    status: k.status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': String(body.length),
    },
    body,
  }
}
