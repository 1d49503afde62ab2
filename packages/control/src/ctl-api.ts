/**
 * The pieces every `outpost ctl` command is built from: the --url/--token
 * options, one API call with error reporting, `key=value` body fields, and the
 * Leaf/group builders for commands that are one API call each.
 */
import { UsageError, str, type Command, type RunArgs } from '@outpost/command'

export const apiOptions = {
  url: { type: 'string', value: 'URL', description: 'Control plane URL (or OUTPOST_CONTROL_URL)' },
  token: { type: 'string', value: 'TOKEN', description: 'API token (or OUTPOST_CONTROL_TOKEN)' },
} as const

/** `key=value` positionals → a JSON body (values that parse as JSON are used as such). */
export function fieldsToBody(fields: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const f of fields) {
    const i = f.indexOf('=')
    if (i <= 0) throw new UsageError(`Cannot read field "${f}": expected key=value`)
    const raw = f.slice(i + 1)
    let v: unknown = raw
    if (/^[[{]|^(true|false|null|-?\d+(\.\d+)?)$/.test(raw)) {
      try {
        v = JSON.parse(raw)
      } catch {
        throw new UsageError(`Cannot read field "${f.slice(0, i)}": value is not valid JSON`)
      }
    }
    body[f.slice(0, i)] = v
  }
  return body
}

export async function api(
  a: RunArgs,
  method: string,
  path: string,
  body?: unknown,
): Promise<number> {
  const url = str(a, 'url') ?? process.env['OUTPOST_CONTROL_URL']
  const token = str(a, 'token') ?? process.env['OUTPOST_CONTROL_TOKEN']
  if (url === undefined) throw new UsageError('Missing --url (or OUTPOST_CONTROL_URL)')
  if (token === undefined) throw new UsageError('Missing --token (or OUTPOST_CONTROL_TOKEN)')
  let res: Response
  try {
    res = await fetch(new URL(path, url), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
  } catch (e) {
    throw new UsageError(`Cannot reach ${url}: ${(e as Error).message}`)
  }
  const text = await res.text()
  if (!res.ok) {
    let msg = `HTTP ${res.status}`
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
      if (e) msg = `${e.code ?? ''}: ${e.message ?? ''}`
    } catch {
      // not JSON: keep the status
    }
    a.err.write(`${msg}\n`)
    return 1
  }
  a.out.write(text.endsWith('\n') ? text : `${text}\n`)
  return 0
}

export interface Leaf {
  readonly name: string
  readonly summary: string
  readonly args?: string
  readonly method: string
  readonly path: (p: readonly string[]) => string
  /** Whether remaining positionals are key=value body fields. */
  readonly fields?: boolean
  /** Positionals consumed by `path`. */
  readonly ids?: number
}

export const enc = encodeURIComponent
export function leaf(l: Leaf): Command {
  return {
    name: l.name,
    summary: l.summary,
    ...(l.args !== undefined ? { args: l.args } : {}),
    options: apiOptions,
    run(a) {
      const ids = l.ids ?? 0
      if (a.positionals.length < ids) throw new UsageError(`Missing argument: ${l.args ?? ''}`)
      const rest = a.positionals.slice(ids)
      const body = l.fields === true ? fieldsToBody(rest) : l.method === 'GET' ? undefined : {}
      return api(a, l.method, l.path(a.positionals), body)
    },
  }
}

export const group = (name: string, summary: string, leaves: readonly Leaf[]): Command => ({
  name,
  summary,
  subcommands: leaves.map(leaf),
})
/** The first positional, URL-encoded. */
export const p0 = (p: readonly string[]): string => enc(p[0] ?? '')
