/**
 * @module
 * The byte codec every protocol package builds on: one bounds-checked Reader, one
 * Writer with back-patched length prefixes, hex, and constant-time comparison.
 *
 * @example
 * ```ts
 * import { Reader, Writer } from '@outpost/wire'
 * const bytes = new Writer().prefixed16((w) => w.u8(1).u8(2)).finish()
 * const r = new Reader(bytes, 'example')
 * const inner = r.sub16()
 * inner.u8(); inner.u8(); inner.end(); r.end()
 * ```
 */
export { Reader } from './reader.ts'
export { Writer } from './writer.ts'
export { DecodeError, EncodeError } from './errors.ts'
export { ctEqual, concat, toHex, fromHex, zeroize, equalBytes } from './bytes.ts'
export { nameLookup } from './names.ts'
