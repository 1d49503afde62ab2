/**
 * The keyless package's errors (jose/undici style): one class per failure, each
 * with a stable `code` that narrows in a `switch`. Callers that only care whether
 * to retry can test `isTransport`.
 */
import { nameOfErrorCode } from './codec/constants.ts'

export type KeylessErrorCode =
  | 'ERR_KEYLESS_FORMAT'
  | 'ERR_KEYLESS_ENCODE'
  | 'ERR_KEYLESS_REMOTE'
  | 'ERR_KEYLESS_TIMEOUT'
  | 'ERR_KEYLESS_CONNECTION'
  | 'ERR_KEYLESS_UNAVAILABLE'
  | 'ERR_KEYLESS_ID_IN_USE'
  | 'ERR_KEYLESS_PROTOCOL'
  | 'ERR_KEYLESS_CLOSED'
  | 'ERR_KEYLESS_SCHEME'

/** Base class of every error this package throws. */
export class KeylessError extends Error {
  readonly code: KeylessErrorCode
  /** True when the failure is the transport's (connection lost, timeout), not the peer's answer. */
  readonly isTransport: boolean
  constructor(
    code: KeylessErrorCode,
    message: string,
    isTransport: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.code = code
    this.isTransport = isTransport
    this.name = new.target.name
  }
}

/** A frame or item that does not follow the v1 format (docs/protocol/keyless.md §2). */
export class KeylessFormatError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_FORMAT'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_FORMAT', message, false, options)
  }
}

/** An Operation that cannot be put on the wire (wrong item size, body over 65535 bytes). */
export class KeylessEncodeError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_ENCODE'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_ENCODE', message, false, options)
  }
}

/** The key server answered with Op.Error; `remoteCode` is the 1-byte ErrorCode. */
export class KeylessRemoteError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_REMOTE'
  readonly remoteCode: number
  constructor(remoteCode: number, options?: ErrorOptions) {
    super(
      'ERR_KEYLESS_REMOTE',
      `Key server refused the operation: ${nameOfErrorCode(remoteCode)} (0x${remoteCode.toString(16).padStart(2, '0')})`,
      false,
      options,
    )
    this.remoteCode = remoteCode
  }
}

/** No answer within the operation's deadline. */
export class KeylessTimeoutError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_TIMEOUT'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_TIMEOUT', message, true, options)
  }
}

/** The connection failed, closed or could not be established. */
export class KeylessConnectionError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_CONNECTION'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_CONNECTION', message, true, options)
  }
}

/** Every configured key server is marked down; raised at once rather than waiting. */
export class KeylessUnavailableError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_UNAVAILABLE'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_UNAVAILABLE', message, true, options)
  }
}

/** The next request ID (after wrapping at 2^32) still belongs to an outstanding request. */
export class KeylessIdInUseError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_ID_IN_USE'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_ID_IN_USE', message, false, options)
  }
}

/** The peer answered with something that is not a valid answer to the request. */
export class KeylessProtocolError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_PROTOCOL'
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_KEYLESS_PROTOCOL', message, false, options)
  }
}

/** The client was closed. */
export class KeylessClosedError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_CLOSED'
  constructor(message = 'Cannot execute operation: the keyless client is closed') {
    super('ERR_KEYLESS_CLOSED', message, false)
  }
}

/** A RemoteSigner was asked for a signature scheme it cannot produce. */
export class KeylessSchemeError extends KeylessError {
  declare readonly code: 'ERR_KEYLESS_SCHEME'
  constructor(message: string) {
    super('ERR_KEYLESS_SCHEME', message, false)
  }
}
