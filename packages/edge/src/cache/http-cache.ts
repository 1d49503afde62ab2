/**
 * The HTTP cache: RFC 9111 keys (primary = effective request URI, secondary =
 * the request's values of the response's Vary fields, §4.1) over the sealed
 * disk store. An entry's plaintext is u32 metadata length ‖ metadata JSON
 * (status, headers, request and response times) ‖ body; all of it is sealed.
 */
import type { DiskStore, EntryInfo, PurgeSelector } from './disk-store.ts'
import { first, varyNames, varyValues, type HeaderMap, type StoredResponse } from './policy.ts'

export interface CachedEntry {
  readonly key: string
  readonly info: EntryInfo
  readonly stored: StoredResponse
  readonly body: Buffer
}

interface Meta {
  readonly v: number
  readonly status: number
  readonly headers: HeaderMap
  readonly requestTime: number
  readonly responseTime: number
}

/** Splits a Cache-Tag field (comma-separated tags, several field lines allowed). */
export function tagsOf(h: HeaderMap): string[] {
  const raw = h['cache-tag']
  if (raw === undefined) return []
  const text = typeof raw === 'string' ? raw : raw.join(',')
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export class HttpCache {
  readonly store: DiskStore
  /**
   * Writes in progress by primary key. A lookup waits for them, so a visitor who
   * repeats a request right after the first response ended finds the entry
   * (the write finishes after the last byte was sent, off the visitor's path).
   */
  readonly #writing = new Map<string, Promise<void>>()

  constructor(store: DiskStore) {
    this.store = store
  }

  /** The stored response that matches the request's Vary values, if any (most recent first). */
  async lookup(primary: string, reqHeaders: HeaderMap): Promise<CachedEntry | undefined> {
    const pending = this.#writing.get(primary)
    if (pending !== undefined) await pending.catch(() => undefined)
    for (const row of this.store.variants(primary)) {
      const want = varyValues(Object.keys(row.vary), reqHeaders)
      if (!sameValues(want, row.vary)) continue
      const plain = await this.store.get(row.key)
      if (plain === undefined) continue
      const entry = decode(row.key, row, plain)
      if (entry !== undefined) return entry
      await this.store.delete(row.key)
    }
    return undefined
  }

  /** Stores a response for a request (the caller has checked storability). */
  async put(
    primary: string,
    host: string,
    reqHeaders: HeaderMap,
    stored: StoredResponse,
    body: Uint8Array,
  ): Promise<void> {
    const names = varyNames(stored.headers)
    const vary = varyValues(names, reqHeaders)
    const key = names.length === 0 ? primary : `${primary}\n${JSON.stringify(vary)}`
    const info: EntryInfo = {
      primary,
      host: host.toLowerCase(),
      tags: tagsOf(stored.headers),
      vary,
    }
    await this.#track(primary, this.store.set(key, encode(stored, body), info))
  }

  async #track(primary: string, p: Promise<void>): Promise<void> {
    const prev = this.#writing.get(primary)
    const all = prev === undefined ? p : Promise.allSettled([prev, p]).then(() => undefined)
    this.#writing.set(primary, all)
    try {
      await p
    } finally {
      if (this.#writing.get(primary) === all) this.#writing.delete(primary)
    }
  }

  /** Replaces an entry's metadata after a 304 (RFC 9111 §4.3.4), keeping its body. */
  async refresh(entry: CachedEntry, stored: StoredResponse): Promise<void> {
    const p = this.store.set(entry.key, encode(stored, entry.body), {
      ...entry.info,
      tags: tagsOf(stored.headers),
    })
    await this.#track(entry.info.primary, p)
  }

  /** Waits for every write in progress. */
  async flush(): Promise<void> {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing.values()])
  }

  purge(sel: PurgeSelector): Promise<number> {
    return this.store.purge(sel)
  }
}

function sameValues(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => a[k] === b[k])
}

function encode(stored: StoredResponse, body: Uint8Array): Buffer {
  const meta: Meta = {
    v: 1,
    status: stored.status,
    headers: stored.headers,
    requestTime: stored.requestTime,
    responseTime: stored.responseTime,
  }
  const json = Buffer.from(JSON.stringify(meta), 'utf8')
  const out = Buffer.allocUnsafe(4 + json.length + body.length)
  out.writeUInt32BE(json.length, 0)
  json.copy(out, 4)
  out.set(body, 4 + json.length)
  return out
}

function decode(key: string, info: EntryInfo, plain: Buffer): CachedEntry | undefined {
  if (plain.length < 4) return undefined
  const n = plain.readUInt32BE(0)
  if (4 + n > plain.length) return undefined
  let meta: Meta
  try {
    meta = JSON.parse(plain.subarray(4, 4 + n).toString('utf8')) as Meta
  } catch {
    return undefined
  }
  // Defensive: the envelope authenticates what we wrote, but never trust a shape.
  if (
    typeof meta !== 'object' ||
    (meta as Meta | null) === null ||
    meta.v !== 1 ||
    typeof meta.status !== 'number' ||
    typeof meta.headers !== 'object' ||
    (meta.headers as HeaderMap | null) === null ||
    typeof meta.requestTime !== 'number' ||
    typeof meta.responseTime !== 'number'
  )
    return undefined
  return {
    key,
    info,
    stored: {
      status: meta.status,
      headers: meta.headers,
      requestTime: meta.requestTime,
      responseTime: meta.responseTime,
    },
    body: plain.subarray(4 + n),
  }
}

/** Lower-case host of a HeaderMap's Host (or :authority), without the port. */
export function hostOf(h: HeaderMap): string | undefined {
  const v = first(h, ':authority') ?? first(h, 'host')
  if (v === undefined) return undefined
  const s = v.trim().toLowerCase()
  if (s.startsWith('[')) return s.slice(0, s.indexOf(']') + 1)
  const i = s.lastIndexOf(':')
  return i === -1 ? s : s.slice(0, i)
}
