/**
 * A command tree for the `outpost` CLI. Each package contributes its own
 * subtree (`outpost keyserver ...`, `outpost pki ...`); this module parses
 * arguments with node:util `parseArgs` (strict: unknown flags are errors) and
 * prints `--help` for every node of the tree.
 */
import { parseArgs } from 'node:util'

export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly multiple?: boolean
  readonly default?: string | boolean
  readonly description: string
  /** Shown in help, e.g. "FILE". */
  readonly value?: string
}

export interface RunArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>
  readonly positionals: readonly string[]
  readonly out: NodeJS.WritableStream
  readonly err: NodeJS.WritableStream
}

export interface Command {
  readonly name: string
  readonly summary: string
  /** Positional arguments for the usage line, e.g. "SHARE". */
  readonly args?: string
  readonly description?: string
  readonly options?: Readonly<Record<string, OptionSpec>>
  readonly subcommands?: readonly Command[]
  /** Returns the exit code (default 0). Long-running services resolve when stopped. */
  readonly run?: (args: RunArgs) => Promise<number | undefined> | number | undefined
}

/** An error whose message is shown to the user without a stack, with exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function helpText(cmd: Command, path: readonly string[]): string {
  const full = path.join(' ')
  const lines: string[] = []
  const hasSubs = (cmd.subcommands?.length ?? 0) > 0
  const usage = [full]
  if (hasSubs && !cmd.run) usage.push('<command>')
  if (cmd.options && Object.keys(cmd.options).length > 0) usage.push('[options]')
  if (cmd.args) usage.push(cmd.args)
  lines.push(`Usage: ${usage.join(' ')}`, '', cmd.summary)
  if (cmd.description) lines.push('', cmd.description.trim())
  if (hasSubs) {
    lines.push('', 'Commands:')
    const width = Math.max(...(cmd.subcommands ?? []).map((s) => s.name.length))
    for (const s of cmd.subcommands ?? []) lines.push(`  ${s.name.padEnd(width)}  ${s.summary}`)
  }
  const opts = Object.entries(cmd.options ?? {})
  lines.push('', 'Options:')
  const rows = opts.map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
    const def =
      o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : ''
    return [flag, o.description + def] as const
  })
  rows.push(['-h, --help', 'Show this help'])
  const w = Math.max(...rows.map((r) => r[0].length))
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(w)}  ${d}`)
  if (hasSubs) lines.push('', `Run '${full} <command> --help' for a command's options.`)
  return lines.join('\n') + '\n'
}

/** Runs `argv` (without the program name) against the tree rooted at `root`. */
export async function runCommand(
  root: Command,
  argv: readonly string[],
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = {
    out: process.stdout,
    err: process.stderr,
  },
): Promise<number> {
  let cmd = root
  const path = [root.name]
  let rest = [...argv]
  for (;;) {
    const next = rest[0]
    const sub = next !== undefined ? cmd.subcommands?.find((s) => s.name === next) : undefined
    if (!sub) break
    cmd = sub
    path.push(sub.name)
    rest = rest.slice(1)
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out.write(helpText(cmd, path))
    return 0
  }
  if (!cmd.run) {
    const first = rest[0]
    if (first !== undefined) io.err.write(`Unknown command '${path.join(' ')} ${first}'\n\n`)
    io.err.write(helpText(cmd, path))
    return 2
  }
  let parsed
  try {
    const options: Record<
      string,
      { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
    > = {}
    for (const [k, o] of Object.entries(cmd.options ?? {})) {
      options[k] = {
        type: o.type,
        ...(o.short !== undefined ? { short: o.short } : {}),
        ...(o.multiple !== undefined ? { multiple: o.multiple } : {}),
        ...(o.default !== undefined ? { default: o.default } : {}),
      }
    }
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true })
  } catch (e) {
    io.err.write(
      `${path.join(' ')}: ${(e as Error).message}\nRun '${path.join(' ')} --help' for usage.\n`,
    )
    return 2
  }
  try {
    const code = await cmd.run({
      values: parsed.values,
      positionals: parsed.positionals,
      out: io.out,
      err: io.err,
    })
    return code ?? 0
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: unknown }).code === 'ERR_CONFIG_INVALID') {
      io.err.write(`${path.join(' ')}: ${(e as Error).message}\n`)
      return 2
    }
    throw e
  }
}

/** Reads a string option, throwing a UsageError if a required one is missing. */
export function str(args: RunArgs, name: string): string | undefined
export function str(args: RunArgs, name: string, required: true): string
export function str(args: RunArgs, name: string, required = false): string | undefined {
  const v = args.values[name]
  if (typeof v === 'string') return v
  if (required) throw new UsageError(`Missing required option --${name}`)
  return undefined
}

export function flag(args: RunArgs, name: string): boolean {
  return args.values[name] === true
}

export function list(args: RunArgs, name: string): string[] {
  const v = args.values[name]
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string')
  return typeof v === 'string' ? [v] : []
}
