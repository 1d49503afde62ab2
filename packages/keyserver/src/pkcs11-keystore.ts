/**
 * A keystore on a PKCS#11 token (an HSM, or SoftHSM2 in tests). Keys never
 * leave the token; each operation is one Cryptoki call made in a worker thread
 * (pkcs11-worker.ts). The keyless operations map onto mechanisms:
 *
 *   ECDSA over a digest     CKM_ECDSA, raw r‖s converted to DER here
 *   RSA PKCS#1 v1.5 sign    CKM_RSA_PKCS over DigestInfo‖hash (or MD5‖SHA-1)
 *   RSA-PSS over a hash     CKM_RSA_PKCS_PSS, MGF1 with the same hash, salt = hash length
 *   RSA raw decrypt         CKM_RSA_X_509
 *   Ed25519                 CKM_EDDSA (if the token supports it)
 *   context-bound TLS 1.3   checked and hashed here, then one of the above
 *
 * The token is never "sealed" in our sense: its PIN (from an environment
 * variable named in the config) is the unlock step.
 */
import { createPublicKey } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { Reader, toHex } from '@outpost/wire'
import { ErrorCode, skiOf } from './_keyless.ts'
import { derTlv, ecdsaRawToDer } from './_der.ts'
import { KeyServerError, OperationError } from './errors.ts'
import { KeyType } from './keys.ts'
import type { Keystore, KeystoreKey, KeyListing, SealStatus } from './keystore.ts'
import { hashContent, tls13HashOf, type KeyBackend } from './ops.ts'
import type { KeyPolicy } from './policy.ts'
import type {
  Pkcs11KeyInfo,
  Pkcs11Mechanism,
  Pkcs11Reply,
  Pkcs11Request,
  Pkcs11WorkerData,
} from './pkcs11-worker.ts'

export interface Pkcs11Options {
  readonly module: string
  readonly tokenLabel: string
  /** User PIN bytes; zeroised once the worker has logged in. */
  readonly pin: Uint8Array
  /** Policy per SKI (hex). */
  readonly policies?: ReadonlyMap<string, KeyPolicy>
  /** Per-operation timeout (default 5000 ms): a hung token answers CryptoFailed. */
  readonly timeoutMs?: number
}

const P256_OID = '06082a8648ce3d030107'
const P384_OID = '06052b81040022'

function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url')
}

/** Public key, type and SKI of a token key from its public attributes. */
function describe(
  info: Pkcs11KeyInfo,
): { type: KeyType; ski: Uint8Array; modulusBits: number } | undefined {
  if (info.keyType === 'rsa' && info.modulus && info.publicExponent) {
    const pub = createPublicKey({
      key: { kty: 'RSA', n: b64url(info.modulus), e: b64url(info.publicExponent) },
      format: 'jwk',
    })
    return {
      type: KeyType.Rsa,
      ski: skiOf(pub),
      modulusBits: pub.asymmetricKeyDetails?.modulusLength ?? 0,
    }
  }
  if (info.ecPoint === undefined || info.ecParams === undefined) return undefined
  // CKA_EC_POINT is a DER OCTET STRING around the point (some tokens give it bare).
  let point = info.ecPoint
  if (point[0] === 0x04 && point.length > 2 && point[1] === point.length - 2) {
    point = derTlv(new Reader(point, 'CKA_EC_POINT'), 0x04, 'CKA_EC_POINT').rest()
  }
  const params = toHex(info.ecParams)
  let type: KeyType
  if (info.keyType === 'ec-edwards') {
    if (point.length !== 32) return undefined
    type = KeyType.Ed25519
    const pub = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: b64url(point) },
      format: 'jwk',
    })
    return { type, ski: skiOf(pub), modulusBits: 0 }
  }
  if (params === P256_OID) type = KeyType.EcdsaP256
  else if (params === P384_OID) type = KeyType.EcdsaP384
  else return undefined
  const size = type === KeyType.EcdsaP256 ? 32 : 48
  const pub = createPublicKey({
    key: {
      kty: 'EC',
      crv: type === KeyType.EcdsaP256 ? 'P-256' : 'P-384',
      x: b64url(point.subarray(1, 1 + size)),
      y: b64url(point.subarray(1 + size)),
    },
    format: 'jwk',
  })
  return { type, ski: skiOf(pub), modulusBits: 0 }
}

export class Pkcs11Keystore implements Keystore {
  readonly kind = 'pkcs11'
  readonly #worker: Worker
  readonly #keys = new Map<string, KeystoreKey>()
  readonly #pending = new Map<
    number,
    { resolve: (b: Uint8Array) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >()
  readonly #timeoutMs: number
  #nextId = 0
  #closed = false

  private constructor(worker: Worker, timeoutMs: number) {
    this.#worker = worker
    this.#timeoutMs = timeoutMs
  }

  /** Starts the worker, logs in to the token and lists its keys. */
  static async open(o: Pkcs11Options): Promise<Pkcs11Keystore> {
    const data: Pkcs11WorkerData = { module: o.module, tokenLabel: o.tokenLabel, pin: o.pin }
    const worker = new Worker(new URL('./pkcs11-worker.ts', import.meta.url), { workerData: data })
    o.pin.fill(0)
    const store = new Pkcs11Keystore(worker, o.timeoutMs ?? 5000)
    const keys = await new Promise<Pkcs11KeyInfo[]>((resolve, reject) => {
      const onError = (e: Error): void => {
        reject(
          new KeyServerError('ERR_KEYSERVER_PKCS11', `Cannot open PKCS#11 token: ${e.message}`, {
            cause: e,
          }),
        )
      }
      worker.once('error', onError)
      worker.once('message', (m: Pkcs11Reply) => {
        worker.off('error', onError)
        if (m.kind === 'ready') resolve(m.keys)
        else {
          reject(
            new KeyServerError(
              'ERR_KEYSERVER_PKCS11',
              `Cannot open PKCS#11 token "${o.tokenLabel}": ${m.kind === 'fatal' ? m.message : 'unexpected message'}`,
            ),
          )
        }
      })
    }).catch(async (e: unknown) => {
      await worker.terminate()
      throw e
    })
    worker.on('message', (m: Pkcs11Reply) => {
      store.#onReply(m)
    })
    worker.on('error', (e: Error) => {
      store.#failAll(e)
    })
    worker.unref()
    for (const info of keys) {
      const d = describe(info)
      if (d === undefined) continue
      const skiHex = toHex(d.ski)
      store.#keys.set(skiHex, {
        skiHex,
        type: d.type,
        policy: o.policies?.get(skiHex) ?? {},
        backend: store.#backend(info.index, d.type, d.modulusBits),
      })
    }
    return store
  }

  isSealed(): boolean {
    return this.#closed
  }

  find(skiHex: string): KeystoreKey | undefined {
    return this.#keys.get(skiHex)
  }

  list(): KeyListing[] {
    return [...this.#keys.values()].map((k) => ({ ski: k.skiHex, type: k.type, policy: k.policy }))
  }

  status(): SealStatus {
    return {
      kind: 'pkcs11',
      sealed: this.#closed,
      progress: 0,
      threshold: 0,
      shares: 0,
      keys: this.#keys.size,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#keys.clear()
    this.#failAll(new Error('keystore closed'))
    this.#worker.postMessage('close')
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        void this.#worker.terminate().then(() => {
          resolve()
        })
      }, 2000)
      this.#worker.once('exit', () => {
        clearTimeout(t)
        resolve()
      })
    })
  }

  #call(
    key: number,
    mech: Pkcs11Mechanism,
    data: Uint8Array,
    hash?: 'sha256' | 'sha384' | 'sha512',
  ): Promise<Uint8Array> {
    if (this.#closed)
      return Promise.reject(
        new OperationError(ErrorCode.CryptoFailed, 'Cannot sign: keystore closed'),
      )
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new OperationError(
            ErrorCode.CryptoFailed,
            `Cannot sign: the token did not answer in ${this.#timeoutMs} ms`,
          ),
        )
      }, this.#timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      // postMessage clones a view's whole buffer: send only these bytes.
      const own = data.byteLength === data.buffer.byteLength ? data : data.slice()
      const req: Pkcs11Request = {
        id,
        key,
        mech,
        data: own,
        ...(hash !== undefined ? { hash } : {}),
      }
      this.#worker.postMessage(req)
    })
  }

  #onReply(m: Pkcs11Reply): void {
    if (m.kind !== 'result' && m.kind !== 'error') return
    const p = this.#pending.get(m.id)
    if (p === undefined) return
    this.#pending.delete(m.id)
    clearTimeout(p.timer)
    if (m.kind === 'result') p.resolve(m.data)
    else
      p.reject(new OperationError(ErrorCode.CryptoFailed, `Cannot sign on the token: ${m.message}`))
  }

  #failAll(e: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new OperationError(ErrorCode.CryptoFailed, `Cannot sign on the token: ${e.message}`))
      this.#pending.delete(id)
    }
  }

  #backend(index: number, type: KeyType, modulusBits: number): KeyBackend {
    const ecdsa = async (digest: Uint8Array): Promise<Uint8Array> =>
      ecdsaRawToDer(await this.#call(index, 'ecdsa', digest))
    return {
      type,
      modulusBits,
      rsaRaw: (input) => this.#call(index, 'rsa-x509', input),
      rsaPkcs1: (data) => this.#call(index, 'rsa-pkcs', data),
      rsaPss: (hash, alg) => this.#call(index, 'rsa-pss', hash, alg),
      ecdsaDigest: ecdsa,
      ed25519: (message) => this.#call(index, 'eddsa', message),
      signTls13: (scheme, content) => {
        const alg = tls13HashOf(scheme)
        if (type === KeyType.Ed25519 || alg === undefined)
          return this.#call(index, 'eddsa', content)
        const digest = hashContent(alg, content)
        return type === KeyType.Rsa ? this.#call(index, 'rsa-pss', digest, alg) : ecdsa(digest)
      },
    }
  }
}
