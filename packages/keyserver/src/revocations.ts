/**
 * The list of revoked node ids (threat model P10: a revoked node is refused
 * within 1 s). Sources: a file (one id per line, '#' comments) that is polled
 * every 200 ms and re-read on SIGHUP, and the admin API, which replaces the
 * list and rewrites the file. Every change calls `onChange` so the server can
 * close the revoked nodes' open connections.
 */
import {
  readFileSync,
  renameSync,
  unwatchFile,
  watchFile,
  writeFileSync,
  type Stats,
} from 'node:fs'
import { KeyServerError } from './errors.ts'

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** Parses the revocation file format; throws naming the first bad line. */
export function parseRevocations(text: string): string[] {
  const ids: string[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    if (!NODE_ID_RE.test(line)) {
      throw new KeyServerError(
        'ERR_KEYSERVER_POLICY',
        `Cannot parse revocations: line ${i + 1} is not a node id: ${JSON.stringify(line.slice(0, 80))}`,
      )
    }
    ids.push(line)
  })
  return ids
}

export class RevocationList {
  #ids: ReadonlySet<string> = new Set()
  readonly #file: string | undefined
  readonly #onChange: (ids: ReadonlySet<string>) => void
  readonly #onError: (e: Error) => void
  #watching = false

  constructor(
    file: string | undefined,
    onChange: (ids: ReadonlySet<string>) => void,
    onError: (e: Error) => void = () => undefined,
  ) {
    this.#file = file
    this.#onChange = onChange
    this.#onError = onError
  }

  has(nodeId: string): boolean {
    return this.#ids.has(nodeId)
  }

  get ids(): readonly string[] {
    return [...this.#ids].sort()
  }

  /** Replaces the list (and the file, if there is one). */
  replace(ids: Iterable<string>): void {
    const list = [...new Set(ids)]
    for (const id of list) {
      if (!NODE_ID_RE.test(id)) {
        throw new KeyServerError(
          'ERR_KEYSERVER_POLICY',
          `Cannot revoke: not a node id: ${JSON.stringify(id.slice(0, 80))}`,
        )
      }
    }
    if (this.#file !== undefined) {
      const tmp = `${this.#file}.${process.pid}.tmp`
      writeFileSync(
        tmp,
        `# Revoked node ids, one per line (written by the key server)\n${list.join('\n')}\n`,
      )
      renameSync(tmp, this.#file)
    }
    this.#set(list)
  }

  /** Re-reads the file. A missing file is an empty list; a malformed one keeps the old list. */
  reload(): void {
    if (this.#file === undefined) return
    let text: string
    try {
      text = readFileSync(this.#file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#set([])
        return
      }
      this.#onError(e as Error)
      return
    }
    try {
      this.#set(parseRevocations(text))
    } catch (e) {
      this.#onError(e as Error)
    }
  }

  /** Polls the file for changes (mtime/size/inode) every `intervalMs`. */
  watch(intervalMs = 200): void {
    if (this.#file === undefined || this.#watching) return
    this.#watching = true
    watchFile(
      this.#file,
      { interval: intervalMs, persistent: false },
      (cur: Stats, prev: Stats) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino)
          this.reload()
      },
    )
  }

  close(): void {
    if (this.#file !== undefined && this.#watching) unwatchFile(this.#file)
    this.#watching = false
  }

  #set(list: readonly string[]): void {
    const next = new Set(list)
    const same = next.size === this.#ids.size && [...next].every((id) => this.#ids.has(id))
    this.#ids = next
    if (!same) this.#onChange(next)
  }
}
