/** Field types shared by service schemas. */
import { z } from 'zod'

/** "HOST:PORT" (IPv6 in brackets); port 0 allowed for tests. */
export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'Expected HOST:PORT, e.g. 127.0.0.1:2407')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'Port must be at most 65535')

/**
 * Splits a value the `hostPort` schema accepted into host and port; brackets
 * around an IPv6 address are removed.
 *
 * @example
 * ```ts
 * splitHostPort('[::1]:2407') // { host: '::1', port: 2407 }
 * ```
 */
export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) }
}
