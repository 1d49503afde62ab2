/**
 * Same-run A/B of two or more builds of the TLS server (docs/tls-bench.md, "same-run A/B"):
 * each side is `tls-demo` (or, labelled `native…`, the Node baseline) started from its own
 * checkout, loaded at the same time by the same generator, and measured by the server
 * process's CPU time from /proc (all threads, and the main thread alone). Rounds alternate
 * the order in which the sides are started, and each round prints its figures, so drift in
 * the load of a shared machine shows instead of hiding in one number.
 *
 *   node packages/tls/bench/ab.ts --checkout /tmp/ab-base=<commit>        # once per commit
 *   node packages/tls/bench/ab.ts [--mode full|resumed|bulk] [--rounds 6] [--n 2000] [--c 15]
 *        [--ms 3000] [--loops 8] [--mib 128] [--warmup 3000] [--seq] [--env label:KEY=VALUE ...]
 *        base=/tmp/ab-base new=. [native=.]
 *
 * --checkout writes `git archive <commit>` of this repository to the directory, links
 * node_modules so that @outpost/* resolve to that directory's packages (a plain worktree
 * would load this checkout's packages), and builds that checkout's native addon when it
 * has one (scripts/build-native.ts). --seq loads one side at a time instead of all at
 * once. --loops is the number of Node client loops in resumed mode. --env sets an environment variable for one side, e.g. `--env fallback:OUTPOST_TLS_NATIVE=0`
 * runs a side on node:crypto. --warmup is the unmeasured load per side before the first
 * round: handshakes (full), ms (resumed) or MiB (bulk); the default 3000 handshakes
 * (resumed: 3000 ms, bulk: 32 MiB) reach V8's steady state (docs/tls-bench.md). Modes: full
 * (h2load, tickets off, Connection: close), resumed (Node clients with tickets), bulk (one
 * echo connection, --mib each way).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { writeTestPki } from '../test/interop/test-pki.ts'
import { REPO_ROOT } from '../test/interop/servers.ts'
import { findExecutable } from '../test/interop/tools.ts'
import { bulkEcho, connectionRate, h2load } from './load.ts'

const { values: args, positionals } = parseArgs({
  options: {
    checkout: { type: 'string' },
    mode: { type: 'string', default: 'full' },
    rounds: { type: 'string', default: '6' },
    n: { type: 'string', default: '2000' },
    c: { type: 'string', default: '15' },
    ms: { type: 'string', default: '3000' },
    mib: { type: 'string', default: '128' },
    warmup: { type: 'string' },
    loops: { type: 'string', default: '8' },
    seq: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
  },
  allowPositionals: true,
  strict: true,
})

/** A runnable copy of this repository at `commit` in `dir`, with its own @outpost links. */
function checkout(dir: string, commit: string): void {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'node_modules', '@outpost'), { recursive: true })
  const tar = execFileSync('git', ['-C', REPO_ROOT, 'archive', commit], {
    maxBuffer: 1 << 30,
  })
  execFileSync('tar', ['x', '-C', dir], { input: tar })
  const nm = join(REPO_ROOT, 'node_modules')
  for (const e of readdirSync(nm)) {
    if (e === '@outpost') continue
    symlinkSync(join(nm, e), join(dir, 'node_modules', e))
  }
  for (const p of readdirSync(join(dir, 'packages'))) {
    symlinkSync(join(dir, 'packages', p), join(dir, 'node_modules', '@outpost', p))
  }
  const build = join(dir, 'scripts', 'build-native.ts')
  if (existsSync(build)) execFileSync(process.execPath, [build], { stdio: 'inherit' })
}

if (args.checkout !== undefined) {
  const [dir, commit] = args.checkout.split('=') as [string, string | undefined]
  checkout(resolve(dir), commit ?? 'HEAD')
  process.stdout.write(`${resolve(dir)}: ${commit ?? 'HEAD'}\n`)
  process.exit(0)
}

const mode = args.mode
if (mode !== 'full' && mode !== 'resumed' && mode !== 'bulk') {
  throw new Error(`Invalid --mode '${mode}': expected full, resumed or bulk`)
}
const h2loadBin = findExecutable('h2load')
if (mode === 'full' && h2loadBin === undefined) throw new Error('Cannot run --mode full: no h2load')

/** user + system seconds of a process (all threads), or of its main thread. */
function cpuSeconds(pid: number, mainThreadOnly = false): number {
  const path = mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`
  const stat = readFileSync(path, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

interface Side {
  readonly label: string
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
}

async function start(label: string, root: string, pki: string): Promise<Side> {
  const common = [
    '--listen',
    '127.0.0.1:0',
    '--cert',
    join(pki, 'ecdsa-chain.pem'),
    '--key',
    join(pki, 'ecdsa-key.pem'),
  ]
  const argv = label.startsWith('native')
    ? [join(root, 'packages/tls/bench/native-server.ts'), ...common]
    : [join(root, 'packages/tls/test/interop/tls-demo-main.ts'), 'tls-demo', ...common]
  if (mode === 'full') argv.push('--connection-close', '--tickets', '0')
  if (mode === 'resumed') argv.push('--connection-close')
  if (mode === 'bulk') argv.push('--echo-port', '0')
  const env = { ...process.env }
  for (const e of args.env) {
    const m = /^([^:]+):([^=]+)=(.*)$/.exec(e)
    if (m === null) throw new Error(`Invalid --env '${e}': expected label:KEY=VALUE`)
    if (m[1] === label) env[m[2] as string] = m[3]
  }
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const re = mode === 'bulk' ? /echo on 127\.0\.0\.1:(\d+)/ : /127\.0\.0\.1:(\d+)/
  let out = ''
  const port = await new Promise<number>((ok, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = re.exec(out)
      if (m?.[1] !== undefined && m[1] !== '0') ok(Number(m[1]))
    })
    child.once('exit', () => {
      fail(new Error(`${label} exited: ${out}`))
    })
  })
  return { label, child, pid: child.pid ?? -1, port }
}

/** Runs the load against one side; returns the operations done (handshakes, connections, MiB). */
async function load(s: Side, warm: boolean): Promise<number> {
  const t = { host: '127.0.0.1', port: s.port }
  if (mode === 'full') {
    const n = warm ? Number(args.warmup ?? 3000) : Number(args.n)
    const r = await h2load(h2loadBin as string, t, n, Number(args.c))
    if (r.failed > 0 || r.succeeded < n)
      throw new Error(`h2load against ${s.label}: ${r.failed} failed`)
    return r.succeeded
  }
  if (mode === 'resumed') {
    const r = await connectionRate(t, {
      ms: warm ? Number(args.warmup ?? 3000) : Number(args.ms),
      concurrency: Number(args.loops),
      resume: true,
    })
    if (!warm && r.resumed < r.completed * 0.99) {
      throw new Error(`${s.label}: only ${r.resumed} of ${r.completed} resumed`)
    }
    return r.completed
  }
  const mib = warm ? Number(args.warmup ?? 32) : Number(args.mib)
  await bulkEcho(t, mib * 1048576)
  return mib
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const work = mkdtempSync(join(tmpdir(), 'outpost-ab-'))
const sides: Side[] = []
try {
  const pki = join(work, 'pki')
  await writeTestPki(pki)
  for (const p of positionals) {
    const [label, root] = p.split('=') as [string, string | undefined]
    sides.push(await start(label, resolve(root ?? '.'), pki))
  }
  for (const s of sides) await load(s, true)
  const all: Record<string, { total: number[]; main: number[] }> = {}
  for (let r = 0; r < Number(args.rounds); r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse()
    const c0 = order.map((s) => [cpuSeconds(s.pid), cpuSeconds(s.pid, true)] as const)
    const t0 = performance.now()
    const ops: number[] = []
    if (args.seq) for (const s of order) ops.push(await load(s, false))
    else ops.push(...(await Promise.all(order.map((s) => load(s, false)))))
    const secs = (performance.now() - t0) / 1000
    const line = order.map((s, i) => {
      const [t, m] = c0[i] as readonly [number, number]
      const n = ops[i] as number
      const total = ((cpuSeconds(s.pid) - t) * 1000) / n
      const main = ((cpuSeconds(s.pid, true) - m) * 1000) / n
      const a = (all[s.label] ??= { total: [], main: [] })
      a.total.push(total)
      a.main.push(main)
      return `${s.label} ${total.toFixed(3)} (main ${main.toFixed(3)})`
    })
    process.stdout.write(`round ${r + 1} (${secs.toFixed(1)} s): ${line.join('  ')} ms CPU/op\n`)
  }
  const summary = Object.entries(all).map(
    ([k, v]) => `${k} ${median(v.total).toFixed(3)} (main ${median(v.main).toFixed(3)})`,
  )
  process.stdout.write(`median: ${summary.join('  ')} ms CPU/op\n`)
} finally {
  for (const s of sides) s.child.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}
