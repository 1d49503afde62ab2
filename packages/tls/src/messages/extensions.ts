/**
 * Extension blocks (RFC 8446 §4.2) and the codecs of each extension we use. Each
 * extension has a decodeX/encodeX pair over @outpost/wire; a block is parsed into
 * raw { type, data } entries in order, rejecting duplicates.
 */
import { Reader, Writer } from '@outpost/wire'
import { decodeError, illegalParameter } from '../errors.ts'

export interface Extension {
  readonly type: number
  readonly data: Uint8Array
}

/** Reads extensions<0..2^16-1>; a repeated type is illegal_parameter (RFC 8446 §4.2). */
export function decodeExtensions(r: Reader, what: string): Extension[] {
  const block = r.sub16(`${what} extensions`)
  const out: Extension[] = []
  const seen = new Set<number>()
  while (block.hasMore()) {
    const type = block.u16('extension type')
    const data = block.vec16('extension data')
    if (seen.has(type)) {
      throw illegalParameter(
        `Cannot decode ${what}: extension 0x${type.toString(16).padStart(4, '0')} appears twice`,
      )
    }
    seen.add(type)
    out.push({ type, data })
  }
  return out
}

export function encodeExtensions(w: Writer, exts: readonly Extension[]): void {
  w.prefixed16((b) => {
    for (const e of exts) b.u16(e.type).vec16(e.data)
  })
}

function bytesOf(f: (w: Writer) => void): Uint8Array {
  const w = new Writer(64)
  f(w)
  return w.finish()
}

/** A list of uint16 in a uint16-prefixed block of even length, at least `min` entries. */
function decodeU16List(
  data: Uint8Array,
  what: string,
  minEntries: number,
  width: 1 | 2 = 2,
): number[] {
  const r = new Reader(data, what)
  const list = width === 2 ? r.sub16(what) : r.sub8(what)
  r.end()
  if (list.left % 2 !== 0) throw decodeError(`Cannot decode ${what}: odd length ${list.left}`)
  const out: number[] = []
  while (list.hasMore()) out.push(list.u16())
  if (out.length < minEntries) throw decodeError(`Cannot decode ${what}: list is empty`)
  return out
}

function encodeU16List(values: readonly number[], width: 1 | 2 = 2): Uint8Array {
  return bytesOf((w) => {
    const body = (b: Writer): void => {
      for (const v of values) b.u16(v)
    }
    if (width === 2) w.prefixed16(body)
    else w.prefixed8(body)
  })
}

// --- server_name (RFC 6066 §3) ---------------------------------------------

/** Decodes a ClientHello server_name: exactly one host_name; validated as an LDH DNS name. */
export function decodeServerName(data: Uint8Array): string {
  const r = new Reader(data, 'server_name')
  const list = r.sub16('server_name list')
  r.end()
  let host: string | undefined
  if (!list.hasMore()) throw decodeError('Cannot decode server_name: list is empty')
  while (list.hasMore()) {
    const nameType = list.u8('name_type')
    const name = list.vec16('HostName')
    if (nameType !== 0) continue // RFC 6066: unknown name types are ignored
    if (host !== undefined) throw illegalParameter('Cannot decode server_name: two host names')
    host = validateHostName(name)
  }
  if (host === undefined) throw illegalParameter('Cannot decode server_name: no host_name entry')
  return host
}

/**
 * RFC 6066 §3: a fully qualified DNS hostname in ASCII, no trailing dot, no IP
 * literal. Returned lower-cased. Invalid names are illegal_parameter (Go rejects
 * a trailing dot the same way).
 */
export function validateHostName(name: Uint8Array): string {
  if (name.length === 0 || name.length > 253) {
    throw illegalParameter(`Cannot decode server_name: length ${name.length} is out of range`)
  }
  let s = ''
  let labelLen = 0
  for (let i = 0; i < name.length; i++) {
    let c = name[i] as number
    if (c === 0x2e) {
      if (labelLen === 0) throw illegalParameter('Cannot decode server_name: empty label')
      labelLen = 0
    } else {
      const ok =
        (c >= 0x30 && c <= 0x39) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x61 && c <= 0x7a) ||
        c === 0x2d ||
        c === 0x5f
      if (!ok) throw illegalParameter(`Cannot decode server_name: invalid byte 0x${c.toString(16)}`)
      if (c >= 0x41 && c <= 0x5a) c += 0x20
      if (++labelLen > 63)
        throw illegalParameter('Cannot decode server_name: label exceeds 63 bytes')
    }
    s += String.fromCharCode(c)
  }
  if (labelLen === 0) throw illegalParameter('Cannot decode server_name: trailing dot')
  if (/^[0-9.]+$/.test(s)) throw illegalParameter('Cannot decode server_name: IP literal')
  return s
}

export function encodeServerName(host: string): Uint8Array {
  const name = new TextEncoder().encode(host)
  return bytesOf((w) => w.prefixed16((l) => l.u8(0).vec16(name)))
}

// --- supported_groups (RFC 8446 §4.2.7), signature_algorithms(_cert) (§4.2.3) ---

export function decodeNamedGroupList(data: Uint8Array): number[] {
  return decodeU16List(data, 'supported_groups', 1)
}

export function encodeNamedGroupList(groups: readonly number[]): Uint8Array {
  return encodeU16List(groups)
}

export function decodeSignatureSchemeList(
  data: Uint8Array,
  what = 'signature_algorithms',
): number[] {
  return decodeU16List(data, what, 1)
}

export function encodeSignatureSchemeList(schemes: readonly number[]): Uint8Array {
  return encodeU16List(schemes)
}

// --- supported_versions (RFC 8446 §4.2.1) -----------------------------------

export function decodeSupportedVersionsClient(data: Uint8Array): number[] {
  return decodeU16List(data, 'supported_versions', 1, 1)
}

export function encodeSupportedVersionsClient(versions: readonly number[]): Uint8Array {
  return encodeU16List(versions, 1)
}

export function decodeU16(data: Uint8Array, what: string): number {
  const r = new Reader(data, what)
  const v = r.u16(what)
  r.end()
  return v
}

export function encodeU16(v: number): Uint8Array {
  return new Uint8Array([v >>> 8, v & 0xff])
}

// --- key_share (RFC 8446 §4.2.8) ---------------------------------------------

export interface KeyShareEntry {
  readonly group: number
  readonly keyExchange: Uint8Array
}

/**
 * ClientHello client_shares<0..2^16-1>. An empty key_exchange is left to the key
 * exchange to reject with illegal_parameter (tlsfuzzer crfg-curves expects that).
 */
export function decodeKeyShareClient(data: Uint8Array): KeyShareEntry[] {
  const r = new Reader(data, 'key_share')
  const list = r.sub16('client_shares')
  r.end()
  const out: KeyShareEntry[] = []
  while (list.hasMore()) {
    const group = list.u16('group')
    out.push({ group, keyExchange: list.vec16('key_exchange') })
  }
  return out
}

export function encodeKeyShareClient(shares: readonly KeyShareEntry[]): Uint8Array {
  return bytesOf((w) =>
    w.prefixed16((l) => {
      for (const s of shares) l.u16(s.group).vec16(s.keyExchange)
    }),
  )
}

export function decodeKeyShareServer(data: Uint8Array): KeyShareEntry {
  const r = new Reader(data, 'key_share')
  const group = r.u16('group')
  const keyExchange = r.vec16('key_exchange')
  r.end()
  return { group, keyExchange }
}

export function encodeKeyShareServer(share: KeyShareEntry): Uint8Array {
  // Sized exactly: an X25519MLKEM768 share (1,120 bytes) would otherwise grow the
  // writer five times.
  const w = new Writer(4 + share.keyExchange.length)
  w.u16(share.group).vec16(share.keyExchange)
  return w.view()
}

// --- psk_key_exchange_modes (RFC 8446 §4.2.9) --------------------------------

export function decodePskModes(data: Uint8Array): number[] {
  const r = new Reader(data, 'psk_key_exchange_modes')
  const modes = r.vec8('ke_modes')
  r.end()
  if (modes.length === 0) throw decodeError('Cannot decode psk_key_exchange_modes: list is empty')
  return [...modes]
}

export function encodePskModes(modes: readonly number[]): Uint8Array {
  return bytesOf((w) => w.vec8(new Uint8Array(modes)))
}

// --- pre_shared_key (RFC 8446 §4.2.11) ---------------------------------------

export interface PskIdentity {
  readonly identity: Uint8Array
  readonly obfuscatedTicketAge: number
}

export interface OfferedPsks {
  readonly identities: readonly PskIdentity[]
  readonly binders: readonly Uint8Array[]
  /** Bytes of the binders list including its uint16 length: the ClientHello's tail (RFC 8446 §4.2.11.2). */
  readonly bindersBytes: number
}

export function decodeOfferedPsks(data: Uint8Array): OfferedPsks {
  const r = new Reader(data, 'pre_shared_key')
  const ids = r.sub16('identities')
  const identities: PskIdentity[] = []
  while (ids.hasMore()) {
    const identity = ids.vec16('identity')
    if (identity.length === 0) throw decodeError('Cannot decode pre_shared_key: empty identity')
    identities.push({ identity, obfuscatedTicketAge: ids.u32('obfuscated_ticket_age') })
  }
  const bindersStart = r.offset
  const bl = r.sub16('binders')
  r.end()
  const binders: Uint8Array[] = []
  while (bl.hasMore()) {
    const b = bl.vec8('binder')
    if (b.length < 32)
      throw decodeError(`Cannot decode pre_shared_key: binder of ${b.length} bytes`)
    binders.push(b)
  }
  if (identities.length === 0 || binders.length === 0) {
    throw decodeError('Cannot decode pre_shared_key: empty identities or binders')
  }
  return { identities, binders, bindersBytes: data.length - bindersStart }
}

export function encodeOfferedPsks(
  identities: readonly PskIdentity[],
  binders: readonly Uint8Array[],
): Uint8Array {
  return bytesOf((w) => {
    w.prefixed16((l) => {
      for (const i of identities) l.vec16(i.identity).u32(i.obfuscatedTicketAge)
    })
    w.prefixed16((l) => {
      for (const b of binders) l.vec8(b)
    })
  })
}

// --- cookie (RFC 8446 §4.2.2) ------------------------------------------------

export function decodeCookie(data: Uint8Array): Uint8Array {
  const r = new Reader(data, 'cookie')
  const c = r.vec16('cookie')
  r.end()
  if (c.length === 0) throw decodeError('Cannot decode cookie: empty')
  return c
}

export function encodeCookie(cookie: Uint8Array): Uint8Array {
  return bytesOf((w) => w.vec16(cookie))
}

// --- application_layer_protocol_negotiation (RFC 7301 §3.1) -------------------

export function decodeAlpn(data: Uint8Array): Uint8Array[] {
  const r = new Reader(data, 'application_layer_protocol_negotiation')
  const list = r.sub16('protocol_name_list')
  r.end()
  const out: Uint8Array[] = []
  while (list.hasMore()) {
    const p = list.vec8('ProtocolName')
    if (p.length === 0) throw decodeError('Cannot decode ALPN: empty protocol name')
    out.push(p)
  }
  if (out.length === 0) throw decodeError('Cannot decode ALPN: list is empty')
  return out
}

export function encodeAlpn(protocols: readonly Uint8Array[]): Uint8Array {
  return bytesOf((w) =>
    w.prefixed16((l) => {
      for (const p of protocols) l.vec8(p)
    }),
  )
}

// --- early_data (RFC 8446 §4.2.10) -------------------------------------------

export function decodeEmpty(data: Uint8Array, what: string): void {
  if (data.length !== 0)
    throw decodeError(`Cannot decode ${what}: expected empty, got ${data.length} bytes`)
}
