/**
 * The server's handshake states (rustls `server/tls13.rs`): one type per state,
 * discriminated by `kind`, each holding only what is valid at that point. A
 * handler consumes a state plus one handshake message and returns the next
 * state; the machine (machine.ts) switches over `kind` exhaustively.
 *
 * ```text
 *  ExpectClientHello ──HRR──> ExpectClientHello2
 *         │                          │
 *         ├──────────────┬───────────┘
 *         │ full         │ resumed (no signature)
 *         v              │
 *  AwaitSignature        │   (the driver runs signer.sign; no input is read)
 *         │              │
 *         v              v
 *       ExpectFinished ──> Traffic ──> Closed
 * ```
 */
import type { NamedGroup, SignatureScheme } from '../constants.ts'
import type { KeyScheduleHandshake, KeyScheduleTraffic } from '../crypto/key-schedule.ts'
import type { SuiteParams } from '../crypto/suites.ts'
import type { Transcript } from '../crypto/transcript.ts'
import type { ClientHello, ClientHelloExtensions } from '../messages/client-hello.ts'
import type { Signer } from '../signer.ts'

/** What was agreed, for getInfo() and for the steps after ServerHello. */
export interface Negotiated {
  readonly suite: SuiteParams
  readonly group: NamedGroup
  readonly serverName: string | undefined
  readonly alpn: Uint8Array | undefined
  readonly resumed: boolean
  readonly helloRetry: boolean
  readonly scheme: SignatureScheme | undefined
}

export interface ExpectClientHello {
  readonly kind: 'ExpectClientHello'
}

/** After a HelloRetryRequest (RFC 8446 §4.1.4). */
export interface ExpectClientHello2 {
  readonly kind: 'ExpectClientHello2'
  readonly clientHello1: ClientHello
  readonly clientHello1Hash: Uint8Array
  readonly extensions1: ClientHelloExtensions
  readonly suite: SuiteParams
  readonly group: NamedGroup
  readonly cookie: Uint8Array
  /** message_hash(ClientHello1) ‖ HelloRetryRequest. */
  readonly transcript: Transcript
}

/** A signature request for the driver. */
export interface SignRequest {
  readonly signer: Signer
  readonly scheme: SignatureScheme
  /** The whole CertificateVerify input (RFC 8446 §4.4.3). */
  readonly content: Uint8Array
  readonly serverName: string | undefined
}

export interface AwaitSignature {
  readonly kind: 'AwaitSignature'
  readonly request: SignRequest
  readonly transcript: Transcript
  readonly keys: KeyScheduleHandshake
  readonly negotiated: Negotiated
}

export interface ExpectFinished {
  readonly kind: 'ExpectFinished'
  readonly transcript: Transcript
  readonly keys: KeyScheduleTraffic
  readonly expectedVerifyData: Uint8Array
  readonly negotiated: Negotiated
}

export interface Traffic {
  readonly kind: 'Traffic'
  readonly negotiated: Negotiated
}

export interface Closed {
  readonly kind: 'Closed'
  readonly negotiated: Negotiated | undefined
}

export type ServerState =
  ExpectClientHello | ExpectClientHello2 | AwaitSignature | ExpectFinished | Traffic | Closed
