/**
 * The one catalogue of control-plane errors (fastify `lib/errors.js` style):
 * every code, its HTTP status and a message template. Handlers throw
 * `ControlError`; the error middleware turns it into the envelope
 * `{ "error": { "code": "...", "message": "..." } }` with the catalogue's
 * status, so status and wording cannot drift between routes.
 */

export const ERRORS = {
  ERR_CONTROL_BAD_REQUEST: { status: 400, title: 'Bad request' },
  ERR_CONTROL_VALIDATION: { status: 400, title: 'Invalid request body' },
  ERR_CONTROL_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  ERR_CONTROL_UNSUPPORTED_MEDIA: { status: 415, title: 'Unsupported media type' },
  ERR_CONTROL_UNAUTHENTICATED: { status: 401, title: 'Missing or unknown token' },
  ERR_CONTROL_FORBIDDEN: { status: 403, title: 'Token lacks a scope' },
  ERR_CONTROL_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_CONTROL_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  ERR_CONTROL_CONFLICT: { status: 409, title: 'Conflict' },
  ERR_CONTROL_REGION_NO_NEW_PAID_PLANS: { status: 403, title: 'Region takes no new paid plans' },
  ERR_CONTROL_PRIVATE_KEY_REJECTED: { status: 400, title: 'Private key material rejected' },
  ERR_CONTROL_ENROLMENT: { status: 403, title: 'Enrolment refused' },
  ERR_CONTROL_CSR: { status: 400, title: 'Invalid certificate signing request' },
  ERR_CONTROL_NODE_REVOKED: { status: 403, title: 'Node revoked' },
  ERR_CONTROL_NODE_KILLED: { status: 410, title: 'Node killed: wipe and brick' },
  ERR_CONTROL_NODE_UNKNOWN: { status: 403, title: 'Node not registered' },
  ERR_CONTROL_ORG_BLOCKED: { status: 403, title: 'Organisation blocked by screening' },
  ERR_CONTROL_SCREENING_UNAVAILABLE: { status: 503, title: 'Screening lists not loaded' },
  ERR_CONTROL_REFERRAL_REJECTED: { status: 403, title: 'Programme referral rejected' },
  ERR_CONTROL_BUSY: { status: 503, title: 'Busy: try later' },
  ERR_CONTROL_RATE_LIMITED: { status: 429, title: 'Too many requests: see Retry-After' },
  ERR_CONTROL_INTERNAL: { status: 500, title: 'Internal error' },
} as const

export type ControlErrorCode = keyof typeof ERRORS

/** An error with a stable code; its HTTP status comes from the catalogue. */
export class ControlError extends Error {
  readonly code: ControlErrorCode
  readonly status: number
  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ControlError'
    this.code = code
    this.status = ERRORS[code].status
  }
}

/** The JSON error envelope for any thrown value (internal details are not leaked). */
export function errorEnvelope(e: unknown): {
  status: number
  body: { error: { code: string; message: string } }
} {
  if (e instanceof ControlError) {
    return { status: e.status, body: { error: { code: e.code, message: e.message } } }
  }
  return {
    status: 500,
    body: { error: { code: 'ERR_CONTROL_INTERNAL', message: 'Internal error' } },
  }
}
