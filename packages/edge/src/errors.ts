/**
 * The edge's errors: one class, a stable `code` that narrows in a `switch`
 * (panva/jose style), messages in denoland/std style ("Cannot X: why").
 */
export type EdgeErrorCode = 'ERR_EDGE_CONFIG' | 'ERR_EDGE_CACHE_WIPED' | 'ERR_EDGE_CACHE_ENTRY'

export class EdgeError extends Error {
  readonly code: EdgeErrorCode
  constructor(code: EdgeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = 'EdgeError'
  }
}
