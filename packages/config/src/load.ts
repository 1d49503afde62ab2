/**
 * Loads a service's configuration: a YAML file, then environment overrides, then
 * schema validation. Every error names the field, the way an operator reads it
 * (`keyserver.listen: Expected string, received number`).
 *
 * Environment overrides: `<PREFIX>_<PATH>` where PATH is the field path in upper
 * snake case joined by `__`, e.g. `OUTPOST_KEYSERVER_LISTEN` or
 * `OUTPOST_KEYSERVER_TLS__CA_FILE` for `tls.caFile`. Values are parsed as YAML
 * scalars, so `true`, `42` and `[a, b]` work.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import type { z } from 'zod'

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID'
  readonly problems: readonly string[]
  constructor(source: string, problems: readonly string[]) {
    super(`Cannot load config ${source}:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export interface LoadOptions {
  /** Environment variable prefix, e.g. "OUTPOST_KEYSERVER". */
  readonly envPrefix?: string
  readonly env?: NodeJS.ProcessEnv
}

/** Reads YAML text from `file` (or uses `{}` when undefined) and validates it. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  file: string | undefined,
  options: LoadOptions = {},
): z.infer<S> {
  let raw: unknown = {}
  const source = file ?? '(defaults)'
  if (file !== undefined) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new ConfigError(source, [`cannot read file: ${(e as Error).message}`])
    }
    raw = parseConfigText(text, source)
  }
  return validateConfig(schema, raw, source, options)
}

export function parseConfigText(text: string, source = '(text)'): unknown {
  try {
    return parseYaml(text) ?? {}
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0]
      throw new ConfigError(source, [
        `YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${e.message.split('\n')[0] ?? ''}`,
      ])
    }
    throw e
  }
}

/** Applies environment overrides to `raw` and validates it against `schema`. */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  source: string,
  options: LoadOptions = {},
): z.infer<S> {
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
  if (options.envPrefix !== undefined) applyEnv(obj, options.envPrefix, options.env ?? process.env)
  const result = schema.safeParse(obj)
  if (result.success) return result.data
  const problems = result.error.issues.map((i) => {
    const path = i.path.length > 0 ? i.path.map(String).join('.') : '(root)'
    return `${path}: ${i.message}`
  })
  throw new ConfigError(source, problems)
}

function applyEnv(obj: Record<string, unknown>, prefix: string, env: NodeJS.ProcessEnv): void {
  const head = prefix + '_'
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(head) || value === undefined) continue
    const path = name
      .slice(head.length)
      .split('__')
      .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
    let at: Record<string, unknown> = obj
    for (const seg of path.slice(0, -1)) {
      const next = at[seg]
      if (typeof next !== 'object' || next === null) at[seg] = {}
      at = at[seg] as Record<string, unknown>
    }
    const last = path[path.length - 1]
    if (last !== undefined) at[last] = parseYaml(value) as unknown
  }
}
