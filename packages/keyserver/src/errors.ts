/**
 * Errors raised by the key server. Each class has a stable `code`; callers
 * switch on it, never on the message. `OperationError` is the one that turns
 * into a keyless `0xFF` answer: it carries the wire error code.
 */
export type KeyServerErrorCode =
  | 'ERR_KEYSERVER_OPERATION'
  | 'ERR_KEYSERVER_SHARE'
  | 'ERR_KEYSERVER_UNSEAL'
  | 'ERR_KEYSERVER_SEALED'
  | 'ERR_KEYSERVER_KEYSTORE'
  | 'ERR_KEYSERVER_KEY'
  | 'ERR_KEYSERVER_POLICY'
  | 'ERR_KEYSERVER_AUDIT'
  | 'ERR_KEYSERVER_PKCS11'
  | 'ERR_KEYSERVER_ADMIN'

export class KeyServerError extends Error {
  readonly code: KeyServerErrorCode
  constructor(code: KeyServerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = this.constructor.name
  }
}

/** A refused or failed operation; `errorCode` is what goes on the wire. */
export class OperationError extends KeyServerError {
  readonly errorCode: number
  constructor(errorCode: number, message: string, options?: ErrorOptions) {
    super('ERR_KEYSERVER_OPERATION', message, options)
    this.errorCode = errorCode
  }
}

/** A share that is malformed or does not belong with the others. */
export class ShareError extends KeyServerError {
  constructor(message: string) {
    super('ERR_KEYSERVER_SHARE', message)
  }
}
