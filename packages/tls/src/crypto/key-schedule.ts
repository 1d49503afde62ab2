/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) as typestate stages (rustls
 * `tls13/key_schedule.rs`): each stage owns only the secrets valid at that point
 * and hands the next stage its input; no object holds "maybe undefined" secrets.
 *
 * ```text
 *             0
 *             |
 *             v
 *   PSK ->  HKDF-Extract = Early Secret                      KeyScheduleEarly
 *             |
 *             +-----> Derive-Secret(., "ext binder" | "res binder", "")
 *             |                     = binder_key
 *             |
 *             +-----> Derive-Secret(., "c e traffic", ClientHello)
 *             |                     = client_early_traffic_secret
 *             v
 *       Derive-Secret(., "derived", "")
 *             |
 *             v
 *   (EC)DHE -> HKDF-Extract = Handshake Secret                KeyScheduleHandshake
 *             |
 *             +-----> Derive-Secret(., "c hs traffic", ClientHello...ServerHello)
 *             |                     = client_handshake_traffic_secret
 *             +-----> Derive-Secret(., "s hs traffic", ClientHello...ServerHello)
 *             |                     = server_handshake_traffic_secret
 *             v
 *       Derive-Secret(., "derived", "")
 *             |
 *             v
 *   0 -> HKDF-Extract = Master Secret                          KeyScheduleTraffic
 *             |
 *             +-----> Derive-Secret(., "c ap traffic", ClientHello...server Finished)
 *             |                     = client_application_traffic_secret_0
 *             +-----> Derive-Secret(., "s ap traffic", ClientHello...server Finished)
 *             |                     = server_application_traffic_secret_0
 *             +-----> Derive-Secret(., "exp master", ClientHello...server Finished)
 *             |                     = exporter_master_secret
 *             +-----> Derive-Secret(., "res master", ClientHello...client Finished)
 *                                   = resumption_master_secret
 * ```
 */
import { deriveSecret, hkdfExpandLabel, hkdfExtract, macKey, type MacKey } from './hkdf.ts'
import { hashOf } from './transcript.ts'
import type { SuiteParams } from './suites.ts'

const EMPTY = new Uint8Array(0)
const EMPTY_HASH = { sha256: hashOf('sha256', EMPTY), sha384: hashOf('sha384', EMPTY) } as const

/** Transcript-Hash("") for Derive-Secret(., "derived", "") and binder keys; computed once. */
function emptyHash(h: 'sha256' | 'sha384'): Uint8Array {
  return EMPTY_HASH[h]
}

/** Public constants of the schedule, per hash: computed (and prepared as HMAC keys) once. */
interface Constants {
  /** HKDF-Extract's salt of zeros (the Early Secret's salt, RFC 8446 §7.1). */
  readonly zeroSalt: MacKey
  /** Without a PSK the Early Secret is HKDF-Extract(0, 0), a public constant. */
  readonly early: Uint8Array
  /** ... and so is Derive-Secret(Early Secret, "derived", ""), the Handshake Secret's salt. */
  readonly derived: MacKey
}
const CONSTANTS = new Map<'sha256' | 'sha384', Constants>()

function constants(suite: SuiteParams): Constants {
  let c = CONSTANTS.get(suite.hash)
  if (!c) {
    const zeros = new Uint8Array(suite.hashLen)
    const zeroSalt = macKey(suite.hash, zeros)
    const early = hkdfExtract(suite.hash, zeroSalt, zeros)
    const derived = macKey(
      suite.hash,
      deriveSecret(suite.hash, early, 'derived', emptyHash(suite.hash)),
    )
    c = { zeroSalt, early, derived }
    CONSTANTS.set(suite.hash, c)
  }
  return c
}

/** Stage 1: the Early Secret, from a resumption PSK or from zeros. */
export class KeyScheduleEarly {
  readonly #suite: SuiteParams
  /** The Early Secret as a prepared HMAC key; undefined without a PSK (a public constant). */
  readonly #earlyKey: MacKey | undefined

  constructor(suite: SuiteParams, psk?: Uint8Array) {
    this.#suite = suite
    if (psk) {
      const earlySecret = hkdfExtract(suite.hash, constants(suite).zeroSalt, psk)
      this.#earlyKey = macKey(suite.hash, earlySecret)
      earlySecret.fill(0)
    }
  }

  #early(): MacKey | Uint8Array {
    return this.#earlyKey ?? constants(this.#suite).early
  }

  /** binder_key for a resumption PSK (RFC 8446 §7.1, §4.2.11.2). */
  resumptionBinderKey(): Uint8Array {
    return deriveSecret(this.#suite.hash, this.#early(), 'res binder', emptyHash(this.#suite.hash))
  }

  /** client_early_traffic_secret (RFC 8446 §7.1); used only in tests, we refuse 0-RTT. */
  clientEarlyTrafficSecret(clientHelloHash: Uint8Array): Uint8Array {
    return deriveSecret(this.#suite.hash, this.#early(), 'c e traffic', clientHelloHash)
  }

  /** Mixes in the (EC)DHE shared secret; `helloHash` covers ClientHello...ServerHello. */
  intoHandshake(sharedSecret: Uint8Array, helloHash: Uint8Array): KeyScheduleHandshake {
    const h = this.#suite.hash
    if (!this.#earlyKey) {
      const handshakeSecret = hkdfExtract(h, constants(this.#suite).derived, sharedSecret)
      return new KeyScheduleHandshake(this.#suite, handshakeSecret, helloHash)
    }
    const derived = deriveSecret(h, this.#earlyKey, 'derived', emptyHash(h))
    const handshakeSecret = hkdfExtract(h, derived, sharedSecret)
    derived.fill(0)
    this.#earlyKey.drop()
    return new KeyScheduleHandshake(this.#suite, handshakeSecret, helloHash)
  }

  /** Zeroises the early secret (e.g. when a PSK is rejected). */
  drop(): void {
    this.#earlyKey?.drop()
  }
}

/** Stage 2: the Handshake Secret and the two handshake traffic secrets. */
export class KeyScheduleHandshake {
  readonly #suite: SuiteParams
  /** The Handshake Secret as a prepared HMAC key, for the three labels expanded from it. */
  readonly #handshakeKey: MacKey
  readonly clientHandshakeTrafficSecret: Uint8Array
  readonly serverHandshakeTrafficSecret: Uint8Array

  constructor(suite: SuiteParams, handshakeSecret: Uint8Array, helloHash: Uint8Array) {
    this.#suite = suite
    this.#handshakeKey = macKey(suite.hash, handshakeSecret)
    handshakeSecret.fill(0)
    this.clientHandshakeTrafficSecret = deriveSecret(
      suite.hash,
      this.#handshakeKey,
      'c hs traffic',
      helloHash,
    )
    this.serverHandshakeTrafficSecret = deriveSecret(
      suite.hash,
      this.#handshakeKey,
      's hs traffic',
      helloHash,
    )
  }

  /** verify_data for the server's Finished (RFC 8446 §4.4.4). */
  serverFinished(transcriptHash: Uint8Array): Uint8Array {
    return finishedVerifyData(this.#suite, this.serverHandshakeTrafficSecret, transcriptHash)
  }

  /** The client's expected verify_data. */
  clientFinished(transcriptHash: Uint8Array): Uint8Array {
    return finishedVerifyData(this.#suite, this.clientHandshakeTrafficSecret, transcriptHash)
  }

  /** Derives the Master Secret; `serverFinishedHash` covers ClientHello...server Finished. */
  intoTraffic(serverFinishedHash: Uint8Array): KeyScheduleTraffic {
    const h = this.#suite.hash
    const derived = deriveSecret(h, this.#handshakeKey, 'derived', emptyHash(h))
    const masterSecret = hkdfExtract(h, derived, new Uint8Array(this.#suite.hashLen))
    derived.fill(0)
    this.#handshakeKey.drop()
    this.serverHandshakeTrafficSecret.fill(0)
    // The client's handshake secret is still needed to read its Finished; the
    // caller keeps it in the read direction and drops it after.
    return new KeyScheduleTraffic(this.#suite, masterSecret, serverFinishedHash)
  }
}

/** Stage 3: the Master Secret, application traffic secrets, awaiting the client's Finished. */
export class KeyScheduleTraffic {
  readonly #suite: SuiteParams
  /** The Master Secret as a prepared HMAC key, for the labels expanded from it. */
  readonly #masterKey: MacKey
  readonly clientApplicationTrafficSecret0: Uint8Array
  readonly serverApplicationTrafficSecret0: Uint8Array
  readonly #serverFinishedHash: Uint8Array

  constructor(suite: SuiteParams, masterSecret: Uint8Array, serverFinishedHash: Uint8Array) {
    const h = suite.hash
    this.#suite = suite
    this.#masterKey = macKey(h, masterSecret)
    masterSecret.fill(0)
    this.#serverFinishedHash = serverFinishedHash
    this.clientApplicationTrafficSecret0 = deriveSecret(
      h,
      this.#masterKey,
      'c ap traffic',
      serverFinishedHash,
    )
    this.serverApplicationTrafficSecret0 = deriveSecret(
      h,
      this.#masterKey,
      's ap traffic',
      serverFinishedHash,
    )
  }

  /** exporter_master_secret, derived only on request (nothing in the server exports keys yet). */
  get exporterMasterSecret(): Uint8Array {
    return deriveSecret(this.#suite.hash, this.#masterKey, 'exp master', this.#serverFinishedHash)
  }

  /** resumption_master_secret; `clientFinishedHash` covers ClientHello...client Finished. Ends the schedule. */
  resumptionMasterSecret(clientFinishedHash: Uint8Array): Uint8Array {
    const rms = deriveSecret(this.#suite.hash, this.#masterKey, 'res master', clientFinishedHash)
    this.#masterKey.drop()
    return rms
  }

  drop(): void {
    this.#masterKey.drop()
  }
}

/** verify_data = HMAC(finished_key, Transcript-Hash) (RFC 8446 §4.4.4). */
export function finishedVerifyData(
  suite: SuiteParams,
  baseKey: Uint8Array,
  transcriptHash: Uint8Array,
): Uint8Array {
  const finishedKey = hkdfExpandLabel(suite.hash, baseKey, 'finished', EMPTY, suite.hashLen)
  const key = macKey(suite.hash, finishedKey)
  finishedKey.fill(0)
  const out = key.mac(transcriptHash)
  key.drop()
  return out
}

/** The PSK for a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", nonce, Hash.length) (RFC 8446 §4.6.1). */
export function resumptionPsk(
  suite: SuiteParams,
  rms: Uint8Array,
  ticketNonce: Uint8Array,
): Uint8Array {
  return hkdfExpandLabel(suite.hash, rms, 'resumption', ticketNonce, suite.hashLen)
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(suite: SuiteParams, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(suite.hash, secret, 'traffic upd', EMPTY, suite.hashLen)
}

/** [sender]_write_key and [sender]_write_iv (RFC 8446 §7.3). */
export function trafficKeys(
  suite: SuiteParams,
  secret: Uint8Array,
): { key: Uint8Array; iv: Uint8Array } {
  const prk = macKey(suite.hash, secret)
  const keys = {
    key: hkdfExpandLabel(suite.hash, prk, 'key', EMPTY, suite.keyLen),
    iv: hkdfExpandLabel(suite.hash, prk, 'iv', EMPTY, 12),
  }
  prk.drop()
  return keys
}
