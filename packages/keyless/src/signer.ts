/**
 * A TLS `Signer` whose key lives on a key server (gokeyless exposes its remote
 * key as Go's `crypto.Signer`; this is the asynchronous equivalent).
 *
 * 'context' mode (default) sends the whole TLS 1.3 CertificateVerify content
 * (RFC 8446 §4.4.3) under Op.SignTls13 with the scheme in Tag.SignatureScheme;
 * our key server checks that it is one before signing, so a stolen edge
 * identity cannot get arbitrary digests signed. 'digest' mode is for
 * third-party key servers without that extension: it hashes locally and uses
 * the standard v1 opcodes (Ed25519 sends the whole content, as its op requires).
 */
import { constants, createHash, verify, type KeyObject } from 'node:crypto'
// The constants only: the TLS engine (and its native addon) stays out of key-server processes.
import {
  SignatureScheme,
  hashOfSignatureScheme,
  nameOfSignatureScheme,
} from '@outpost/tls/constants'
import type { SignContext, Signer } from '@outpost/tls'
import type { KeylessClient } from './client.ts'
import { Op } from './codec/constants.ts'
import type { Operation } from './codec/frame.ts'
import { KeylessProtocolError, KeylessSchemeError } from './errors.ts'

export interface RemoteSignerOptions {
  client: KeylessClient
  /** SKI of the key (see `skiOf`). */
  ski: Uint8Array
  /** TLS 1.3 schemes the remote key can produce, in preference order. */
  schemes: readonly SignatureScheme[]
  mode?: 'context' | 'digest'
  /** If given, every signature is verified before it is returned (catches a wrong key on the server). */
  publicKey?: KeyObject
}

/** The v1 opcode that signs a locally computed digest for each TLS 1.3 scheme. */
const digestOps = new Map<number, number>([
  [SignatureScheme.ecdsa_secp256r1_sha256, Op.EcdsaSignSha256],
  [SignatureScheme.ecdsa_secp384r1_sha384, Op.EcdsaSignSha384],
  [SignatureScheme.ecdsa_secp521r1_sha512, Op.EcdsaSignSha512],
  [SignatureScheme.rsa_pss_rsae_sha256, Op.RsaPssSignSha256],
  [SignatureScheme.rsa_pss_rsae_sha384, Op.RsaPssSignSha384],
  [SignatureScheme.rsa_pss_rsae_sha512, Op.RsaPssSignSha512],
  [SignatureScheme.rsa_pss_pss_sha256, Op.RsaPssSignSha256],
  [SignatureScheme.rsa_pss_pss_sha384, Op.RsaPssSignSha384],
  [SignatureScheme.rsa_pss_pss_sha512, Op.RsaPssSignSha512],
  [SignatureScheme.ed25519, Op.Ed25519Sign],
])

/**
 * @example
 * ```ts
 * const signer = new RemoteSigner({ client, ski: skiOf(cert.publicKey), schemes: [SignatureScheme.ecdsa_secp256r1_sha256] })
 * const sig = await signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, certificateVerifyContent, { serverName })
 * ```
 */
export class RemoteSigner implements Signer {
  readonly schemes: readonly SignatureScheme[]
  readonly #client: KeylessClient
  readonly #ski: Uint8Array
  readonly #mode: 'context' | 'digest'
  readonly #publicKey: KeyObject | undefined

  constructor(o: RemoteSignerOptions) {
    if (o.ski.length !== 20)
      throw new TypeError(`RemoteSigner needs a 20-byte SKI, got ${o.ski.length}`)
    this.#client = o.client
    this.#ski = o.ski.slice()
    this.#mode = o.mode ?? 'context'
    this.#publicKey = o.publicKey
    if (this.#mode === 'digest') {
      for (const s of o.schemes) {
        if (!digestOps.has(s)) {
          throw new KeylessSchemeError(
            `RemoteSigner cannot sign ${nameOfSignatureScheme(s)} in digest mode`,
          )
        }
      }
    }
    this.schemes = [...o.schemes]
  }

  async sign(
    scheme: SignatureScheme,
    content: Uint8Array,
    context?: SignContext,
  ): Promise<Uint8Array> {
    if (!this.schemes.includes(scheme)) {
      throw new KeylessSchemeError(
        `RemoteSigner was not configured for ${nameOfSignatureScheme(scheme)}`,
      )
    }
    const op: Operation = { opcode: Op.SignTls13, ski: this.#ski }
    if (this.#mode === 'context') {
      op.signatureScheme = scheme
      op.payload = content
    } else {
      const opcode = digestOps.get(scheme)
      if (opcode === undefined) {
        throw new KeylessSchemeError(
          `RemoteSigner cannot sign ${nameOfSignatureScheme(scheme)} in digest mode`,
        )
      }
      op.opcode = opcode
      const hash = hashOfSignatureScheme(scheme)
      op.payload =
        hash === undefined ? content : new Uint8Array(createHash(hash).update(content).digest())
    }
    if (context?.serverName !== undefined) op.serverName = context.serverName
    if (context?.clientIp !== undefined) op.clientIp = context.clientIp
    if (context?.serverIp !== undefined) op.serverIp = context.serverIp
    const answer = await this.#client.execute(
      op,
      context?.signal !== undefined ? { signal: context.signal } : {},
    )
    const signature = answer.payload
    if (signature === undefined || signature.length === 0) {
      throw new KeylessProtocolError('Key server answered a signature request with no signature')
    }
    if (this.#publicKey !== undefined && !verifies(this.#publicKey, scheme, content, signature)) {
      throw new KeylessProtocolError(
        `Key server returned a ${nameOfSignatureScheme(scheme)} signature that does not verify`,
      )
    }
    return signature
  }
}

function verifies(key: KeyObject, scheme: number, content: Uint8Array, sig: Uint8Array): boolean {
  const hash = hashOfSignatureScheme(scheme) ?? null
  const isPss =
    scheme >= 0x0804 &&
    scheme <= 0x080b &&
    scheme !== SignatureScheme.ed25519 &&
    scheme !== SignatureScheme.ed448
  try {
    return verify(
      hash,
      content,
      isPss
        ? {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          }
        : key,
      sig,
    )
  } catch {
    return false
  }
}
