/**
 * Keyless v1 framing (docs/protocol/keyless.md §2): an 8-byte header (major,
 * minor, uint16 Length, uint32 ID) followed by Length bytes of TLV items
 * (uint8 tag, uint16 length, data). Integers are big-endian.
 *
 * Receiving follows the most widely deployed parser so that existing peers
 * interoperate: unknown tags are skipped, a known tag may appear only once, the
 * opcode item is exactly 1 byte, IP items are 4 or 16 bytes, an SKI that is not
 * 20 bytes and a digest that is not 32 bytes are ignored, and 1–2 stray bytes
 * after the last item are ignored (the parser stops when fewer than 3 remain).
 * The Length field must equal the number of body bytes.
 *
 * Sending pads short frames to 1024 bytes by default ('gokeyless'), or to 1027
 * bytes with an always-present padding item ('c'), or not at all ('none').
 */
import { DecodeError, Reader } from '@outpost/wire'
import { KeylessEncodeError, KeylessFormatError } from '../errors.ts'
import { Tag, isKnownTag, nameOfTag } from './constants.ts'

/** One keyless request or response, as the items of a frame body. */
export interface Operation {
  /** Op code (requests) or status Response/Pong/Error (responses). */
  opcode: number
  /** Data to sign or decrypt; in responses the result, or the 1-byte ErrorCode of an Error. */
  payload?: Uint8Array
  /** Subject Key Identifier of the key (20 bytes; see `skiOf`). */
  ski?: Uint8Array
  /** Legacy key identifier: SHA-256 of the uppercase hex modulus/compressed point (32 bytes). */
  digest?: Uint8Array
  serverName?: string
  /** The visitor's IP (4 or 16 bytes). */
  clientIp?: Uint8Array
  /** The IP the visitor connected to (4 or 16 bytes). */
  serverIp?: Uint8Array
  certId?: string
  customFuncName?: string
  extra?: Uint8Array
  /** JSON object bytes, e.g. `{"request_id":"…"}`. */
  requestContext?: Uint8Array
  /** 1 byte; 0x01 = FedRAMP High. */
  complianceRegion?: number
  /** Outpost: the TLS 1.3 SignatureScheme of an Op.SignTls13 request. */
  signatureScheme?: number
}

/** A decoded frame: header fields plus the operation its body carries. */
export interface Frame {
  major: number
  minor: number
  /** Request ID chosen by the client, echoed by the server. */
  id: number
  op: Operation
}

/** The fixed part of a frame. */
export interface FrameHeader {
  major: number
  minor: number
  /** Body bytes that follow the header. */
  length: number
  id: number
}

/** How a sender pads short frames (docs/protocol/keyless.md §6). */
export type Padding = 'gokeyless' | 'c' | 'none'

export const HEADER_BYTES = 8
export const MAX_BODY_BYTES = 0xffff
/** Short frames are padded to this size (plus 3 in the C style). */
export const PADDED_FRAME_BYTES = 1024
export const PROTOCOL_MAJOR = 1
export const PROTOCOL_MINOR = 0

const utf8Encoder = new TextEncoder()
// fatal: invalid UTF-8 in a string item is a format error, not U+FFFD.
// ignoreBOM: keep a leading U+FEFF so strings round-trip exactly.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// Frames up to SLAB_BYTES / 4 are views of a shared slab (like Node's Buffer
// pool): one 64 KiB allocation per ~60 padded frames instead of one each. A
// slab stays alive while a view of it does; callers write or copy frames, and
// never hand out their .buffer.
const SLAB_BYTES = 64 * 1024
let slab = new ArrayBuffer(0)
let slabUsed = 0

function allocFrame(n: number): Uint8Array {
  if (n > SLAB_BYTES / 4) return new Uint8Array(n)
  if (slabUsed + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, n)
  slabUsed += (n + 7) & ~7
  return out
}

/**
 * Encodes one frame, header and body, with major version 1, minor 0.
 *
 * @example
 * ```ts
 * const ping = encodeFrame(1, { opcode: Op.Ping }) // 1024 bytes, vector V1
 * ```
 */
export function encodeFrame(id: number, op: Operation, padding: Padding = 'gokeyless'): Uint8Array {
  // Two passes: check and measure the items, then write them into one buffer
  // of the exact size, carved from a slab (this runs once per request and once
  // per answer, and a fresh zeroed 1 KiB allocation each time was a measurable
  // part of the key server's cost per operation).
  const total = measure(id, op, padding)
  const out = allocFrame(total)
  write(out, 0, id, op, total)
  return out
}

/**
 * encodeFrame into `out` at offset `at`: returns the offset after the frame,
 * or, when the frame needs more than `out.length - at` bytes, minus its size
 * (and writes nothing). Throws as encodeFrame does.
 *
 * @example
 * ```ts
 * let end = encodeFrameInto(buf, used, id, answer)
 * if (end < 0) { buf = grow(buf, used - end); end = encodeFrameInto(buf, used, id, answer) }
 * ```
 */
export function encodeFrameInto(
  out: Uint8Array,
  at: number,
  id: number,
  op: Operation,
  padding: Padding = 'gokeyless',
): number {
  const total = measure(id, op, padding)
  if (total > out.length - at) return -total
  write(out, at, id, op, total)
  return at + total
}

// What measure() found, for the write() that follows it at once (neither
// re-enters): the UTF-8 of the text items and the padding item's length.
let mServerName: Uint8Array | undefined
let mCertId: Uint8Array | undefined
let mCustomFuncName: Uint8Array | undefined
let mPad = -1 // padding item data length; -1: no padding item

function tooLong(tag: number, n: number): never {
  throw new KeylessEncodeError(
    `Cannot encode keyless frame: ${nameOfTag(tag)} item of ${n} bytes exceeds ${MAX_BODY_BYTES}`,
  )
}

function wrongSize(tag: number, n: number, sizes: string): never {
  throw new KeylessEncodeError(
    `Cannot encode keyless frame: ${nameOfTag(tag)} must be ${sizes} bytes, got ${n}`,
  )
}

function checkUint(tag: number, v: number, bytes: 1 | 2): void {
  const max = bytes === 1 ? 0xff : 0xffff
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new KeylessEncodeError(
      `Cannot encode keyless frame: ${nameOfTag(tag)} value ${v} does not fit ${bytes} byte(s)`,
    )
  }
}

/** Item size (3 + data) of an IP item, which is 4 or 16 bytes. */
function ipItem(tag: number, ip: Uint8Array): number {
  if (ip.length !== 4 && ip.length !== 16) wrongSize(tag, ip.length, '4 or 16')
  return 3 + ip.length
}

/** Item size (3 + data) of a variable-length byte item. */
function bytesItem(tag: number, data: Uint8Array): number {
  if (data.length > MAX_BODY_BYTES) tooLong(tag, data.length)
  return 3 + data.length
}

/** Checks `op` and returns the frame's total size; the rest goes to the m* variables. */
function measure(id: number, op: Operation, padding: Padding): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new KeylessEncodeError(`Cannot encode keyless frame: ID ${id} is not a uint32`)
  }
  checkUint(Tag.Opcode, op.opcode, 1)
  let unpadded = HEADER_BYTES + 4
  if (op.payload !== undefined) unpadded += bytesItem(Tag.Payload, op.payload)
  if (op.ski !== undefined) {
    if (op.ski.length !== 20) wrongSize(Tag.Ski, op.ski.length, '20')
    unpadded += 23
  }
  if (op.digest !== undefined) {
    if (op.digest.length !== 32) wrongSize(Tag.CertificateDigest, op.digest.length, '32')
    unpadded += 35
  }
  if (op.clientIp !== undefined) unpadded += ipItem(Tag.ClientIp, op.clientIp)
  if (op.serverIp !== undefined) unpadded += ipItem(Tag.ServerIp, op.serverIp)
  mServerName = op.serverName === undefined ? undefined : utf8Encoder.encode(op.serverName)
  if (mServerName !== undefined) unpadded += bytesItem(Tag.ServerName, mServerName)
  mCertId = op.certId === undefined ? undefined : utf8Encoder.encode(op.certId)
  if (mCertId !== undefined) unpadded += bytesItem(Tag.CertId, mCertId)
  mCustomFuncName =
    op.customFuncName === undefined ? undefined : utf8Encoder.encode(op.customFuncName)
  if (mCustomFuncName !== undefined) unpadded += bytesItem(Tag.CustomFuncName, mCustomFuncName)
  if (op.extra !== undefined) unpadded += bytesItem(Tag.Extra, op.extra)
  if (op.requestContext !== undefined) unpadded += bytesItem(Tag.RequestContext, op.requestContext)
  if (op.complianceRegion !== undefined) {
    checkUint(Tag.ComplianceRegion, op.complianceRegion, 1)
    unpadded += 4
  }
  if (op.signatureScheme !== undefined) {
    checkUint(Tag.SignatureScheme, op.signatureScheme, 2)
    unpadded += 5
  }
  let pad = -1
  if (padding === 'gokeyless' && unpadded < PADDED_FRAME_BYTES) {
    // Pad to exactly 1024 bytes; when 8+B is 1021..1023 the item header alone
    // overshoots, and a zero-length padding item is still sent (1024..1026 bytes).
    pad = Math.max(0, PADDED_FRAME_BYTES - (unpadded + 3))
  } else if (padding === 'c') {
    // Always a padding item; short frames become 1027 bytes.
    pad = unpadded < PADDED_FRAME_BYTES ? PADDED_FRAME_BYTES - unpadded : 0
  }
  const total = pad < 0 ? unpadded : unpadded + 3 + pad
  const bodyLength = total - HEADER_BYTES
  if (bodyLength > MAX_BODY_BYTES) {
    throw new KeylessEncodeError(
      `Cannot encode keyless frame: body of ${bodyLength} bytes exceeds ${MAX_BODY_BYTES}`,
    )
  }
  mPad = pad
  return total
}

/** Writes one item's header and data at `at`; returns the offset after it. */
function put(out: Uint8Array, at: number, tag: number, data: Uint8Array): number {
  out[at] = tag
  out[at + 1] = data.length >>> 8
  out[at + 2] = data.length & 0xff
  out.set(data, at + 3)
  return at + 3 + data.length
}

// Item order: opcode, payload, SKI, server IP, SNI is the order existing Go peers
// use (vector V3); the rest follow in tag order.
function write(out: Uint8Array, start: number, id: number, op: Operation, total: number): void {
  // Every byte is written (padding explicitly zeroed): pooled memory holds old frames.
  const bodyLength = total - HEADER_BYTES
  out[start] = PROTOCOL_MAJOR
  out[start + 1] = PROTOCOL_MINOR
  out[start + 2] = bodyLength >>> 8
  out[start + 3] = bodyLength & 0xff
  out[start + 4] = id >>> 24
  out[start + 5] = (id >>> 16) & 0xff
  out[start + 6] = (id >>> 8) & 0xff
  out[start + 7] = id & 0xff
  out[start + 8] = Tag.Opcode
  out[start + 9] = 0
  out[start + 10] = 1
  out[start + 11] = op.opcode
  let at = start + 12
  if (op.payload !== undefined) at = put(out, at, Tag.Payload, op.payload)
  if (op.ski !== undefined) at = put(out, at, Tag.Ski, op.ski)
  if (op.digest !== undefined) at = put(out, at, Tag.CertificateDigest, op.digest)
  if (op.clientIp !== undefined) at = put(out, at, Tag.ClientIp, op.clientIp)
  if (op.serverIp !== undefined) at = put(out, at, Tag.ServerIp, op.serverIp)
  if (mServerName !== undefined) at = put(out, at, Tag.ServerName, mServerName)
  if (mCertId !== undefined) at = put(out, at, Tag.CertId, mCertId)
  if (mCustomFuncName !== undefined) at = put(out, at, Tag.CustomFuncName, mCustomFuncName)
  if (op.extra !== undefined) at = put(out, at, Tag.Extra, op.extra)
  if (op.requestContext !== undefined) at = put(out, at, Tag.RequestContext, op.requestContext)
  if (op.complianceRegion !== undefined) {
    out[at] = Tag.ComplianceRegion
    out[at + 1] = 0
    out[at + 2] = 1
    out[at + 3] = op.complianceRegion
    at += 4
  }
  if (op.signatureScheme !== undefined) {
    out[at] = Tag.SignatureScheme
    out[at + 1] = 0
    out[at + 2] = 2
    out[at + 3] = op.signatureScheme >>> 8
    out[at + 4] = op.signatureScheme & 0xff
    at += 5
  }
  mServerName = mCertId = mCustomFuncName = undefined
  const pad = mPad
  if (pad >= 0) {
    out[at] = Tag.Padding
    out[at + 1] = pad >>> 8
    out[at + 2] = pad & 0xff
    // Uint8Array's fill, not Buffer's (whose argument checks cost more than
    // zeroing the ~1 KiB of padding of an answer).
    Uint8Array.prototype.fill.call(out, 0, at + 3, start + total)
  }
}

/**
 * Reads the 8-byte header at the start of `bytes` (which may hold more).
 *
 * @example
 * ```ts
 * const { id, length } = decodeHeader(frameBytes)
 * ```
 */
export function decodeHeader(bytes: Uint8Array): FrameHeader {
  return wrapDecode(() => {
    const r = new Reader(bytes, 'keyless frame')
    return { major: r.u8('major'), minor: r.u8('minor'), length: r.u16('Length'), id: r.u32('ID') }
  })
}

export interface DecodeOptions {
  /**
   * Byte items of a well-formed frame as views of `bytes` instead of copies
   * (default false). Only for a caller that never changes `bytes` while the
   * operation is in use, and that copies an item before handing it on whole
   * (a view keeps, and `postMessage` clones, its entire buffer).
   */
  readonly views?: boolean
}

/**
 * Decodes exactly one frame; `bytes` must be the header plus exactly Length body
 * bytes. Any violation throws KeylessFormatError.
 *
 * @example
 * ```ts
 * const { id, op } = decodeFrame(encodeFrame(7, { opcode: Op.Ping }))
 * ```
 */
export function decodeFrame(bytes: Uint8Array, options?: DecodeOptions): Frame {
  // The common case, a well-formed frame, without the checked Reader; anything
  // unusual goes through the checked path below, which names the problem.
  const op = decodeWellFormed(bytes, 0, bytes.length, options?.views === true)
  if (op === undefined) return decodeFrameChecked(bytes)
  return { major: bytes[0] as number, minor: bytes[1] as number, id: idAt(bytes, 0), op }
}

/**
 * The operation of the frame that lies in `bytes` from `start` to `end`
 * (header included): `decodeFrame(bytes.subarray(start, end), options).op`,
 * without the view and the Frame object. Throws KeylessFormatError as
 * decodeFrame does.
 *
 * @example
 * ```ts
 * deframer.pushEach(chunk, (b, start, end) => handle(decodeOperationAt(b, start, end)))
 * ```
 */
export function decodeOperationAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  options?: DecodeOptions,
): Operation {
  return (
    decodeWellFormed(bytes, start, end, options?.views === true) ??
    decodeFrameChecked(bytes.subarray(start, end)).op
  )
}

/** The big-endian uint32 request ID of the frame header at `at`. */
function idAt(b: Uint8Array, at: number): number {
  return (
    (((b[at + 4] as number) << 24) |
      ((b[at + 5] as number) << 16) |
      ((b[at + 6] as number) << 8) |
      (b[at + 7] as number)) >>>
    0
  )
}

/**
 * decodeFrame without its fast path: every field read through the checked
 * Reader. Same result or same error as decodeFrame (tests hold them equal).
 */
export function decodeFrameChecked(bytes: Uint8Array): Frame {
  return wrapDecode(() => {
    const r = new Reader(bytes, 'keyless frame')
    const major = r.u8('major')
    const minor = r.u8('minor')
    const length = r.u16('Length')
    const id = r.u32('ID')
    if (r.left !== length) {
      throw new KeylessFormatError(
        `Cannot decode keyless frame: Length is ${length} but ${r.left} body bytes follow`,
      )
    }
    return { major, minor, id, op: decodeItems(new Reader(r.rest(), 'keyless frame')) }
  })
}

// Bit i of a mask stands for known tag `tagBit[i]`; for duplicate detection.
const tagBit: Int32Array = (() => {
  const bits = new Int32Array(256).fill(-1)
  let i = 0
  for (let t = 0; t < 256; t++) if (isKnownTag(t)) bits[t] = i++
  if (i > 31) throw new Error('keyless: too many known tags for a 32-bit mask')
  return bits
})()

// A copy as a plain Uint8Array (Buffer#slice would return a view).
function copyOf(b: Uint8Array, start: number, end: number): Uint8Array {
  const c = new Uint8Array(end - start)
  c.set(b.subarray(start, end))
  return c
}

// A view as a plain Uint8Array (also when `b` is a Buffer).
function viewOf(b: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + start, end - start)
}

// The text of the last ServerName item decoded, and its bytes: consecutive
// requests usually name the same site, and this skips a UTF-8 decode per
// request. Names up to 255 bytes (a DNS name's limit) are kept.
const lastName = { bytes: new Uint8Array(255), length: -1, text: '' }

function serverNameAt(b: Uint8Array, s: number, p: number): string | undefined {
  const n = p - s
  if (n === lastName.length) {
    const c = lastName.bytes
    let i = 0
    while (i < n && c[i] === b[s + i]) i++
    if (i === n) return lastName.text
  }
  let t: string
  try {
    t = utf8Decoder.decode(b.subarray(s, p))
  } catch {
    return undefined
  }
  if (n <= 255) {
    lastName.bytes.set(b.subarray(s, p))
    lastName.length = n
    lastName.text = t
  }
  return t
}

/**
 * decodeFrame's fast path over the frame in b[start, end): the same operation
 * as decodeChecked for a frame it accepts, or undefined for anything it would
 * reject (a wrong Length, an item running past the end, a duplicate known
 * tag, a malformed fixed-size or text item, no opcode), so that the checked
 * path produces the error.
 */
function decodeWellFormed(
  b: Uint8Array,
  start: number,
  end: number,
  views: boolean,
): Operation | undefined {
  const take = views ? viewOf : copyOf
  const n = end
  if (
    n - start < HEADER_BYTES ||
    n - start - HEADER_BYTES !== (((b[start + 2] as number) << 8) | (b[start + 3] as number))
  ) {
    return undefined
  }
  const op: Partial<Operation> = {}
  let seen = 0
  let p = start + HEADER_BYTES
  while (n - p >= 3) {
    const tag = b[p] as number
    const len = ((b[p + 1] as number) << 8) | (b[p + 2] as number)
    const s = p + 3
    p = s + len
    if (p > n) return undefined
    const bit = tagBit[tag] as number
    if (bit < 0) continue
    if ((seen & (1 << bit)) !== 0) return undefined
    seen |= 1 << bit
    switch (tag) {
      case Tag.Opcode:
        if (len !== 1) return undefined
        op.opcode = b[s] as number
        break
      case Tag.Payload:
        op.payload = take(b, s, p)
        break
      case Tag.Ski:
        if (len === 20) op.ski = take(b, s, p)
        break
      case Tag.CertificateDigest:
        if (len === 32) op.digest = take(b, s, p)
        break
      case Tag.ClientIp:
        if (len !== 4 && len !== 16) return undefined
        op.clientIp = take(b, s, p)
        break
      case Tag.ServerIp:
        if (len !== 4 && len !== 16) return undefined
        op.serverIp = take(b, s, p)
        break
      case Tag.ServerName: {
        const t = serverNameAt(b, s, p)
        if (t === undefined) return undefined
        op.serverName = t
        break
      }
      case Tag.CertId:
      case Tag.CustomFuncName: {
        let t: string
        try {
          t = utf8Decoder.decode(b.subarray(s, p))
        } catch {
          return undefined
        }
        if (tag === Tag.CertId) op.certId = t
        else op.customFuncName = t
        break
      }
      case Tag.Extra:
        op.extra = take(b, s, p)
        break
      case Tag.RequestContext:
        op.requestContext = take(b, s, p)
        break
      case Tag.ComplianceRegion:
        if (len !== 1) return undefined
        op.complianceRegion = b[s] as number
        break
      case Tag.SignatureScheme:
        if (len !== 2) return undefined
        op.signatureScheme = ((b[s] as number) << 8) | (b[s + 1] as number)
        break
      default:
        break
    }
  }
  if (op.opcode === undefined) return undefined
  return op as Operation
}

function wrapDecode<T>(f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e instanceof DecodeError) throw new KeylessFormatError(e.message, { cause: e })
    throw e
  }
}

function decodeItems(r: Reader): Operation {
  const seen = new Set<number>()
  const op: Partial<Operation> = {}
  // The parser stops when fewer than 3 bytes (one item header) remain, so 1–2
  // stray trailing bytes are ignored, as existing peers do.
  while (r.left >= 3) {
    const tag = r.u8('tag')
    const data = r.vec16(itemLabel(tag))
    if (!isKnownTag(tag)) continue
    if (seen.has(tag)) {
      throw new KeylessFormatError(
        `Cannot decode keyless frame: item ${nameOfTag(tag)} (0x${tag.toString(16).padStart(2, '0')}) appears twice`,
      )
    }
    seen.add(tag)
    switch (tag) {
      case Tag.Opcode:
        op.opcode = exactly(tag, data, 1)[0] ?? 0
        break
      case Tag.Payload:
        op.payload = data.slice()
        break
      case Tag.Ski:
        // Not 20 bytes: ignored, not an error (existing servers do the same).
        if (data.length === 20) op.ski = data.slice()
        break
      case Tag.CertificateDigest:
        if (data.length === 32) op.digest = data.slice()
        break
      case Tag.ClientIp:
        op.clientIp = ip(tag, data)
        break
      case Tag.ServerIp:
        op.serverIp = ip(tag, data)
        break
      case Tag.ServerName:
        op.serverName = text(tag, data)
        break
      case Tag.CertId:
        op.certId = text(tag, data)
        break
      case Tag.CustomFuncName:
        op.customFuncName = text(tag, data)
        break
      case Tag.Extra:
        op.extra = data.slice()
        break
      case Tag.RequestContext:
        op.requestContext = data.slice()
        break
      case Tag.ComplianceRegion:
        op.complianceRegion = exactly(tag, data, 1)[0] ?? 0
        break
      case Tag.SignatureScheme: {
        const s = exactly(tag, data, 2)
        op.signatureScheme = ((s[0] ?? 0) << 8) | (s[1] ?? 0)
        break
      }
      default:
        // Padding and the Jaeger span: known (so checked for duplicates), not kept.
        break
    }
  }
  const { opcode } = op
  if (opcode === undefined) {
    throw new KeylessFormatError('Cannot decode keyless frame: no opcode item')
  }
  return { ...op, opcode }
}

const itemLabels: string[] = []
function itemLabel(tag: number): string {
  return (itemLabels[tag] ??= `${nameOfTag(tag)} item`)
}

function exactly(tag: number, data: Uint8Array, n: number): Uint8Array {
  if (data.length !== n) {
    throw new KeylessFormatError(
      `Cannot decode keyless frame: ${nameOfTag(tag)} item must be ${n} byte(s), got ${data.length}`,
    )
  }
  return data
}

function ip(tag: number, data: Uint8Array): Uint8Array {
  if (data.length !== 4 && data.length !== 16) {
    throw new KeylessFormatError(
      `Cannot decode keyless frame: ${nameOfTag(tag)} item must be 4 or 16 bytes, got ${data.length}`,
    )
  }
  return data.slice()
}

function text(tag: number, data: Uint8Array): string {
  try {
    return utf8Decoder.decode(data)
  } catch (e) {
    throw new KeylessFormatError(
      `Cannot decode keyless frame: ${nameOfTag(tag)} item is not valid UTF-8`,
      { cause: e },
    )
  }
}
