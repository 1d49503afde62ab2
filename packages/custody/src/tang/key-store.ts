/**
 * Per-node Tang keys on disk. Each node id has its own directory holding one ES512
 * signing key and one ECMR exchange key (plus hidden, rotated ones), so deleting a
 * node's exchange keys crypto-shreds that node alone (threat model P5).
 *
 *   DIR/<node-id>/<S256 thumbprint>.es512     active signing key
 *   DIR/<node-id>/<S256 thumbprint>.ecmr      active exchange key
 *   DIR/<node-id>/.<thumbprint>.ecmr          rotated: not advertised, still serves /rec
 *
 * A key file is the raw 66-byte P-521 private scalar, mode 0600, in a 0700 directory.
 * Raw bytes rather than JWK so the scalar never becomes a string. Production keeps
 * this directory encrypted or the scalars in an HSM; that is out of scope here.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { p521 } from '@noble/curves/nist.js'
import { P521_BYTES, pointToJwk, randomScalar, thumbprint, type EcJwk } from './jose.ts'

export const TangKeyKind = { Sign: 'es512', Exchange: 'ecmr' } as const
export type TangKeyKind = (typeof TangKeyKind)[keyof typeof TangKeyKind]

export interface TangKey {
  readonly kind: TangKeyKind
  /** The private scalar. Zeroised when the key is deleted or the store closed. */
  readonly d: Buffer
  /** Public JWK with alg and key_ops, as advertised. */
  readonly jwk: EcJwk
  /** S256 thumbprint (the kid). */
  readonly thp: string
  readonly thpS1: string
  readonly hidden: boolean
}

const NODE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

export function isValidNodeId(id: string): boolean {
  return NODE_ID.test(id)
}

function makeKey(kind: TangKeyKind, d: Buffer, hidden: boolean): TangKey {
  const pub = p521.Point.fromBytes(p521.getPublicKey(d, false))
  const jwk = pointToJwk(
    pub,
    kind === TangKeyKind.Sign
      ? { alg: 'ES512', key_ops: ['verify'] }
      : { alg: 'ECMR', key_ops: ['deriveKey'] },
  )
  return { kind, d, jwk, thp: thumbprint(jwk), thpS1: thumbprint(jwk, 'sha1'), hidden }
}

/** Reads, creates, rotates and deletes the key directories under `dir`. */
export class TangKeyStore {
  readonly dir: string
  readonly #cache = new Map<string, TangKey[]>()

  constructor(dir: string) {
    this.dir = dir
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  #nodeDir(nodeId: string): string {
    if (!isValidNodeId(nodeId)) throw new RangeError(`Invalid node id ${JSON.stringify(nodeId)}`)
    return join(this.dir, nodeId)
  }

  /** All keys of a node, loading them from disk once. Empty if the node has none. */
  keys(nodeId: string): readonly TangKey[] {
    const cached = this.#cache.get(nodeId)
    if (cached) return cached
    const dir = this.#nodeDir(nodeId)
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return []
    }
    const keys: TangKey[] = []
    for (const name of names) {
      const m = /^(\.?)([A-Za-z0-9_-]+)\.(es512|ecmr)$/.exec(name)
      if (!m) continue
      const d = readFileSync(join(dir, name))
      if (d.length !== P521_BYTES) {
        d.fill(0)
        continue
      }
      try {
        keys.push(makeKey(m[3] as TangKeyKind, d, m[1] === '.'))
      } catch {
        d.fill(0) // not a valid P-521 scalar: ignore the file, as tangd ignores bad JWKs
      }
    }
    this.#cache.set(nodeId, keys)
    return keys
  }

  /** The node's keys, creating a signing and an exchange key if it has no active pair. */
  ensure(nodeId: string): readonly TangKey[] {
    const keys = this.keys(nodeId)
    const active = keys.filter((k) => !k.hidden)
    const want: TangKeyKind[] = []
    if (!active.some((k) => k.kind === TangKeyKind.Sign)) want.push(TangKeyKind.Sign)
    if (!active.some((k) => k.kind === TangKeyKind.Exchange)) want.push(TangKeyKind.Exchange)
    if (want.length === 0) return keys
    const dir = this.#nodeDir(nodeId)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const next = [...keys]
    for (const kind of want) {
      const key = makeKey(kind, Buffer.from(randomScalar()), false)
      writeFileSync(join(dir, `${key.thp}.${kind}`), key.d, { mode: 0o600, flag: 'wx' })
      next.push(key)
    }
    this.#cache.set(nodeId, next)
    return next
  }

  /**
   * Hides the active keys (no longer advertised, still serving recovery) and creates a
   * new pair, like tangd-rotate-keys(1). Returns the new keys.
   */
  rotate(nodeId: string): readonly TangKey[] {
    const dir = this.#nodeDir(nodeId)
    const kept: TangKey[] = []
    for (const k of this.keys(nodeId)) {
      if (!k.hidden) {
        renameSync(join(dir, `${k.thp}.${k.kind}`), join(dir, `.${k.thp}.${k.kind}`))
        kept.push({ ...k, hidden: true })
      } else kept.push(k)
    }
    this.#cache.set(nodeId, kept)
    return this.ensure(nodeId).filter((k) => !k.hidden)
  }

  /** Deletes one key by thumbprint (S256 or S1); true if it existed. Zeroises it. */
  deleteKey(nodeId: string, kid: string): boolean {
    const dir = this.#nodeDir(nodeId)
    const keys = this.keys(nodeId)
    const k = keys.find((x) => x.thp === kid || x.thpS1 === kid)
    if (!k) return false
    unlinkSync(join(dir, `${k.hidden ? '.' : ''}${k.thp}.${k.kind}`))
    k.d.fill(0)
    this.#cache.set(
      nodeId,
      keys.filter((x) => x !== k),
    )
    return true
  }

  /** Crypto-shreds a node: every key of that node is deleted and zeroised. */
  deleteNode(nodeId: string): void {
    const dir = this.#nodeDir(nodeId)
    for (const k of this.keys(nodeId)) k.d.fill(0)
    this.#cache.delete(nodeId)
    rmSync(dir, { recursive: true, force: true })
  }

  /** Zeroises every cached scalar (the files stay). */
  close(): void {
    for (const keys of this.#cache.values()) for (const k of keys) k.d.fill(0)
    this.#cache.clear()
  }
}
