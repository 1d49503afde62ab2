/**
 * Errors raised by the byte codec. Every out-of-bounds read and every unconsumed
 * byte ends up here, so protocol parsers never check lengths by hand.
 */
export class DecodeError extends Error {
  readonly code = 'ERR_WIRE_DECODE'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DecodeError'
  }
}

/** Raised when a value does not fit the field it is written to. */
export class EncodeError extends Error {
  readonly code = 'ERR_WIRE_ENCODE'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'EncodeError'
  }
}
