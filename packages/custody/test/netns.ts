/**
 * Network-namespace helpers for the partition tests (custody agent, and the real edge node
 * in packages/edge/test/partition.test.ts): namespaces of our own joined by a veth pair on
 * a private /30, so test traffic never leaves the machine, and the cut is `ip link set ...
 * down`. Needs root and iproute2; {@link netnsSkip} says why not, for the test's skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

export function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`)
}

/** Why network namespaces cannot be used here (a skip reason), or false. */
export function netnsSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'needs iproute2 (ip)'
  // Root is not enough in some containers (no CAP_SYS_ADMIN, read-only /run): try one.
  const probe = `opprobe${process.pid % 100000}`
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (r.status !== 0) return `ip netns add is not permitted here: ${r.stderr.trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return false
}

/** Calls `onLine` with every stdout line of `p`. */
export function lines(p: ChildProcess, onLine: (l: string) => void): void {
  if (p.stdout) createInterface({ input: p.stdout }).on('line', onLine)
}

/** One end of a veth link: its namespace (undefined: the root namespace) and address. */
export interface VethEnd {
  readonly ns: string | undefined
  readonly addr: string
}

/** A veth pair between two ends (namespaces created here are deleted by `close`). */
export interface VethLink {
  /** Device names of end a and end b. */
  readonly devA: string
  readonly devB: string
  /** `ip link set <dev> down` on one end's device (in its namespace; default b): the cut. */
  cut(end?: 'a' | 'b'): void
  close(): void
}

/**
 * Creates the namespaces named by `a` and `b`, a veth pair `${tag}a`/`${tag}b` between
 * them with `/prefix` addresses, and brings every link (and each namespace's lo) up.
 */
export function vethLink(tag: string, a: VethEnd, b: VethEnd, prefix = 30): VethLink {
  const created: string[] = []
  const devA = `${tag}a`
  const devB = `${tag}b`
  const inNs = (ns: string | undefined, ...args: string[]): void => {
    if (ns === undefined) ip(...args)
    else ip('-n', ns, ...args)
  }
  const close = (): void => {
    // Deleting a namespace deletes the veth end in it, and with it the pair.
    spawnSync('ip', ['link', 'del', devA])
    spawnSync('ip', ['link', 'del', devB])
    for (const ns of created) spawnSync('ip', ['netns', 'del', ns])
  }
  try {
    for (const ns of [a.ns, b.ns]) {
      if (ns === undefined) continue
      ip('netns', 'add', ns)
      created.push(ns)
    }
    ip('link', 'add', devA, 'type', 'veth', 'peer', 'name', devB)
    for (const [end, dev] of [
      [a, devA],
      [b, devB],
    ] as const) {
      if (end.ns !== undefined) ip('link', 'set', dev, 'netns', end.ns)
      inNs(end.ns, 'addr', 'add', `${end.addr}/${prefix}`, 'dev', dev)
      if (end.ns !== undefined) inNs(end.ns, 'link', 'set', 'lo', 'up')
      inNs(end.ns, 'link', 'set', dev, 'up')
    }
  } catch (e) {
    close()
    throw e
  }
  return {
    devA,
    devB,
    cut: (end = 'b') => {
      if (end === 'a') inNs(a.ns, 'link', 'set', devA, 'down')
      else inNs(b.ns, 'link', 'set', devB, 'down')
    },
    close,
  }
}

/** `argv` run inside namespace `ns` (`ip netns exec`). */
export function spawnInNs(
  ns: string,
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  })
}

/**
 * Starts tcp-forward.ts (in namespace `ns`, or here): listens on `listenHost` at each of
 * `ports` and forwards to the same port on `targetHost`. Resolves once it listens.
 */
export async function startForwarder(
  ns: string | undefined,
  listenHost: string,
  targetHost: string,
  ports: readonly number[],
): Promise<ChildProcess> {
  const argv = [
    process.execPath,
    new URL('./tcp-forward.ts', import.meta.url).pathname,
    listenHost,
    targetHost,
    ...ports.map(String),
  ]
  const p =
    ns === undefined
      ? spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawnInNs(ns, argv)
  let err = ''
  p.stderr?.on('data', (c: Buffer) => (err += c.toString()))
  await new Promise<void>((resolve, reject) => {
    lines(p, (l) => {
      if (l === 'ready') resolve()
    })
    p.once('exit', (c) => {
      reject(new Error(`tcp-forward exited ${c}: ${err}`))
    })
  })
  return p
}
