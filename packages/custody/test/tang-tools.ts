/**
 * Test helpers for interop with Debian's tang and clevis: locate the binaries, run
 * tangd behind socat on 127.0.0.1 (tang 11's tangd serves one request on stdio), and
 * run clevis asynchronously (an in-process TangServer must keep serving meanwhile).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, connect } from 'node:net'

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  const p = r.stdout.trim()
  return r.status === 0 && p !== '' ? p : undefined
}

const TANGD_CANDIDATES = ['/usr/libexec/tangd', '/usr/lib/tangd', '/usr/lib/x86_64-linux-gnu/tangd']

export const tools = {
  tangd: TANGD_CANDIDATES.find((p) => existsSync(p)),
  rotate: ['/usr/libexec/tangd-rotate-keys', '/usr/lib/tangd-rotate-keys'].find((p) =>
    existsSync(p),
  ),
  clevis: which('clevis'),
  socat: which('socat'),
  jose: which('jose'),
}

/** Why interop tests cannot run here, or undefined when they can. */
export function missingTools(...names: (keyof typeof tools)[]): string | undefined {
  const missing = names.filter((n) => tools[n] === undefined)
  return missing.length > 0
    ? `missing ${missing.join(', ')} (apt-get install tang clevis socat jose)`
    : undefined
}

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) =>
    s.close(() => {
      r()
    }),
  )
  return port
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1')
      c.once('connect', () => {
        c.destroy()
        resolve(true)
      })
      c.once('error', () => {
        resolve(false)
      })
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`Cannot reach 127.0.0.1:${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface Tangd {
  readonly url: string
  readonly proc: ChildProcess
  stop(): Promise<void>
}

/** tangd on DIR behind `socat TCP-LISTEN:PORT,bind=127.0.0.1,fork`. */
export async function startTangd(dir: string): Promise<Tangd> {
  const port = await freePort()
  const proc = spawn(
    tools.socat as string,
    [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${tools.tangd as string} ${dir}`],
    // Own process group: socat forks a child per connection, and a kept-alive
    // connection would outlive the parent otherwise.
    { stdio: 'ignore', detached: true },
  )
  await waitForPort(port, 10_000)
  return {
    url: `http://127.0.0.1:${port}`,
    proc,
    stop: async () => {
      if (proc.exitCode !== null) return
      const done = new Promise((r) => proc.once('exit', r))
      process.kill(-(proc.pid as number), 'SIGTERM')
      await done
    },
  }
}

export interface RunResult {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs a command with `input` on stdin, without blocking the event loop. */
export function run(cmd: string, args: readonly string[], input?: Uint8Array): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    p.stdout.on('data', (c: Buffer) => out.push(c))
    p.stderr.on('data', (c: Buffer) => err.push(c))
    p.once('error', reject)
    p.once('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() })
    })
    p.stdin.end(input)
  })
}
