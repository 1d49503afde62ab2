/**
 * The cache's disk store: one sealed file per entry (see envelope.ts), an
 * in-memory index (URL, host, tags, Vary values, size) that is the only map
 * from a file back to its URL, and LRU eviction under a byte limit.
 *
 * The index lives only in memory, like the key, so after a restart every file
 * in the directory is unreadable garbage: {@link DiskStore.open} deletes them.
 * A file that fails to open (tampered, truncated, foreign) is deleted and
 * reported as a miss. Writes go to a temporary file and are renamed into place,
 * so a reader never sees half an entry.
 */
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Envelope } from './envelope.ts'

/** What the index remembers about an entry (never written to disk in clear). */
export interface EntryInfo {
  /** The primary cache key: the effective request URI (RFC 9111 §4.1). */
  readonly primary: string
  /** Lower-case host, for purge by host. */
  readonly host: string
  /** Cache-Tag values, for purge by tag. */
  readonly tags: readonly string[]
  /** The request's values of the response's Vary fields (secondary key). */
  readonly vary: Readonly<Record<string, string>>
}

export interface IndexRow extends EntryInfo {
  readonly key: string
  readonly file: string
  readonly size: number
  readonly storedAt: number
}

/** Exactly one selector per purge. */
export type PurgeSelector =
  | { readonly url: string }
  | { readonly prefix: string }
  | { readonly host: string }
  | { readonly tag: string }

export interface DiskStoreOptions {
  readonly dir: string
  readonly maxBytes: number
  readonly envelope: Envelope
}

const OURS = /^(?:[0-9a-f]{64}|\.tmp-[0-9a-f]{16})$/

export class DiskStore {
  readonly dir: string
  readonly maxBytes: number
  readonly #envelope: Envelope
  /** key → row; Map order is recency order (oldest first). */
  readonly #rows = new Map<string, IndexRow>()
  readonly #byPrimary = new Map<string, Set<string>>()
  #bytes = 0
  #seq = 0
  /** Counts opened entries that failed authentication (tests and metrics read it). */
  rejected = 0

  private constructor(options: DiskStoreOptions) {
    this.dir = options.dir
    this.maxBytes = options.maxBytes
    this.#envelope = options.envelope
  }

  /** Creates the directory if needed and deletes every entry a previous process left behind. */
  static async open(options: DiskStoreOptions): Promise<DiskStore> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 })
    const store = new DiskStore(options)
    await store.#collectGarbage()
    return store
  }

  get bytes(): number {
    return this.#bytes
  }

  get count(): number {
    return this.#rows.size
  }

  /** Variants stored for a primary key, most recent first. */
  variants(primary: string): readonly IndexRow[] {
    const keys = this.#byPrimary.get(primary)
    if (keys === undefined) return []
    const out: IndexRow[] = []
    for (const k of keys) {
      const r = this.#rows.get(k)
      if (r !== undefined) out.push(r)
    }
    return out.sort((a, b) => b.storedAt - a.storedAt)
  }

  /** The plaintext of an entry, or undefined (absent, or not authentic: then it is deleted). */
  async get(key: string): Promise<Buffer | undefined> {
    const row = this.#rows.get(key)
    if (row === undefined) return undefined
    let sealed: Buffer
    try {
      sealed = await readFile(join(this.dir, row.file))
    } catch {
      this.#forget(key)
      return undefined
    }
    const plain = this.#envelope.open(key, sealed)
    if (plain === undefined) {
      this.rejected++
      await this.delete(key)
      return undefined
    }
    // Still indexed (not purged while we read)? Then mark as most recently used.
    if (this.#rows.get(key) === row) {
      this.#rows.delete(key)
      this.#rows.set(key, row)
    }
    return plain
  }

  /** Seals and writes an entry, replacing any previous one, then evicts down to the limit. */
  async set(key: string, plaintext: Uint8Array, info: EntryInfo): Promise<void> {
    const sealed = this.#envelope.seal(key, plaintext)
    if (sealed.length > this.maxBytes) return
    const file = this.#envelope.fileName(key)
    const tmp = join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`)
    await writeFile(tmp, sealed, { mode: 0o600 })
    await rename(tmp, join(this.dir, file))
    this.#forget(key)
    const row: IndexRow = { ...info, key, file, size: sealed.length, storedAt: ++this.#seq }
    this.#rows.set(key, row)
    this.#bytes += row.size
    let set = this.#byPrimary.get(info.primary)
    if (set === undefined) this.#byPrimary.set(info.primary, (set = new Set()))
    set.add(key)
    await this.#evict()
  }

  async delete(key: string): Promise<boolean> {
    const row = this.#forget(key)
    if (row === undefined) return false
    await unlink(join(this.dir, row.file)).catch(() => undefined)
    return true
  }

  /** Deletes every entry the selector matches; returns how many. */
  async purge(sel: PurgeSelector): Promise<number> {
    const match = matcher(sel)
    const victims = [...this.#rows.values()].filter(match)
    for (const r of victims) await this.delete(r.key)
    return victims.length
  }

  /** Zeroises the keys and deletes every file: the store is empty and stays unusable. */
  async wipe(): Promise<void> {
    this.#envelope.wipe()
    this.#rows.clear()
    this.#byPrimary.clear()
    this.#bytes = 0
    await this.#collectGarbage()
  }

  #forget(key: string): IndexRow | undefined {
    const row = this.#rows.get(key)
    if (row === undefined) return undefined
    this.#rows.delete(key)
    this.#bytes -= row.size
    const set = this.#byPrimary.get(row.primary)
    set?.delete(key)
    if (set?.size === 0) this.#byPrimary.delete(row.primary)
    return row
  }

  async #evict(): Promise<void> {
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#rows.keys().next()
      if (oldest.done === true) break
      await this.delete(oldest.value)
    }
  }

  async #collectGarbage(): Promise<void> {
    const names = await readdir(this.dir)
    await Promise.all(
      names.filter((n) => OURS.test(n)).map((n) => rm(join(this.dir, n), { force: true })),
    )
  }
}

function matcher(sel: PurgeSelector): (r: IndexRow) => boolean {
  if ('url' in sel) return (r) => r.primary === sel.url
  if ('prefix' in sel) return (r) => r.primary.startsWith(sel.prefix)
  if ('host' in sel) {
    const h = sel.host.toLowerCase()
    return (r) => r.host === h
  }
  return (r) => r.tags.includes(sel.tag)
}
