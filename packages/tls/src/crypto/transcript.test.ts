/**
 * The transcript hash on each backend (the addon's SHA-2 states in shared slabs, and
 * node:crypto's Hash) against a one-shot node:crypto hash of the concatenation.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { toHex } from '@outpost/wire'
import { availableBackends } from './native.ts'
import { Transcript, hashOf } from './transcript.ts'

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const digest = (hash: string, parts: readonly Uint8Array[]): string =>
  createHash(hash).update(concat(parts)).digest('hex')

for (const backend of availableBackends) {
  test(`Transcript equals a one-shot hash at every step, small and large messages (${backend})`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom('sha256' as const, 'sha384' as const),
        fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 8 }),
        fc.uint8Array({ maxLength: 100 }),
        (hash, messages, extra) => {
          const t = new Transcript(hash, backend)
          const seen: Uint8Array[] = []
          for (const m of messages) {
            t.update(m)
            seen.push(m)
            assert.equal(toHex(t.current()), digest(hash, seen))
          }
          assert.equal(toHex(t.currentWith(extra)), digest(hash, [...seen, extra]))
          // currentWith adds nothing.
          assert.equal(toHex(t.current()), digest(hash, seen))
          assert.equal(toHex(hashOf(hash, concat(seen), backend)), digest(hash, seen))
        },
      ),
      { numRuns: 200 },
    )
  })

  test(`many Transcripts at once keep their own states (shared slabs) (${backend})`, () => {
    // More than one slab's worth, interleaved as concurrent connections would be.
    const count = 100
    const ts = Array.from(
      { length: count },
      (_, i) => new Transcript(i % 3 ? 'sha256' : 'sha384', backend),
    )
    const seen: Uint8Array[][] = ts.map(() => [])
    for (let round = 0; round < 5; round++) {
      ts.forEach((t, i) => {
        const m = new Uint8Array(round * 37 + i).fill(i + round)
        t.update(m)
        ;(seen[i] as Uint8Array[]).push(m)
      })
      ts.forEach((t, i) => {
        assert.equal(toHex(t.current()), digest(t.hashName, seen[i] as Uint8Array[]), `${i}`)
      })
    }
  })

  test(`Transcript.afterRetry starts with message_hash (RFC 8446 §4.4.1) (${backend})`, () => {
    const ch1Hash = new Uint8Array(32).fill(9)
    const t = Transcript.afterRetry('sha256', ch1Hash, backend)
    const hrr = new Uint8Array([2, 0, 0, 1, 0])
    t.update(hrr)
    assert.equal(
      toHex(t.current()),
      digest('sha256', [new Uint8Array([254, 0, 0, 32]), ch1Hash, hrr]),
    )
  })
}
