/**
 * TLS errors grouped by who is at fault (rustls `error/mod.rs`), and `alertFor()`,
 * the ONLY mapping from an error to the alert the peer receives. Handlers throw;
 * the connection (server/machine.ts) is the only code that sends alerts, and a
 * fatal error makes the connection's state sticky (Go `setErrorLocked`).
 *
 * The peer learns only the alert; the message and `cause` are for our logs.
 */
import { DecodeError as WireDecodeError } from '@outpost/wire'
import { AlertDescription, nameOfAlert } from './constants.ts'

export type TlsErrorCode =
  | 'ERR_TLS_DECODE'
  | 'ERR_TLS_PEER_MISBEHAVED'
  | 'ERR_TLS_PEER_INCOMPATIBLE'
  | 'ERR_TLS_INTERNAL'
  | 'ERR_TLS_ALERT_RECEIVED'
  | 'ERR_TLS_CLOSED'
  | 'ERR_TLS_TIMEOUT'

/** Base class of every error this package throws. */
export class TlsError extends Error {
  readonly code: TlsErrorCode
  constructor(code: TlsErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = this.constructor.name
  }
}

/** A message that does not parse: decode_error (RFC 8446 §6.2). */
export class TlsDecodeError extends TlsError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TLS_DECODE', message, options)
  }
}

/** The peer broke the protocol; carries the specific alert (illegal_parameter, unexpected_message, ...). */
export class PeerMisbehavedError extends TlsError {
  readonly alert: AlertDescription
  constructor(alert: AlertDescription, message: string, options?: ErrorOptions) {
    super('ERR_TLS_PEER_MISBEHAVED', message, options)
    this.alert = alert
  }
}

/** The peer is well-behaved but we share nothing to talk with (handshake_failure, protocol_version, ...). */
export class PeerIncompatibleError extends TlsError {
  readonly alert: AlertDescription
  constructor(alert: AlertDescription, message: string, options?: ErrorOptions) {
    super('ERR_TLS_PEER_INCOMPATIBLE', message, options)
    this.alert = alert
  }
}

/** Our fault (a failed signer, a bug): internal_error. */
export class InternalError extends TlsError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TLS_INTERNAL', message, options)
  }
}

/** The peer sent a fatal alert (or close_notify); we answer with nothing. */
export class AlertReceivedError extends TlsError {
  readonly alert: number
  constructor(alert: number) {
    super('ERR_TLS_ALERT_RECEIVED', `Cannot continue: peer sent alert ${nameOfAlert(alert)}`)
    this.alert = alert
  }
}

/** The connection was closed or timed out locally; nothing more to send. */
export class ConnectionClosedError extends TlsError {
  constructor(message: string, code: 'ERR_TLS_CLOSED' | 'ERR_TLS_TIMEOUT' = 'ERR_TLS_CLOSED') {
    super(code, message)
  }
}

/**
 * The alert to send for `err`, or undefined when none must be sent (the peer
 * already alerted us, or the transport is gone). Unknown errors are our bugs:
 * internal_error.
 */
export function alertFor(err: unknown): AlertDescription | undefined {
  if (err instanceof TlsDecodeError || err instanceof WireDecodeError) {
    return AlertDescription.DecodeError
  }
  if (err instanceof PeerMisbehavedError || err instanceof PeerIncompatibleError) return err.alert
  if (err instanceof AlertReceivedError || err instanceof ConnectionClosedError) return undefined
  return AlertDescription.InternalError
}

/** Shorthands used by the handlers, so rejection sites stay one line. */
export function illegalParameter(message: string, options?: ErrorOptions): PeerMisbehavedError {
  return new PeerMisbehavedError(AlertDescription.IllegalParameter, message, options)
}

export function unexpectedMessage(message: string): PeerMisbehavedError {
  return new PeerMisbehavedError(AlertDescription.UnexpectedMessage, message)
}

export function decodeError(message: string): TlsDecodeError {
  return new TlsDecodeError(message)
}
