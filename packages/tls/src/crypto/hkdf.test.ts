import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { toHex } from '@outpost/wire'
import { hkdfExpand, hkdfExpandLabel, hkdfExtract, macKey } from './hkdf.ts'
import { availableBackends } from './native.ts'
import type { HashName } from './suites.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const hashes: readonly HashName[] = ['sha256', 'sha384']

for (const backend of availableBackends) {
  test(`macKey() matches RFC 4231 test case 2 and node:crypto for any key, parts and truncation (${backend})`, () => {
    assert.equal(
      toHex(macKey('sha256', enc('Jefe'), backend).mac(enc('what do ya want for nothing?'))),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...hashes),
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.uint8Array({ maxLength: 150 }), { minLength: 1, maxLength: 3 }),
        fc.nat(47),
        (hash, key, parts, cut) => {
          const want = createHmac(hash, key)
          for (const p of parts) want.update(p)
          const full = new Uint8Array(want.digest())
          const k = macKey(hash, key, backend)
          const [a, b, c] = parts as [Uint8Array, Uint8Array?, Uint8Array?]
          assert.equal(toHex(k.mac(a, b, c)), toHex(full))
          const length = 1 + (cut % full.length)
          assert.equal(toHex(k.mac(a, b, c, length)), toHex(full.subarray(0, length)))
          k.drop()
        },
      ),
      { numRuns: 300 },
    )
  })

  test(`hkdfExtract() and hkdfExpand() agree with node:crypto's hkdfSync (${backend})`, () => {
    for (const hash of hashes) {
      for (const length of [1, 12, 16, 32, 48, 64, 100]) {
        const ikm = new Uint8Array(randomBytes(40))
        const salt = new Uint8Array(randomBytes(hash === 'sha256' ? 32 : 48))
        const info = new Uint8Array(randomBytes(20))
        const prk = hkdfExtract(hash, salt, ikm)
        const key = macKey(hash, prk, backend)
        assert.equal(
          toHex(hkdfExpand(hash, key, info, length)),
          toHex(new Uint8Array(hkdfSync(hash, ikm, salt, info, length))),
          `${hash}, ${length} bytes`,
        )
      }
    }
  })
}

test('HKDF-Expand-Label gives the same bytes on every backend (a prepared key or raw bytes)', () => {
  const secret = new Uint8Array(48).fill(5)
  for (const hash of hashes) {
    const results = availableBackends.map((b) => {
      const k = macKey(hash, secret.subarray(0, hash === 'sha256' ? 32 : 48), b)
      return toHex(hkdfExpandLabel(hash, k, 'c hs traffic', new Uint8Array(32).fill(1), 32))
    })
    const raw = toHex(
      hkdfExpandLabel(
        hash,
        secret.subarray(0, hash === 'sha256' ? 32 : 48),
        'c hs traffic',
        new Uint8Array(32).fill(1),
        32,
      ),
    )
    for (const r of results) assert.equal(r, raw, hash)
  }
})
