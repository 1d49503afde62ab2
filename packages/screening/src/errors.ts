/**
 * Errors of the screening package. Each has a stable `code` that callers can
 * switch on; messages follow the "Cannot <verb> <thing>: <reason>" style.
 */
export type ScreeningErrorCode =
  | 'ERR_SCREENING_PARSE'
  | 'ERR_SCREENING_LISTS'
  | 'ERR_SCREENING_QUERY'
  | 'ERR_SCREENING_FETCH'
  | 'ERR_SCREENING_STORE'

/**
 * @example
 * ```ts
 * try { await loadLists(dir) } catch (e) {
 *   if (e instanceof ScreeningError && e.code === 'ERR_SCREENING_PARSE') console.error(e.message)
 * }
 * ```
 */
export class ScreeningError extends Error {
  readonly code: ScreeningErrorCode
  constructor(code: ScreeningErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ScreeningError'
    this.code = code
  }
}

/** A list file could not be parsed at all (bad header, not XML, wrong root element). */
export class ListParseError extends ScreeningError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SCREENING_PARSE', message, options)
    this.name = 'ListParseError'
  }
}
