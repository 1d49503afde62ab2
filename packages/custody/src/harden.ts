/**
 * Process hygiene for processes that hold secrets (node-secrets.md §5, threat model P8):
 * not dumpable (`prctl(PR_SET_DUMPABLE, 0)`: no core dump, no ptrace by same-uid
 * processes, /proc/PID/mem closed) and `RLIMIT_CORE` {0, 0}. Node has neither call, so
 * they go through libc with koffi (FFI; its prebuilt binary ships inside the npm
 * package, nothing is compiled or downloaded at install).
 *
 * Deliberately absent: `mlockall`, which crashes V8 (measured on Node 20 and 24,
 * node-secrets.md); lock only small secure buffers and run without swap instead.
 * Linux x86-64/arm64 constants (prctl.h, resource.h).
 */
import { createRequire } from 'node:module'

const PR_GET_DUMPABLE = 3
const PR_SET_DUMPABLE = 4
const RLIMIT_CORE = 4

export interface ProcessHygiene {
  /** `prctl(PR_GET_DUMPABLE)`: 0 means not dumpable. */
  readonly dumpable: number
  readonly coreLimit: { readonly soft: bigint; readonly hard: bigint }
}

interface Libc {
  prctl: (option: number, a2: number, a3: number, a4: number, a5: number) => number
  getrlimit: (resource: number, out: { rlim_cur: unknown; rlim_max: unknown }) => number
  setrlimit: (resource: number, lim: { rlim_cur: bigint; rlim_max: bigint }) => number
}

let libc: Libc | undefined

function load(): Libc {
  if (libc) return libc
  if (process.platform !== 'linux') throw new Error('Cannot harden the process: Linux only')
  // Loaded on first use so importing @outpost/custody does not load a native addon.
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi')
  const lib = koffi.load('libc.so.6')
  const rlimit = koffi.struct('outpost_rlimit', { rlim_cur: 'uint64_t', rlim_max: 'uint64_t' })
  libc = {
    prctl: lib.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
    getrlimit: lib.func('getrlimit', 'int', ['int', koffi.out(koffi.pointer(rlimit))]),
    setrlimit: lib.func('setrlimit', 'int', ['int', koffi.pointer(rlimit)]),
  }
  return libc
}

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number))

/** Reads the current dumpable flag and core-size limit. */
export function processHygiene(): ProcessHygiene {
  const c = load()
  const lim = { rlim_cur: 0 as unknown, rlim_max: 0 as unknown }
  if (c.getrlimit(RLIMIT_CORE, lim) !== 0) throw new Error('Cannot read RLIMIT_CORE')
  return {
    dumpable: c.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
    coreLimit: { soft: big(lim.rlim_cur), hard: big(lim.rlim_max) },
  }
}

/**
 * Makes this process non-dumpable and sets RLIMIT_CORE to {0, 0}. Call first thing in
 * the custody agent and the edge data path; throws if either call fails.
 *
 * @example
 * ```ts
 * import { hardenProcess } from '@outpost/custody'
 * hardenProcess() // { dumpable: 0, coreLimit: { soft: 0n, hard: 0n } }
 * ```
 */
export function hardenProcess(): ProcessHygiene {
  const c = load()
  if (c.setrlimit(RLIMIT_CORE, { rlim_cur: 0n, rlim_max: 0n }) !== 0) {
    throw new Error('Cannot set RLIMIT_CORE to 0')
  }
  if (c.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) throw new Error('Cannot clear PR_SET_DUMPABLE')
  const after = processHygiene()
  if (after.dumpable !== 0 || after.coreLimit.soft !== 0n || after.coreLimit.hard !== 0n) {
    throw new Error('Cannot harden the process: settings did not stick')
  }
  return after
}
