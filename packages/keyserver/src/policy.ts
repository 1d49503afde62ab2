/**
 * Per-key policy (architecture.md decision 6, threat model P9): which nodes may
 * use a key, by the region and country in their certificate, and for which
 * server names. Deny lists win over allow lists; when a list restricts an
 * attribute the node does not carry, the node is refused.
 */
import { z } from 'zod'
import { ErrorCode, type PeerInfo } from './_keyless.ts'
import { OperationError } from './errors.ts'

const region = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'Expected a region like "eu-west"')
const country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'Expected an ISO 3166-1 alpha-2 country code like "DE"')
  .transform((s) => s.toUpperCase())
const serverName = z
  .string()
  .regex(
    /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/,
    'Expected a DNS name or "*.example.com"',
  )
  .transform((s) => s.toLowerCase())

export const KeyPolicySchema = z
  .object({
    allowRegions: z.array(region).optional(),
    denyRegions: z.array(region).optional(),
    allowCountries: z.array(country).optional(),
    denyCountries: z.array(country).optional(),
    allowServerNames: z.array(serverName).optional(),
  })
  .strict()

export type KeyPolicy = z.infer<typeof KeyPolicySchema>

/** Validates a policy from JSON/YAML; errors name the field. */
export function parseKeyPolicy(raw: unknown): KeyPolicy {
  const r = KeyPolicySchema.safeParse(raw ?? {})
  if (r.success) return r.data
  const problems = r.error.issues.map(
    (i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
  )
  throw new OperationError(ErrorCode.Format, `Cannot parse key policy: ${problems.join('; ')}`)
}

function deny(message: string): never {
  throw new OperationError(ErrorCode.PolicyDenied, message)
}

/** True when `name` matches `pattern` exactly or as a one-label wildcard `*.example.com`. */
export function serverNameMatches(pattern: string, name: string): boolean {
  const n = name.toLowerCase()
  if (!pattern.startsWith('*.')) return pattern === n
  const suffix = pattern.slice(1) // ".example.com"
  if (!n.endsWith(suffix)) return false
  const label = n.slice(0, n.length - suffix.length)
  return label.length > 0 && !label.includes('.')
}

/** Throws OperationError(PolicyDenied) unless `peer` asking for `serverName` passes `policy`. */
export function checkPolicy(
  policy: KeyPolicy,
  peer: PeerInfo,
  serverName: string | undefined,
): void {
  const { region: r, country: c } = peer
  if (policy.denyRegions !== undefined || policy.allowRegions !== undefined) {
    if (r === undefined) deny('Cannot use key: it is restricted by region and the node has none')
    if (policy.denyRegions?.includes(r)) deny(`Cannot use key: region "${r}" is denied`)
    if (policy.allowRegions !== undefined && !policy.allowRegions.includes(r)) {
      deny(`Cannot use key: region "${r}" is not allowed`)
    }
  }
  if (policy.denyCountries !== undefined || policy.allowCountries !== undefined) {
    if (c === undefined) deny('Cannot use key: it is restricted by country and the node has none')
    const cc = c.toUpperCase()
    if (policy.denyCountries?.includes(cc)) deny(`Cannot use key: country "${cc}" is denied`)
    if (policy.allowCountries !== undefined && !policy.allowCountries.includes(cc)) {
      deny(`Cannot use key: country "${cc}" is not allowed`)
    }
  }
  if (policy.allowServerNames !== undefined) {
    if (serverName === undefined)
      deny('Cannot use key: it is restricted by server name and none was sent')
    if (!policy.allowServerNames.some((p) => serverNameMatches(p, serverName))) {
      deny(`Cannot use key: server name "${serverName}" is not allowed`)
    }
  }
}
