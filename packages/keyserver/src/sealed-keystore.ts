/**
 * The directory keystore, encrypted at rest (threat model P11). A random 256-bit
 * root key is split into n Shamir shares, any k of which rebuild it; it is never
 * stored. From it we derive (HKDF-SHA256, RFC 5869) a check key and a key
 * encryption key:
 *
 *   keystore.json     { version, id, shares, threshold, check }   check = HMAC(checkKey, label)
 *   keys/<ski>.json   { version, ski, type, policy, iv, sealed }  AES-256-GCM(kek, PKCS#8),
 *                                                                 AAD = ski, type and policy
 *
 * The store starts sealed. Shares arrive one at a time; when k are in, the root
 * key is rebuilt and checked against `check` (wrong or foreign shares are
 * detected there, not by decrypting garbage), the key files are opened, and the
 * root key is zeroised. `seal()` drops every key and the key encryption key.
 * Because the policy is in the AAD, editing it on disk makes the file fail to open.
 */
import { createHmac, hkdfSync, randomBytes, createCipheriv, createDecipheriv } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { aes256GcmOnce } from '@outpost/tls'
import { ctEqual, toHex, fromHex } from '@outpost/wire'
import { KeyServerError, ShareError } from './errors.ts'
import {
  exportPkcs8,
  loadSoftwareKey,
  wipeSoftwareKey,
  type KeyType,
  type SoftwareKey,
} from './keys.ts'
import type { Keystore, KeystoreKey, KeyListing, SealStatus } from './keystore.ts'
import { softwareBackend } from './ops.ts'
import { parseKeyPolicy, type KeyPolicy } from './policy.ts'
import { combine, decodeShare, encodeShare, split, type Share } from './shamir.ts'

const ROOT_KEY_BYTES = 32
const CHECK_LABEL = 'outpost keystore check v1'
const DEV_SHARES_FILE = 'dev-shares.txt'

interface KeystoreMeta {
  version: 1
  id: string
  shares: number
  threshold: number
  check: string
}

interface KeyFile {
  version: 1
  ski: string
  type: KeyType
  policy: KeyPolicy
  iv: string
  sealed: string
}

export interface InitOptions {
  readonly shares: number
  readonly threshold: number
  /** Dev mode: also write the shares into the keystore directory (never in production). */
  readonly keepSharesForDev?: boolean
}

function derive(root: Uint8Array, id: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', root, fromHex(id), info, 32))
}

function checkValue(root: Uint8Array, id: string): Buffer {
  const k = derive(root, id, 'outpost keystore v1 check')
  try {
    return createHmac('sha256', k).update(CHECK_LABEL).digest()
  } finally {
    k.fill(0)
  }
}

/** JSON with sorted object keys, so the AAD does not depend on property order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

function aadOf(ski: string, type: string, policy: KeyPolicy): Buffer {
  return Buffer.from(stableJson({ v: 1, ski, type, policy }))
}

function writePrivate(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, data, { mode: 0o600 })
  renameSync(tmp, path)
}

/**
 * Creates a keystore in `dir`: a new root key, its check value, and `shares`
 * shares of it with the given threshold. Returns the printable shares; this is
 * the only time they exist.
 */
export function initKeystore(dir: string, o: InitOptions): string[] {
  const metaPath = join(dir, 'keystore.json')
  if (existsSync(metaPath)) {
    throw new KeyServerError(
      'ERR_KEYSERVER_KEYSTORE',
      `Cannot initialise keystore: ${metaPath} already exists`,
    )
  }
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 })
  const root = randomBytes(ROOT_KEY_BYTES)
  const id = toHex(randomBytes(16))
  try {
    const shares = split(root, o.shares, o.threshold)
    const meta: KeystoreMeta = {
      version: 1,
      id,
      shares: o.shares,
      threshold: o.threshold,
      check: toHex(checkValue(root, id)),
    }
    const printable = shares.map(encodeShare)
    for (const s of shares) s.y.fill(0)
    if (o.keepSharesForDev === true) {
      writePrivate(join(dir, DEV_SHARES_FILE), printable.slice(0, o.threshold).join('\n') + '\n')
    }
    writePrivate(metaPath, JSON.stringify(meta, null, 2) + '\n')
    return printable
  } finally {
    root.fill(0)
  }
}

export interface ShareProgress {
  readonly sealed: boolean
  readonly progress: number
  readonly threshold: number
}

export class DirectoryKeystore implements Keystore {
  readonly kind = 'directory'
  readonly #dir: string
  readonly #meta: KeystoreMeta
  readonly #keys = new Map<string, { key: KeystoreKey; soft: SoftwareKey }>()
  readonly #pending = new Map<number, Share>()
  #kek: Buffer | undefined
  /** Key files that failed to open at unseal, with the reason. */
  readonly loadErrors: string[] = []

  private constructor(dir: string, meta: KeystoreMeta) {
    this.#dir = dir
    this.#meta = meta
  }

  /** Opens an initialised keystore directory, sealed. */
  static open(dir: string): DirectoryKeystore {
    const metaPath = join(dir, 'keystore.json')
    let meta: Partial<Record<keyof KeystoreMeta, unknown>>
    try {
      meta = JSON.parse(readFileSync(metaPath, 'utf8')) as typeof meta
    } catch (e) {
      throw new KeyServerError(
        'ERR_KEYSERVER_KEYSTORE',
        `Cannot open keystore ${dir}: ${metaPath} is missing or not JSON (run 'outpost keyserver init')`,
        { cause: e },
      )
    }
    if (
      meta.version !== 1 ||
      typeof meta.check !== 'string' ||
      typeof meta.id !== 'string' ||
      !/^[0-9a-f]{64}$/.test(meta.check) ||
      !/^[0-9a-f]{32}$/.test(meta.id) ||
      typeof meta.shares !== 'number' ||
      typeof meta.threshold !== 'number'
    ) {
      throw new KeyServerError(
        'ERR_KEYSERVER_KEYSTORE',
        `Cannot open keystore ${dir}: unsupported keystore.json`,
      )
    }
    return new DirectoryKeystore(dir, meta as KeystoreMeta)
  }

  isSealed(): boolean {
    return this.#kek === undefined
  }

  status(): SealStatus {
    return {
      kind: 'directory',
      sealed: this.isSealed(),
      progress: this.#pending.size,
      threshold: this.#meta.threshold,
      shares: this.#meta.shares,
      keys: this.#keys.size,
    }
  }

  find(skiHex: string): KeystoreKey | undefined {
    return this.#keys.get(skiHex)?.key
  }

  list(): KeyListing[] {
    return [...this.#keys.values()].map(({ key }) => ({
      ski: key.skiHex,
      type: key.type,
      policy: key.policy,
    }))
  }

  /**
   * Adds one printable share (as bytes). When the threshold is reached the
   * store unseals, or throws ERR_KEYSERVER_UNSEAL (and forgets the shares) if
   * they do not rebuild the root key.
   */
  submitShare(input: Uint8Array): ShareProgress {
    if (!this.isSealed()) return { sealed: false, progress: 0, threshold: this.#meta.threshold }
    const share = decodeShare(input)
    if (share.y.length !== ROOT_KEY_BYTES) {
      share.y.fill(0)
      throw new ShareError(
        `Cannot use share: expected ${ROOT_KEY_BYTES} bytes, got ${share.y.length}`,
      )
    }
    const before = this.#pending.get(share.x)
    if (before !== undefined) {
      const same = ctEqual(before.y, share.y)
      share.y.fill(0)
      if (!same) {
        this.#forgetShares()
        throw new ShareError(
          `Cannot use share: share ${share.x} was already given with a different value; progress reset`,
        )
      }
      return { sealed: true, progress: this.#pending.size, threshold: this.#meta.threshold }
    }
    this.#pending.set(share.x, share)
    if (this.#pending.size < this.#meta.threshold) {
      return { sealed: true, progress: this.#pending.size, threshold: this.#meta.threshold }
    }
    const root = combine([...this.#pending.values()])
    this.#forgetShares()
    try {
      if (!ctEqual(checkValue(root, this.#meta.id), fromHex(this.#meta.check))) {
        throw new KeyServerError(
          'ERR_KEYSERVER_UNSEAL',
          "Cannot unseal: the shares do not rebuild this keystore's root key; progress reset",
        )
      }
      this.#kek = derive(root, this.#meta.id, 'outpost keystore v1 key encryption')
    } finally {
      root.fill(0)
    }
    this.#loadKeys()
    return { sealed: false, progress: 0, threshold: this.#meta.threshold }
  }

  /** Dev mode: unseal with the shares kept in the directory by `initKeystore({ keepSharesForDev })`. */
  unsealFromDevShares(): boolean {
    const path = join(this.#dir, DEV_SHARES_FILE)
    if (!existsSync(path)) return false
    const buf = readFileSync(path)
    try {
      let start = 0
      for (let i = 0; i <= buf.length && this.isSealed(); i++) {
        if (i === buf.length || buf[i] === 0x0a) {
          if (i > start) this.submitShare(buf.subarray(start, i))
          start = i + 1
        }
      }
    } finally {
      buf.fill(0)
    }
    return !this.isSealed()
  }

  /** Drops every key, pending share and the key encryption key. */
  seal(): void {
    this.#forgetShares()
    for (const { soft } of this.#keys.values()) wipeSoftwareKey(soft)
    this.#keys.clear()
    this.#kek?.fill(0)
    this.#kek = undefined
  }

  /**
   * Seals `keyInput` (PEM or PKCS#8 DER bytes) into the directory under `policy`
   * and makes it available at once. Replaces a key with the same SKI.
   */
  importKey(keyInput: Uint8Array, policy: KeyPolicy = {}): KeyListing {
    const kek = this.#kek
    if (kek === undefined) {
      throw new KeyServerError('ERR_KEYSERVER_SEALED', 'Cannot import key: the keystore is sealed')
    }
    const checked = parseKeyPolicy(policy)
    const soft = loadSoftwareKey(keyInput)
    const der = exportPkcs8(soft)
    const iv = randomBytes(12)
    try {
      const cipher = createCipheriv('aes-256-gcm', kek, iv)
      cipher.setAAD(aadOf(soft.skiHex, soft.type, checked))
      const sealed = Buffer.concat([cipher.update(der), cipher.final(), cipher.getAuthTag()])
      // (ciphertext only from here on; nothing secret left in these buffers)
      const file: KeyFile = {
        version: 1,
        ski: soft.skiHex,
        type: soft.type,
        policy: checked,
        iv: iv.toString('base64'),
        sealed: sealed.toString('base64'),
      }
      writePrivate(
        join(this.#dir, 'keys', `${soft.skiHex}.json`),
        JSON.stringify(file, null, 2) + '\n',
      )
    } finally {
      der.fill(0)
    }
    const old = this.#keys.get(soft.skiHex)
    if (old !== undefined) wipeSoftwareKey(old.soft)
    this.#add(soft, checked)
    return { ski: soft.skiHex, type: soft.type, policy: checked }
  }

  close(): Promise<void> {
    this.seal()
    return Promise.resolve()
  }

  #add(soft: SoftwareKey, policy: KeyPolicy): void {
    this.#keys.set(soft.skiHex, {
      soft,
      key: { skiHex: soft.skiHex, type: soft.type, policy, backend: softwareBackend(soft) },
    })
  }

  #forgetShares(): void {
    for (const s of this.#pending.values()) s.y.fill(0)
    this.#pending.clear()
  }

  #loadKeys(): void {
    const kek = this.#kek
    if (kek === undefined) return
    this.loadErrors.length = 0
    const dir = join(this.#dir, 'keys')
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : []
    for (const name of names) {
      let plain: Buffer | undefined
      try {
        const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as KeyFile
        const policy = parseKeyPolicy(file.policy)
        const blob = Buffer.from(file.sealed, 'base64')
        plain = openSealed(
          kek,
          Buffer.from(file.iv, 'base64'),
          aadOf(file.ski, file.type, file.policy),
          blob,
        )
        const soft = loadSoftwareKey(plain)
        if (soft.skiHex !== file.ski || soft.type !== file.type)
          throw new Error('SKI or type does not match the key')
        this.#add(soft, policy)
      } catch (e) {
        this.loadErrors.push(`${name}: ${(e as Error).message}`)
      } finally {
        plain?.fill(0)
      }
    }
  }
}

const NOT_AUTHENTIC = 'the sealed key does not authenticate (tampered file or policy)'

/**
 * Opens a sealed key file's blob (ciphertext ‖ 16-byte tag) into a new Buffer that the
 * caller zeroes. The native addon decrypts straight into that Buffer. A Decipher's update()
 * (the fallback without the addon) decrypts into input + 1 bytes and copies the result into
 * an exact-size buffer, freeing the first uncleared: a copy of the key's DER stays in freed
 * native memory until something reuses it, past `seal`.
 */
function openSealed(kek: Uint8Array, iv: Uint8Array, aad: Uint8Array, blob: Buffer): Buffer {
  if (blob.length < 16) throw new Error('sealed blob shorter than its tag')
  if (aes256GcmOnce !== undefined) {
    const out = Buffer.alloc(blob.length - 16)
    if (!aes256GcmOnce.open(kek, iv, aad, blob, out, 0)) throw new Error(NOT_AUTHENTIC)
    return out
  }
  const decipher = createDecipheriv('aes-256-gcm', kek, iv)
  decipher.setAAD(aad)
  decipher.setAuthTag(blob.subarray(blob.length - 16))
  const head = decipher.update(blob.subarray(0, blob.length - 16))
  try {
    decipher.final()
    const out = Buffer.alloc(head.length)
    head.copy(out)
    return out
  } catch {
    throw new Error(NOT_AUTHENTIC)
  } finally {
    head.fill(0)
  }
}
