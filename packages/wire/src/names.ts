/** Readable names for wire code points, for logs and error messages. */

/**
 * Returns a function that names a value of the `as const` table `table` (its key),
 * or prints an unknown value as hex padded to `hexDigits`.
 *
 * @example
 * ```ts
 * const nameOfAlert = nameLookup({ CloseNotify: 0, DecodeError: 50 }, 2)
 * nameOfAlert(50) // 'DecodeError'
 * nameOfAlert(0x99) // '0x99'
 * ```
 */
export function nameLookup(
  table: Readonly<Record<string, number>>,
  hexDigits: number,
): (value: number) => string {
  const names = new Map<number, string>(Object.entries(table).map(([k, v]) => [v, k]))
  return (value) => names.get(value) ?? `0x${value.toString(16).padStart(hexDigits, '0')}`
}
