/**
 * Finding the external programs the interop runs use, and running the shared
 * run-clients.sh against a server.
 */
import { accessSync, constants } from 'node:fs'
import { execFile } from 'node:child_process'
import { delimiter, isAbsolute, join } from 'node:path'
import { SHARED_TOOLS } from './servers.ts'
import { parseSummary, type RunSummary } from './summary.ts'

/** The absolute path of an executable (absolute name or looked up in PATH), or undefined. */
export function findExecutable(name: string): string | undefined {
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, name))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      return c
    } catch {
      // not here
    }
  }
  return undefined
}

/** The first of several names that exists. */
export function findFirst(...names: string[]): string | undefined {
  for (const n of names) {
    const p = findExecutable(n)
    if (p !== undefined) return p
  }
  return undefined
}

export const RUN_CLIENTS = join(SHARED_TOOLS, 'run-clients.sh')

export interface ClientRun {
  readonly summary: RunSummary | undefined
  readonly output: string
  readonly exitCode: number
}

export interface RunClientsOptions {
  readonly host: string
  readonly port: number
  readonly sni: string
  readonly caFile: string
  /** Environment for the runner (OPENSSL, NODE, ONLY, TLS_GROUPS, ...). */
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}

/** Runs run-clients.sh and parses its closing line; never rejects on a non-zero exit. */
export function runClients(o: RunClientsOptions): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [RUN_CLIENTS, o.host, String(o.port), o.sni, o.caFile],
      {
        env: { ...process.env, ...o.env },
        timeout: o.timeoutMs ?? 180_000,
        maxBuffer: 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const output = stdout + (stderr ? `\n[stderr]\n${stderr}` : '')
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolve({ summary: parseSummary(stdout), output, exitCode: code })
      },
    )
  })
}
