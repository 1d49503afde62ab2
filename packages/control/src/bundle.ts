/**
 * Signed config bundles (architecture decision 8): what an edge serves, signed
 * with Ed25519 by the control plane, with a monotonic version so a replayed
 * older bundle is refused. The signature covers the exact payload bytes
 * (base64url in the envelope), so no JSON canonicalisation is needed to verify.
 */
import { sign, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'

export const SignedBundle = z.object({
  /** base64url of the UTF-8 JSON payload. */
  payload: z.string(),
  /** base64url Ed25519 signature over the payload bytes. */
  signature: z.string(),
  version: z.number().int().nonnegative(),
})
export type SignedBundle = z.infer<typeof SignedBundle>

export interface BundleZone {
  readonly id: string
  readonly orgId: string
  readonly hostnames: readonly string[]
  readonly origin: string
  readonly certificateChain: string
  readonly policyId?: string
  /** The zone's attack-protection config (@outpost/protect), when set (PUT /v1/zones/:id/protection). */
  readonly protection?: unknown
}

export interface BundlePayload {
  readonly version: number
  readonly issuedAt: string
  readonly zones: readonly BundleZone[]
  readonly policies: readonly unknown[]
}

export class BundleError extends Error {
  readonly code:
    'ERR_CONTROL_BUNDLE_SIGNATURE' | 'ERR_CONTROL_BUNDLE_ROLLBACK' | 'ERR_CONTROL_BUNDLE_FORMAT'
  constructor(code: BundleError['code'], message: string) {
    super(message)
    this.name = 'BundleError'
    this.code = code
  }
}

export function signBundle(payload: BundlePayload, privateKey: KeyObject): SignedBundle {
  const bytes = Buffer.from(JSON.stringify(payload))
  return {
    payload: bytes.toString('base64url'),
    signature: sign(null, bytes, privateKey).toString('base64url'),
    version: payload.version,
  }
}

/**
 * Verifies a bundle and returns its payload. Throws BundleError when the
 * signature does not verify, the envelope's version differs from the signed
 * one, or the version is older than `lastVersion` (rollback). The same
 * version again is accepted (an edge re-fetching what it has).
 *
 * @example
 * ```ts
 * const cfg = verifyBundle(await res.json(), controlPublicKey, lastVersion)
 * lastVersion = cfg.version
 * ```
 */
export function verifyBundle(
  bundle: unknown,
  publicKey: KeyObject,
  lastVersion: number,
): BundlePayload {
  const parsed = SignedBundle.safeParse(bundle)
  if (!parsed.success) {
    throw new BundleError(
      'ERR_CONTROL_BUNDLE_FORMAT',
      'Cannot verify bundle: not a signed bundle envelope',
    )
  }
  const bytes = Buffer.from(parsed.data.payload, 'base64url')
  const sig = Buffer.from(parsed.data.signature, 'base64url')
  let ok: boolean
  try {
    ok = verify(null, bytes, publicKey, sig)
  } catch {
    ok = false
  }
  if (!ok)
    throw new BundleError('ERR_CONTROL_BUNDLE_SIGNATURE', 'Cannot verify bundle: bad signature')
  let payload: BundlePayload
  try {
    payload = JSON.parse(bytes.toString('utf8')) as BundlePayload
  } catch {
    throw new BundleError('ERR_CONTROL_BUNDLE_FORMAT', 'Cannot verify bundle: payload is not JSON')
  }
  if (typeof payload.version !== 'number' || payload.version !== parsed.data.version) {
    throw new BundleError(
      'ERR_CONTROL_BUNDLE_FORMAT',
      'Cannot verify bundle: envelope version does not match the signed version',
    )
  }
  if (payload.version < lastVersion) {
    throw new BundleError(
      'ERR_CONTROL_BUNDLE_ROLLBACK',
      `Cannot accept bundle: version ${payload.version} is older than ${lastVersion}`,
    )
  }
  return payload
}
