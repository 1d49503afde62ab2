/**
 * Errors raised by `@outpost/custody`. Each class carries a stable `code` so the
 * CLI, the control plane and tests can branch on it without parsing messages.
 */

/** A JOSE object (JWK, JWS, JWE) that cannot be decoded or fails its checks. */
export class JoseError extends Error {
  readonly code = 'ERR_CUSTODY_JOSE'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'JoseError'
  }
}

/** A Tang exchange that failed: server unreachable, non-200 answer, bad advert. */
export class TangError extends Error {
  readonly code = 'ERR_CUSTODY_TANG'
  /** HTTP status when the server answered, e.g. 404 after a crypto-shred. */
  readonly status: number | undefined
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TangError'
    this.status = status
  }
}

/** A custody state transition that the state machine does not allow. */
export class TransitionError extends Error {
  readonly code = 'ERR_CUSTODY_TRANSITION'
  constructor(message: string) {
    super(message)
    this.name = 'TransitionError'
  }
}

/** Unlock refused: bricked node, admission denied, or the identity cannot be decrypted. */
export class UnlockError extends Error {
  readonly code = 'ERR_CUSTODY_UNLOCK'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'UnlockError'
  }
}
