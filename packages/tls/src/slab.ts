/**
 * Pieces of shared 8 KiB slabs, handed out as Buffer's pool does: an array of more than 64
 * bytes of its own is an ArrayBuffer (a malloc, and work for V8's sweeper), a piece of a slab
 * is not. Each piece belongs to one owner and is zero-filled when taken: a slab is never
 * reused, and the GC frees it with its last piece.
 */
export class Slabs {
  readonly #maxPieceBytes: number
  readonly #slabBytes: number
  #slab = new Uint8Array(0)
  #used = 0

  /** Requests above `maxPieceBytes` get an array of their own. */
  constructor(maxPieceBytes: number, slabBytes = 8192) {
    this.#maxPieceBytes = Math.min(maxPieceBytes, slabBytes)
    this.#slabBytes = slabBytes
  }

  /** A zero-filled array of `n` bytes. */
  take(n: number): Uint8Array {
    if (n > this.#maxPieceBytes) return new Uint8Array(n)
    if (this.#used + n > this.#slab.length) {
      this.#slab = new Uint8Array(this.#slabBytes)
      this.#used = 0
    }
    const piece = this.#slab.subarray(this.#used, this.#used + n)
    this.#used += n
    return piece
  }
}
