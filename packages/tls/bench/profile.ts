/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) by self time: the top functions,
 * and totals by category (key exchange, signature, AEAD, hashing, our JS, Node runtime...).
 *
 * Time spent inside a native binding (OpenSSL through node:crypto) is charged by V8 to the
 * JS frame that called it, so the categories key on the calling function and its file.
 */

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
  readonly startTime: number
  readonly endTime: number
}

export const Category = {
  keyExchange: 'key exchange (X25519/ECDH/ML-KEM)',
  signature: 'signature (CertificateVerify)',
  aead: 'AEAD (record protection)',
  hashing: 'hashing (transcript, HKDF, HMAC)',
  keyObjects: 'KeyObject create/export (keys for ECDHE, HKDF, AEAD)',
  random: 'randomness (server random, ticket nonces)',
  ourJs: 'our JS (parsing, state machine, records)',
  nodeIo: 'Node runtime (net, streams, timers, socket writes)',
  startup: 'startup (module loading; not per handshake)',
  gc: 'garbage collector',
  idle: 'idle',
  program: 'native/other ((program))',
  other: 'other JS',
} as const
export type Category = (typeof Category)[keyof typeof Category]

interface Rule {
  readonly category: Category
  readonly url?: RegExp
  readonly fn?: RegExp
}

// First match wins. Files of @outpost/tls by name, then node:crypto internals by function.
const rules: readonly Rule[] = [
  { category: Category.idle, fn: /^\(idle\)$/ },
  { category: Category.gc, fn: /^\(garbage collector\)$/ },
  { category: Category.program, fn: /^\(program\)$/ },
  { category: Category.startup, url: /^node:internal\/modules\// },
  { category: Category.startup, fn: /^compile|^wrapSafe$/ },
  { category: Category.keyExchange, url: /key-?exchange|kem|x25519|ecdh|diffiehellman/i },
  { category: Category.signature, url: /sign(er)?\.ts|certificate-verify|keyless/i },
  { category: Category.aead, url: /aead|record-?protection|cipher/i },
  { category: Category.hashing, url: /hkdf|transcript|key-?schedule|hash|hmac|sha256/i },
  {
    category: Category.keyExchange,
    fn: /diffieHellman|generateKeyPair|computeSecret|ECDH|encapsulate|decapsulate/,
  },
  { category: Category.keyObjects, url: /^node:internal\/crypto\/keys$/ },
  { category: Category.random, url: /^node:internal\/crypto\/random$/ },
  { category: Category.signature, fn: /^(sign|signOneShot|verify|verifyOneShot)$|^Sign/ },
  {
    category: Category.aead,
    fn: /Cipheriv|Decipheriv|^(update|final|setAAD|setAuthTag|getAuthTag)$|createCipher/,
    url: /node:internal\/crypto\/cipher/,
  },
  {
    category: Category.hashing,
    fn: /createHash|createHmac|hkdf|digest|^Hash$|^Hmac$|^update$/,
    url: /node:internal\/crypto\/(hash|hkdf|keygen|util)/,
  },
  { category: Category.ourJs, url: /\/packages\// },
  { category: Category.nodeIo, url: /^node:/ },
  // Native bindings (no script URL) that Node's stream and timer code calls:
  // writeBuffer, writev, getLibuvNow, readStart, ...
  { category: Category.nodeIo, url: /^$/, fn: /^[^(]/ },
]

export function categorise(f: CallFrame): Category {
  for (const r of rules) {
    if (r.fn !== undefined && !r.fn.test(f.functionName)) continue
    if (r.url !== undefined && !r.url.test(f.url)) continue
    return r.category
  }
  return Category.other
}

export interface FunctionTime {
  readonly name: string
  readonly where: string
  readonly category: Category
  readonly ms: number
  readonly share: number
}

export interface ProfileSummary {
  /** Sampled time excluding idle, ms. */
  readonly busyMs: number
  readonly totalMs: number
  readonly byCategory: readonly { category: Category; ms: number; share: number }[]
  readonly top: readonly FunctionTime[]
}

function shortUrl(url: string): string {
  const i = url.indexOf('/packages/')
  if (i >= 0) return url.slice(i + 1)
  return url.replace(/^file:\/\//, '')
}

/** Self time per function and category; `share` is of busy (non-idle) time. */
export function summariseProfile(p: CpuProfile, topN = 15): ProfileSummary {
  const byId = new Map<number, ProfileNode>()
  for (const n of p.nodes) byId.set(n.id, n)
  const selfUs = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  // Merge nodes of the same function (a function appears once per distinct call path).
  const perFn = new Map<string, { f: CallFrame; us: number }>()
  for (const [id, us] of selfUs) {
    const n = byId.get(id)
    if (n === undefined) continue
    const f = n.callFrame
    const key = `${f.functionName}\0${f.url}\0${f.lineNumber}`
    const e = perFn.get(key)
    if (e === undefined) perFn.set(key, { f, us })
    else e.us += us
  }
  const cat = new Map<Category, number>()
  let totalUs = 0
  let idleUs = 0
  for (const { f, us } of perFn.values()) {
    const c = categorise(f)
    cat.set(c, (cat.get(c) ?? 0) + us)
    totalUs += us
    if (c === Category.idle) idleUs += us
  }
  const busyUs = Math.max(1, totalUs - idleUs)
  const byCategory = [...cat.entries()]
    .filter(([c]) => c !== Category.idle)
    .map(([category, us]) => ({ category, ms: us / 1000, share: us / busyUs }))
    .sort((a, b) => b.ms - a.ms)
  const top = [...perFn.values()]
    .filter(({ f }) => categorise(f) !== Category.idle)
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map(({ f, us }) => ({
      name: f.functionName === '' ? '(anonymous)' : f.functionName,
      where: f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`,
      category: categorise(f),
      ms: us / 1000,
      share: us / busyUs,
    }))
  return { busyMs: busyUs / 1000, totalMs: totalUs / 1000, byCategory, top }
}

/** Markdown tables of a summary. */
export function profileMarkdown(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
  const lines = [
    `Busy (non-idle) sampled time: ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms.`,
    '',
    '| category | self time | share of busy |',
    '| --- | ---: | ---: |',
    ...s.byCategory.map((c) => `| ${c.category} | ${c.ms.toFixed(0)} ms | ${pct(c.share)} |`),
    '',
    '| function | where | category | self time | share |',
    '| --- | --- | --- | ---: | ---: |',
    ...s.top.map(
      (f) =>
        `| \`${f.name}\` | ${f.where} | ${f.category} | ${f.ms.toFixed(0)} ms | ${pct(f.share)} |`,
    ),
  ]
  return lines.join('\n') + '\n'
}
