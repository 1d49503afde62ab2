/**
 * Starts the servers the interop tests and benchmarks talk to, each as a child process on
 * 127.0.0.1: Outpost's `tls-demo` (through the CLI entry point, exactly as an operator runs
 * it) and Node's own TLS stack as the baseline.
 *
 * A server announces its address on stdout; we wait for a line containing
 * `127.0.0.1:<port>` (or, when we chose the port ourselves, for the port to accept TCP).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The repository root (this file is packages/tls/test/interop/servers.ts). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..', '..')
/** The shared conformance tools live beside the clone (CI's layout and ours). */
export const SHARED_TOOLS = join(REPO_ROOT, '..', 'shared', 'tools', 'tls-conformance')
export const CLI_MAIN = join(REPO_ROOT, 'packages', 'cli', 'src', 'main.ts')
/** tls-demo alone (see tls-demo-main.ts); what benchmarks use. */
export const TLS_DEMO_MAIN = join(import.meta.dirname, 'tls-demo-main.ts')

export interface RunningServer {
  readonly host: string
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
  /** Everything the server wrote so far (stdout and stderr interleaved). */
  output(): string
  /** Waits for a line of output matching `re`; resolves with its first capture group. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>
}

export interface SpawnServerOptions {
  readonly command: string
  readonly args: readonly string[]
  readonly env?: NodeJS.ProcessEnv
  /** The port the server was told to use; 0 or absent: read it from the announcement. */
  readonly port?: number
  readonly timeoutMs?: number
}

/** Asks the kernel for a free loopback port (closed again before returning). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', resolve)
  })
  const addr = srv.address()
  await new Promise<void>((resolve) => {
    srv.close(() => {
      resolve()
    })
  })
  if (addr === null || typeof addr === 'string') throw new Error('Cannot get a free port')
  return addr.port
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => {
      resolve(false)
    })
  })
}

const announceRe = /127\.0\.0\.1:(\d{1,5})\b/

/** Spawns a server and resolves once it accepts connections on 127.0.0.1. */
export async function spawnServer(o: SpawnServerOptions): Promise<RunningServer> {
  const child = spawn(o.command, o.args, {
    env: o.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const state = { exited: false }
  let announced: number | undefined
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      state.exited = true
      resolve()
    })
  })
  const onData = (b: Buffer): void => {
    out += b.toString('utf8')
    if (out.length > 1_000_000) out = out.slice(-500_000)
    if (announced === undefined) {
      const m = announceRe.exec(out)
      if (m?.[1] !== undefined && Number(m[1]) !== 0) announced = Number(m[1])
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const stop = async (graceMs = 3000): Promise<void> => {
    if (state.exited) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exit
    clearTimeout(timer)
  }
  const deadline = Date.now() + (o.timeoutMs ?? 15_000)
  const want = o.port !== undefined && o.port !== 0 ? o.port : undefined
  for (;;) {
    if (state.exited) {
      throw new Error(
        `Cannot start ${o.args.join(' ')}: exited with ${String(child.exitCode)}\n${out}`,
      )
    }
    const port = want ?? announced
    if (port !== undefined && (await canConnect(port))) {
      return {
        host: '127.0.0.1',
        port,
        pid: child.pid ?? -1,
        child,
        output: () => out,
        waitForOutput: async (re, timeoutMs = 10_000) => {
          const until = Date.now() + timeoutMs
          for (;;) {
            const m = re.exec(out)
            if (m !== null) return m[1] ?? m[0]
            if (state.exited || Date.now() > until) {
              throw new Error(`Server output never matched ${String(re)}:\n${out}`)
            }
            await sleep(50)
          }
        },
        stop,
      }
    }
    if (Date.now() > deadline) {
      await stop(500)
      throw new Error(`Cannot start ${o.args.join(' ')}: not listening after timeout\n${out}`)
    }
    await sleep(50)
  }
}

export interface TlsDemoOptions {
  /** Certificate chain and key pairs (tls-demo takes several `--cert/--key` pairs). */
  /** Without keyFile (with `--key-server` in extraArgs) the key stays on the key server. */
  readonly certs: readonly { readonly chainFile: string; readonly keyFile?: string }[]
  readonly connectionClose?: boolean
  readonly tickets?: number
  /** Also run tls-demo's echo server (`--echo-port`; 0 = any free port). */
  readonly echoPort?: number
  /** Anything else, passed through (e.g. `--key-server`). */
  readonly extraArgs?: readonly string[]
  /** Node flags for the server process, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[]
  readonly port?: number
  /** "cli" (default): packages/cli/src/main.ts; "direct": tls-demo-main.ts. */
  readonly entry?: 'cli' | 'direct'
}

/** The port of tls-demo's echo server, from its "echo on 127.0.0.1:PORT" line. */
export async function tlsDemoEchoPort(s: RunningServer): Promise<number> {
  return Number(await s.waitForOutput(/echo on 127\.0\.0\.1:(\d+)/))
}

/** Runs `outpost tls-demo` (packages/cli/src/main.ts) with the current Node binary. */
export async function startTlsDemo(o: TlsDemoOptions): Promise<RunningServer> {
  const port = o.port ?? 0
  const args = [
    ...(o.nodeArgs ?? []),
    o.entry === 'direct' ? TLS_DEMO_MAIN : CLI_MAIN,
    'tls-demo',
    '--listen',
    `127.0.0.1:${port}`,
    ...o.certs.flatMap((c) => [
      '--cert',
      c.chainFile,
      ...(c.keyFile !== undefined ? ['--key', c.keyFile] : []),
    ]),
    ...(o.connectionClose === true ? ['--connection-close'] : []),
    ...(o.tickets !== undefined ? ['--tickets', String(o.tickets)] : []),
    ...(o.echoPort !== undefined ? ['--echo-port', String(o.echoPort)] : []),
    ...(o.extraArgs ?? []),
  ]
  return spawnServer({ command: process.execPath, args, port })
}

export interface NodeBaselineOptions {
  readonly chainFile: string
  readonly keyFile: string
  /** "http" (default) or "echo". */
  readonly mode?: 'http' | 'echo'
  readonly port?: number
}

/** Runs the shared Node baseline server (../shared/tools/tls-conformance/node-baseline-server.mjs). */
export async function startNodeBaseline(o: NodeBaselineOptions): Promise<RunningServer> {
  const port = o.port ?? (await freePort())
  return spawnServer({
    command: process.execPath,
    args: [join(SHARED_TOOLS, 'node-baseline-server.mjs')],
    env: {
      ...process.env,
      CERT: o.chainFile,
      KEY: o.keyFile,
      HOST: '127.0.0.1',
      PORT: String(port),
      MODE: o.mode ?? 'http',
      QUIET: '1',
    },
    port,
  })
}
