/**
 * The audit log: one JSON object per line, each carrying the SHA-256 of the
 * previous line (`prev`, 64 zeros for the first) and a sequence number, so an
 * edited, deleted or reordered line breaks the chain at the line after it.
 * (A chain cannot show that lines were cut from the end; ship the log, or its
 * last hash, off the machine for that.)
 *
 * Records are queued in the order operations finish, then chained and written
 * in one batch on the next turn of the event loop, so auditing never waits on
 * the disk per operation.
 */
import { hash } from 'node:crypto'
import { closeSync, openSync, readSync, fstatSync, type PathLike } from 'node:fs'
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { KeyServerError } from './errors.ts'

export interface AuditEntry {
  /** Node id from the client certificate, or null. */
  readonly node: string | null
  /** Key SKI in hex, or null when the request named none. */
  readonly ski: string | null
  /** Operation name, e.g. "SignTls13" or "0x42". */
  readonly op: string
  readonly sni: string | null
  readonly clientIp: string | null
  /** "ok" or the error code's name, e.g. "PolicyDenied". */
  readonly result: string
  readonly latencyUs: number
}

export interface AuditRecord extends AuditEntry {
  readonly seq: number
  readonly prev: string
  readonly time: string
}

const GENESIS = '0'.repeat(64)

function sha256Hex(line: string | Uint8Array): string {
  return hash('sha256', line, 'hex')
}

// JSON text of the strings records repeat (node ids, SKIs, opcode and result
// names, SNIs): escaped once, not once per record. Bounded (4096 strings of
// at most 256 characters; cleared when full).
const jsonCache = new Map<string, string>()
const str = (v: string | null): string => {
  if (v === null) return 'null'
  if (v.length > 256) return JSON.stringify(v)
  let j = jsonCache.get(v)
  if (j === undefined) {
    if (jsonCache.size >= 4096) jsonCache.clear()
    j = JSON.stringify(v)
    jsonCache.set(v, j)
  }
  return j
}

/**
 * The fields of a record after `time` and before `latencyUs`, as JSON text
 * (`"node":…,"result":…`). Written by hand because it runs once per
 * operation; every string a client controls goes through JSON.stringify.
 */
function middleOf(e: AuditEntry): string {
  return (
    `"node":${str(e.node)},"ski":${str(e.ski)},"op":${str(e.op)},"sni":${str(e.sni)},` +
    `"clientIp":${str(e.clientIp)},"result":${str(e.result)}`
  )
}

/** One record as a JSON line, fields in a fixed order (`middle` from middleOf). */
function recordLine(
  seq: number,
  prev: string,
  time: string,
  middle: string,
  latencyUs: number,
): string {
  return (
    `{"seq":${seq},"prev":"${prev}","time":"${time}",${middle},` +
    `"latencyUs":${Number.isFinite(latencyUs) ? Math.round(latencyUs) : 0}}\n`
  )
}

/** True when two entries agree on every field middleOf writes. */
function sameMiddle(a: AuditEntry, b: AuditEntry): boolean {
  return (
    a.node === b.node &&
    a.ski === b.ski &&
    a.op === b.op &&
    a.sni === b.sni &&
    a.clientIp === b.clientIp &&
    a.result === b.result
  )
}

/** Reads the last line of a file without reading the whole file. */
function lastLine(path: PathLike): string | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const size = fstatSync(fd).size
    let chunk = 4096
    for (;;) {
      const start = Math.max(0, size - chunk)
      const buf = Buffer.alloc(size - start)
      readSync(fd, buf, 0, buf.length, start)
      const text = buf.toString('utf8').replace(/\n+$/, '')
      const nl = text.lastIndexOf('\n')
      if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined
      chunk *= 4
    }
  } finally {
    closeSync(fd)
  }
}

export class AuditLog {
  readonly #file: FileHandle
  #prev: string
  #seq: number
  #pending: AuditEntry[] = []
  #pendingTimes: string[] = []
  #writing: Promise<void> = Promise.resolve()
  #scheduled = false
  #closed = false
  #timeMs = 0
  #timeIso = ''

  private constructor(file: FileHandle, prev: string, seq: number) {
    this.#file = file
    this.#prev = prev
    this.#seq = seq
  }

  /** Opens (or creates) `path` and continues its chain. */
  static async open(path: string): Promise<AuditLog> {
    const last = lastLine(path)
    let prev = GENESIS
    let seq = 0
    if (last !== undefined) {
      let rec: { seq?: unknown }
      try {
        rec = JSON.parse(last) as { seq?: unknown }
      } catch (e) {
        throw new KeyServerError(
          'ERR_KEYSERVER_AUDIT',
          `Cannot continue audit log ${path}: last line is not JSON`,
          {
            cause: e,
          },
        )
      }
      if (typeof rec.seq !== 'number') {
        throw new KeyServerError(
          'ERR_KEYSERVER_AUDIT',
          `Cannot continue audit log ${path}: last line has no seq`,
        )
      }
      prev = sha256Hex(last)
      seq = rec.seq + 1
    }
    return new AuditLog(await open(path, 'a', 0o600), prev, seq)
  }

  /** Chains and queues one record. */
  append(entry: AuditEntry): void {
    if (this.#closed) return
    const now = Date.now()
    if (now !== this.#timeMs) {
      this.#timeMs = now
      this.#timeIso = new Date(now).toISOString()
    }
    this.#pending.push(entry)
    this.#pendingTimes.push(this.#timeIso)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => {
        this.#scheduled = false
        void this.flush()
      })
    }
  }

  /** Chains and writes every queued record. */
  flush(): Promise<void> {
    const entries = this.#pending
    if (entries.length > 0) {
      // Chaining here, in one tight loop per batch, rather than per operation,
      // keeps the hashing out of the signing path's caches. Each line is
      // written once into the batch's buffer as UTF-8, and hashed and written
      // to the file from there (no second copy of the batch as a string).
      // Records of one batch mostly differ only in seq, prev, time and
      // latency: the JSON of the other fields is reused while they repeat.
      const times = this.#pendingTimes
      this.#pending = []
      this.#pendingTimes = []
      let buf = Buffer.allocUnsafe(entries.length * 384)
      let at = 0
      let last: AuditEntry | undefined
      let middle = ''
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as AuditEntry
        if (last === undefined || !sameMiddle(last, e)) {
          middle = middleOf(e)
          last = e
        }
        const line = recordLine(this.#seq++, this.#prev, times[i] as string, middle, e.latencyUs)
        // UTF-8 takes at most 3 bytes per UTF-16 code unit.
        if (at + line.length * 3 > buf.length) {
          const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, at + line.length * 3))
          buf.copy(grown, 0, 0, at)
          buf = grown
        }
        const n = buf.write(line, at)
        // The chain hashes the line without its newline.
        this.#prev = sha256Hex(buf.subarray(at, at + n - 1))
        at += n
      }
      const data = buf.subarray(0, at)
      this.#writing = this.#writing.then(async () => {
        await this.#file.write(data)
      })
    }
    return this.#writing
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    await this.#file.close()
  }
}

export type AuditVerdict =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly count: number; readonly line: number; readonly reason: string }

/** Checks the chain of an audit log's text; `line` in a failure is 1-based. */
export function verifyAuditText(text: string): AuditVerdict {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  let prev = GENESIS
  let expectSeq: number | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const fail = (reason: string): AuditVerdict => ({ ok: false, count: i, line: i + 1, reason })
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      return fail('not a JSON object')
    }
    if (typeof parsed !== 'object' || parsed === null) return fail('not a JSON object')
    const rec = parsed as Partial<Record<keyof AuditRecord, unknown>>
    if (typeof rec.seq !== 'number' || typeof rec.prev !== 'string')
      return fail('no seq or prev field')
    if (rec.prev !== prev) {
      return fail(
        i === 0
          ? 'prev of the first record is not the genesis value'
          : `prev does not match the SHA-256 of line ${i} (line ${i} or ${i + 1} was changed, removed or moved)`,
      )
    }
    if (expectSeq !== undefined && rec.seq !== expectSeq) {
      return fail(`seq is ${String(rec.seq)}, expected ${expectSeq}`)
    }
    expectSeq = rec.seq + 1
    prev = sha256Hex(line)
  }
  return { ok: true, count: lines.length }
}

export async function verifyAuditFile(path: string): Promise<AuditVerdict> {
  return verifyAuditText(await readFile(path, 'utf8'))
}
