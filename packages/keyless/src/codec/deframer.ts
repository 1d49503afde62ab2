/**
 * Splits a keyless byte stream into whole frames. It holds at most one partial
 * frame (header plus at most `maxBodyBytes`), allocated once its header has
 * arrived, so memory per connection is bounded and a stream of tiny chunks costs
 * no more copying than one large chunk. A frame that lies wholly inside one
 * chunk is returned as a view of that chunk, without a copy (several requests
 * usually arrive in one TLS record).
 */
import { KeylessFormatError } from '../errors.ts'
import { HEADER_BYTES, MAX_BODY_BYTES } from './frame.ts'

export interface DeframerOptions {
  /** Frames whose Length exceeds this are rejected (default and maximum 65535). */
  maxBodyBytes?: number
}

/**
 * @example
 * ```ts
 * const deframer = new Deframer()
 * socket.on('data', (chunk) => {
 *   for (const frame of deframer.push(chunk)) handle(decodeFrame(frame))
 * })
 * ```
 */
export class Deframer {
  readonly #maxBody: number
  readonly #header = new Uint8Array(HEADER_BYTES)
  #headerFill = 0
  #frame: Uint8Array | undefined
  #frameFill = 0
  #failed: KeylessFormatError | undefined

  constructor(options: DeframerOptions = {}) {
    this.#maxBody = Math.min(options.maxBodyBytes ?? MAX_BODY_BYTES, MAX_BODY_BYTES)
  }

  /** Bytes of an incomplete frame held back for the next push. */
  get pendingBytes(): number {
    return this.#frame === undefined ? this.#headerFill : this.#frameFill
  }

  /**
   * Consumes `chunk` and returns every frame it completes (each a Uint8Array
   * holding header and body: a view of `chunk` when the frame lies inside it,
   * so `chunk` must not be changed while the frames are in use). Throws
   * KeylessFormatError when a header announces a body over the limit; the
   * deframer then stays failed.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    this.pushEach(chunk, (bytes, start, end) => {
      // A frame split across chunks arrives as the deframer's own copy.
      out.push(
        bytes === chunk
          ? new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start)
          : bytes,
      )
    })
    return out
  }

  /**
   * push() without the array and the views: calls `onFrame(bytes, start,
   * end)` for every frame `chunk` completes, in order, where the frame is
   * `bytes[start..end)`: `chunk` itself when the frame lies inside it, or a
   * fresh copy (start 0) when it was split across chunks. A frame
   * over the limit throws KeylessFormatError before any later frame is
   * reported, and the deframer stays failed.
   */
  pushEach(
    chunk: Uint8Array,
    onFrame: (bytes: Uint8Array, start: number, end: number) => void,
  ): void {
    if (this.#failed !== undefined) throw this.#failed
    let off = 0
    while (true) {
      if (this.#frame === undefined) {
        if (off >= chunk.length) break
        if (this.#headerFill === 0 && chunk.length - off >= HEADER_BYTES) {
          const length = ((chunk[off + 2] as number) << 8) | (chunk[off + 3] as number)
          if (length <= this.#maxBody && chunk.length - off >= HEADER_BYTES + length) {
            const end = off + HEADER_BYTES + length
            const start = off
            off = end
            onFrame(chunk, start, end)
            continue
          }
        }
        const n = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - off)
        this.#header.set(chunk.subarray(off, off + n), this.#headerFill)
        this.#headerFill += n
        off += n
        if (this.#headerFill < HEADER_BYTES) break
        const length = ((this.#header[2] ?? 0) << 8) | (this.#header[3] ?? 0)
        if (length > this.#maxBody) {
          this.#failed = new KeylessFormatError(
            `Cannot decode keyless frame: Length ${length} exceeds the limit of ${this.#maxBody}`,
          )
          throw this.#failed
        }
        this.#frame = new Uint8Array(HEADER_BYTES + length)
        this.#frame.set(this.#header)
        this.#frameFill = HEADER_BYTES
        this.#headerFill = 0
      }
      const frame = this.#frame
      const n = Math.min(frame.length - this.#frameFill, chunk.length - off)
      frame.set(chunk.subarray(off, off + n), this.#frameFill)
      this.#frameFill += n
      off += n
      if (this.#frameFill < frame.length) break
      this.#frame = undefined
      this.#frameFill = 0
      onFrame(frame, 0, frame.length)
    }
  }
}
