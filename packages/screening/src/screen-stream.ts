/**
 * The `outpost screen --format jsonl` contract: one JSON query per input line,
 * one JSON result per output line, in order. A bad line yields
 * `{"error": {"code", "message"}}` on its own line and screening goes on.
 */
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import { ScreeningError } from './errors.ts'
import type { Match, ScreeningIndex, ScreeningQuery } from './matcher.ts'

function fail(message: string): never {
  throw new ScreeningError('ERR_SCREENING_QUERY', `Cannot screen: ${message}`)
}

/**
 * Validates one parsed JSON value as a query.
 *
 * @example
 * ```ts
 * parseQuery({ name: 'Ivan Petrov', type: 'person', dob: '1970' })
 * ```
 */
export function parseQuery(v: unknown): ScreeningQuery {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('a query must be a JSON object')
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (!['name', 'type', 'country', 'dob'].includes(k)) fail(`unknown field '${k}'`)
  }
  const { name, type, country, dob } = o
  if (typeof name !== 'string' || name.trim() === '') fail("'name' must be a non-empty string")
  if (name.length > 500) fail("'name' is longer than 500 characters")
  if (type !== 'person' && type !== 'organization')
    fail('\'type\' must be "person" or "organization"')
  if (country !== undefined && (typeof country !== 'string' || !/^[A-Za-z]{2}$/.test(country))) {
    fail("'country' must be an ISO 3166-1 alpha-2 code")
  }
  if (dob !== undefined && (typeof dob !== 'string' || !/^\d{4}(-\d{2}-\d{2})?$/.test(dob))) {
    fail('\'dob\' must be "YYYY-MM-DD" or "YYYY"')
  }
  return {
    name,
    type,
    ...(typeof country === 'string' ? { country: country.toUpperCase() } : {}),
    ...(typeof dob === 'string' ? { dob } : {}),
  }
}

/**
 * The screening result contract shared by `outpost screen --format jsonl` and the
 * control plane's `POST /v1/screen`: `{ matches: [{ id, name, score, decision }] }`,
 * best first, plus each match's evidence when `explain` is set.
 */
export function renderMatches(
  matches: readonly Match[],
  explain = false,
): { matches: Record<string, unknown>[] } {
  return {
    matches: matches.map((m) => ({
      id: m.id,
      name: m.name,
      score: m.score,
      decision: m.decision,
      ...(explain ? { evidence: m.evidence } : {}),
    })),
  }
}

/** Screens `input` line by line into `output`; resolves with counts. */
export async function screenLines(
  index: ScreeningIndex,
  input: Readable,
  output: NodeJS.WritableStream,
  options: { explain?: boolean; limit?: number } = {},
): Promise<{ queries: number; errors: number }> {
  let queries = 0
  let errors = 0
  const rl = createInterface({ input, crlfDelay: Infinity })
  for await (const line of rl) {
    if (line.trim() === '') continue
    queries++
    let out: unknown
    try {
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch (e) {
        fail(`line ${queries} is not JSON (${(e as Error).message})`)
      }
      const matches = index.screen(parseQuery(parsed))
      out = renderMatches(
        options.limit !== undefined ? matches.slice(0, options.limit) : matches,
        options.explain === true,
      )
    } catch (e) {
      errors++
      const code = e instanceof ScreeningError ? e.code : 'ERR_SCREENING_QUERY'
      out = { error: { code, message: (e as Error).message } }
    }
    if (!output.write(JSON.stringify(out) + '\n')) {
      await new Promise<void>((resolve) => output.once('drain', resolve))
    }
  }
  return { queries, errors }
}
