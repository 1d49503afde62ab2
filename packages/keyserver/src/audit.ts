/**
 * The audit log: one JSON object per line, each carrying the SHA-256 of the
 * previous line (`prev`, 64 zeros for the first) and a sequence number, so an
 * edited, deleted or reordered line breaks the chain at the line after it.
 * (A chain cannot show that lines were cut from the end; ship the log, or its
 * last hash, off the machine for that.)
 *
 * Records are queued in the order operations finish and chained at the end
 * of the event loop's turn (setImmediate). The chained lines collect in a
 * buffer that is written with one synchronous write(2) (a buffered append to
 * the page cache, no fsync, as pino's default destination does; no thread
 * pool hop, no promise) at the end of every turn by default, in the turn
 * whose answers they record. With `writeDelayMs` > 0 (config
 * `audit.writeDelayMs`) the buffer is written once it holds WRITE_BYTES, or
 * `writeDelayMs` after its first line: a write per turn of about 10 KiB cost
 * ext4 several times more per byte than one of 256 KiB (~0.5 µs per operation
 * at full load), at the price that a process killed outright loses the lines
 * of the last `writeDelayMs` (the chain stays intact up to the last line
 * written). flush()/close() write at once. A failed write throws out of its
 * turn, so the process stops rather than serve without an audit trail.
 *
 * A line is built as bytes, not as a string: the JSON of the fields records
 * repeat (node, SKI, op, SNI, client IP, result) is encoded once while
 * consecutive records share it, and the time once per millisecond. It is
 * assembled in a scratch buffer and hashed through a view of it cached by
 * length, so chaining allocates nothing per record but the hash's hex text.
 */
import { hash } from 'node:crypto'
import { closeSync, openSync, readSync, fstatSync, writeSync, type PathLike } from 'node:fs'
import { readFile } from 'node:fs/promises'
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

/** With a write delay, the write buffer is written once it holds this much... */
export const WRITE_BYTES = 256 * 1024
/** ...or at most this long after its first line (the largest `writeDelayMs`). */
export const MAX_WRITE_DELAY_MS = 1000

const ascii = (t: string): Buffer => Buffer.from(t, 'latin1')
// The constant parts of a line: {"seq":N,"prev":"H","time":"T",MIDDLE,"latencyUs":N}
const SEQ_OPEN = ascii('{"seq":')
const PREV_OPEN = ascii(',"prev":"')
const TIME_OPEN = '","time":"'

/** Writes a non-negative safe integer's decimal digits at `at`; returns the end. */
function writeUint(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 0x30 + n
    return at + 1
  }
  let digits = 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
  let x = n
  for (let i = at + digits - 1; i >= at; i--) {
    const q = Math.floor(x / 10)
    buf[i] = 0x30 + (x - q * 10)
    x = q
  }
  return at + digits
}

/** `latencyUs` as it is printed: rounded, 0 when not finite. */
function latencyOf(latencyUs: number): number {
  return Number.isFinite(latencyUs) ? Math.round(latencyUs) : 0
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
  readonly #fd: number
  #prev: string
  #seq: number
  #pending: AuditEntry[] = []
  /** Date.now() of each pending entry. */
  #pendingTimes = new Float64Array(1024)
  #scheduled = false
  #closed = false
  // Date.now() and performance.now() at the first record of this turn.
  #wallBase = 0
  #monoBase = 0
  // Chained lines not written yet, and the timer that writes them.
  #out = Buffer.allocUnsafe(WRITE_BYTES + 64 * 1024)
  #outLength = 0
  #writeTimer: NodeJS.Timeout | undefined
  // The line under construction, and views of its first n bytes by n.
  #scratch = Buffer.allocUnsafe(1024)
  #views = new Array<Buffer | undefined>(1025).fill(undefined)
  // `","time":"` and the ISO time of millisecond #timeMs, as bytes.
  #timeMs = NaN
  #timeBytes = ascii('')
  // `",` + the middle fields + `,"latencyUs":` of #middleOf, as bytes.
  #middleOf: AuditEntry | undefined
  #middleBytes = ascii('')

  readonly #writeDelayMs: number

  private constructor(fd: number, prev: string, seq: number, writeDelayMs: number) {
    this.#fd = fd
    this.#prev = prev
    this.#seq = seq
    this.#writeDelayMs = writeDelayMs
  }

  /** Opens (or creates) `path` and continues its chain. */
  static open(path: string, options: { readonly writeDelayMs?: number } = {}): Promise<AuditLog> {
    const writeDelayMs = options.writeDelayMs ?? 0
    if (!(writeDelayMs >= 0 && writeDelayMs <= MAX_WRITE_DELAY_MS))
      return Promise.reject(
        new KeyServerError(
          'ERR_KEYSERVER_AUDIT',
          `Cannot open audit log ${path}: writeDelayMs must be 0..${MAX_WRITE_DELAY_MS}`,
        ),
      )
    const last = lastLine(path)
    let prev = GENESIS
    let seq = 0
    if (last !== undefined) {
      let rec: { seq?: unknown }
      try {
        rec = JSON.parse(last) as { seq?: unknown }
      } catch (e) {
        return Promise.reject(
          new KeyServerError(
            'ERR_KEYSERVER_AUDIT',
            `Cannot continue audit log ${path}: last line is not JSON`,
            { cause: e },
          ),
        )
      }
      if (typeof rec.seq !== 'number') {
        return Promise.reject(
          new KeyServerError(
            'ERR_KEYSERVER_AUDIT',
            `Cannot continue audit log ${path}: last line has no seq`,
          ),
        )
      }
      prev = sha256Hex(last)
      seq = rec.seq + 1
    }
    return Promise.resolve(new AuditLog(openSync(path, 'a', 0o600), prev, seq, writeDelayMs))
  }

  /**
   * Queues one record; it is chained at the end of this turn (and written as
   * the file comment says). `at` is when it happened on the performance.now()
   * clock (default: now), for a caller that has just read it: the wall-clock
   * time is read once per turn and the record's time derived from it.
   */
  append(entry: AuditEntry, at: number = performance.now()): void {
    if (this.#closed) return
    const n = this.#pending.length
    if (n === this.#pendingTimes.length) {
      const grown = new Float64Array(n * 2)
      grown.set(this.#pendingTimes)
      this.#pendingTimes = grown
    }
    if (n === 0) {
      this.#wallBase = Date.now()
      this.#monoBase = at
    }
    this.#pendingTimes[n] = Math.floor(this.#wallBase + (at - this.#monoBase))
    this.#pending.push(entry)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#endOfTurn)
    }
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false
    if (this.#closed) return
    this.#chainPending()
    if (this.#writeDelayMs === 0 || this.#outLength >= WRITE_BYTES) this.#write()
    else if (this.#outLength > 0 && this.#writeTimer === undefined) {
      this.#writeTimer = setTimeout(this.#write, this.#writeDelayMs)
    }
  }

  /** Chains and writes every queued record (resolves once written; rejects if the write fails). */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    try {
      this.#chainPending()
      this.#write()
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
    return Promise.resolve()
  }

  /**
   * Chains the queued records into the write buffer, in one tight loop per
   * turn rather than per operation, which keeps the hashing out of the
   * signing path's caches.
   */
  #chainPending(): void {
    const entries = this.#pending
    if (entries.length === 0) return
    this.#pending = []
    let out = this.#out
    let at = this.#outLength
    for (let i = 0; i < entries.length; i++) {
      const line = this.#line(entries[i] as AuditEntry, this.#pendingTimes[i] as number)
      if (at + line.length + 1 > out.length) {
        const grown = Buffer.allocUnsafe(Math.max(out.length * 2, at + line.length + 1))
        out.copy(grown, 0, 0, at)
        out = this.#out = grown
      }
      out.set(line, at)
      at += line.length
      out[at++] = 0x0a
    }
    this.#outLength = at
  }

  /** Writes the write buffer out (the buffer is reused: write(2) has copied it). */
  readonly #write = (): void => {
    if (this.#writeTimer !== undefined) {
      clearTimeout(this.#writeTimer)
      this.#writeTimer = undefined
    }
    const out = this.#out
    const n = this.#outLength
    this.#outLength = 0
    for (let done = 0; done < n;) done += writeSync(this.#fd, out, done, n - done)
    if (out.length > WRITE_BYTES + 64 * 1024)
      this.#out = Buffer.allocUnsafe(WRITE_BYTES + 64 * 1024)
  }

  /**
   * The next record as a JSON line without its newline (a view of the
   * scratch buffer, valid until the next call), chained: #prev becomes its hash.
   */
  #line(e: AuditEntry, timeMs: number): Buffer {
    if (timeMs !== this.#timeMs) {
      this.#timeMs = timeMs
      this.#timeBytes = ascii(TIME_OPEN + new Date(timeMs).toISOString())
    }
    const last = this.#middleOf
    if (last === undefined || !sameMiddle(last, e)) {
      this.#middleOf = e
      this.#middleBytes = Buffer.from(`",${middleOf(e)},"latencyUs":`, 'utf8')
    }
    const seq = this.#seq++
    const latency = latencyOf(e.latencyUs)
    // seq and latency: at most 16 digits each (or 25 characters when printed
    // in exponent form); the rest is known.
    const need =
      SEQ_OPEN.length +
      PREV_OPEN.length +
      64 +
      this.#timeBytes.length +
      this.#middleBytes.length +
      2 * 25 +
      1
    let sc = this.#scratch
    if (need > sc.length) {
      sc = this.#scratch = Buffer.allocUnsafe(2 * need)
      this.#views = new Array<Buffer | undefined>(sc.length + 1).fill(undefined)
    }
    sc.set(SEQ_OPEN, 0)
    let at = writeUint(sc, SEQ_OPEN.length, seq)
    sc.set(PREV_OPEN, at)
    at += PREV_OPEN.length
    at += sc.write(this.#prev, at, 'latin1')
    sc.set(this.#timeBytes, at)
    at += this.#timeBytes.length
    sc.set(this.#middleBytes, at)
    at += this.#middleBytes.length
    if (Number.isSafeInteger(latency) && latency >= 0) at = writeUint(sc, at, latency)
    else at += sc.write(String(latency), at, 'latin1')
    sc[at++] = 0x7d // }
    let view = this.#views[at]
    if (view === undefined) this.#views[at] = view = sc.subarray(0, at)
    this.#prev = sha256Hex(view)
    return view
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    closeSync(this.#fd)
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
