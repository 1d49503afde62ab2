/**
 * The native addon's own calls (native/outpost_tls.c) against node:crypto, and its
 * argument checks: a bad argument from JavaScript is a clear exception, never a
 * crash or a write out of bounds. Skipped when the addon is not built or
 * OUTPOST_TLS_NATIVE=0; a built addon that does not load fails here.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  createCipheriv,
  createHash,
  createHmac,
  createPublicKey,
  decapsulate,
  diffieHellman,
  generateKeyPairSync,
} from 'node:crypto'
import fc from 'fast-check'
import { toHex } from '@outpost/wire'
import {
  ADDON_INTERFACE,
  native,
  nativeLoadError,
  staleAddonReason,
  type NativeBinding,
} from './native.ts'
import { SUITES, type SuiteParams } from './suites.ts'

const BUDGET_MS = Number(process.env['FUZZ_MS'] ?? 1500)
const built = existsSync(new URL('../../native/build/outpost_tls.node', import.meta.url))
const skip =
  native === undefined
    ? process.env['OUTPOST_TLS_NATIVE'] === '0'
      ? 'OUTPOST_TLS_NATIVE=0'
      : 'addon not built (node scripts/build-native.ts)'
    : false

test('the native addon loads when it is built and allowed', () => {
  if (process.env['OUTPOST_TLS_NATIVE'] === '0') return
  assert.equal(nativeLoadError, undefined, `built addon failed to load: ${String(nativeLoadError)}`)
  assert.equal(native !== undefined, built)
})

const n = (): NativeBinding => native as NativeBinding

/** RFC 8446 §5.3: the sequence number XORed into the IV's last 8 bytes. */
function nonceOf(iv: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(iv)
  let s = BigInt(seq)
  for (let i = 11; i >= 4; i--) {
    out[i] = (out[i] as number) ^ Number(s & 0xffn)
    s >>= 8n
  }
  return out
}

/** node:crypto's AEAD seal of `plain` under `aad`: ciphertext ‖ tag. */
function nodeSeal(
  name: string,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plain: Uint8Array,
): Uint8Array {
  const c = createCipheriv(name as 'aes-128-gcm', key, nonce, { authTagLength: 16 })
  c.setAAD(aad)
  const body = c.update(plain)
  const f = c.final()
  const out = new Uint8Array(body.length + f.length + 16)
  out.set(body)
  out.set(f, body.length)
  out.set(c.getAuthTag(), body.length + f.length)
  return out
}

/**
 * HKDF-Expand-Label(secret, label, "", length) with node:crypto's HMAC (RFC 8446
 * §7.1; one block), independent of the code under test.
 */
function expandLabel(hash: string, secret: Uint8Array, label: string, length: number): Uint8Array {
  const l = new TextEncoder().encode(`tls13 ${label}`)
  const info = new Uint8Array([length >>> 8, length & 0xff, l.length, ...l, 0, 1])
  return new Uint8Array(createHmac(hash, secret).update(info).digest()).subarray(0, length)
}

/** RFC 8446 §7.3: the write key and IV of a traffic secret. */
function keysOf(suite: SuiteParams, secret: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  return {
    key: expandLabel(suite.hash, secret, 'key', suite.keyLen),
    iv: expandLabel(suite.hash, secret, 'iv', 12),
  }
}

/** aad ‖ plaintext ‖ 16 bytes for the tag, sealed in place by the addon. */
function nativeSeal(
  suite: SuiteParams,
  secret: Uint8Array,
  seq: number,
  aad: Uint8Array,
  plain: Uint8Array,
): Uint8Array {
  const rec = new Uint8Array(aad.length + plain.length + 16)
  rec.set(aad)
  rec.set(plain, aad.length)
  const a = new (n().Aead)(suite.aead, 'seal', secret, suite.hashLen)
  a.seal(seq, rec, aad.length)
  a.free()
  return rec
}

const input = fc.record({
  suite: fc.constantFrom(...SUITES),
  seed: fc.uint8Array({ minLength: 48, maxLength: 48 }),
  seq: fc.oneof(fc.nat(1000), fc.maxSafeNat()),
  aad: fc.uint8Array({ maxLength: 64 }),
  plain: fc.uint8Array({ maxLength: 3000 }),
})

test(
  'Aead.seal equals node:crypto for random key, nonce, AAD and plaintext, per suite',
  { skip },
  () => {
    fc.assert(
      fc.property(input, ({ suite, seed, seq, aad, plain }) => {
        const secret = seed.subarray(0, suite.hashLen)
        const { key, iv } = keysOf(suite, secret)
        const got = nativeSeal(suite, secret, seq, aad, plain)
        assert.equal(toHex(got.subarray(0, aad.length)), toHex(aad))
        assert.equal(
          toHex(got.subarray(aad.length)),
          toHex(nodeSeal(suite.aead, key, nonceOf(iv, seq), aad, plain)),
        )
      }),
      { numRuns: 400 },
    )
  },
)

test(
  'Aead.open returns the plaintext, and -1 with its output zeroed for any single-bit flip',
  { skip },
  () => {
    fc.assert(
      fc.property(input, fc.nat(), ({ suite, seed, seq, aad, plain }, bit) => {
        const secret = seed.subarray(0, suite.hashLen)
        const sealed = nativeSeal(suite, secret, seq, aad, plain).subarray(aad.length)
        const a = new (n().Aead)(suite.aead, 'open', secret, suite.hashLen)
        const out = new Uint8Array(plain.length + 8).fill(0xee)
        assert.equal(a.open(seq, aad, sealed, out, 4), plain.length)
        assert.equal(toHex(out.subarray(4, 4 + plain.length)), toHex(plain))
        // Flip one bit of AAD ‖ ciphertext ‖ tag.
        const all = aad.length + sealed.length
        const at = bit % (all * 8)
        const aad2 = new Uint8Array(aad)
        const sealed2 = new Uint8Array(sealed)
        const byte = at >>> 3
        if (byte < aad.length) aad2[byte] = (aad2[byte] as number) ^ (1 << (at & 7))
        else {
          const i = byte - aad.length
          sealed2[i] = (sealed2[i] as number) ^ (1 << (at & 7))
        }
        out.fill(0xee)
        assert.equal(a.open(seq, aad2, sealed2, out, 4), -1)
        assert.ok(
          out.subarray(4, 4 + plain.length).every((x) => x === 0),
          'output zeroed',
        )
        assert.ok(
          out.subarray(0, 4).every((x) => x === 0xee),
          'nothing written before the offset',
        )
        assert.ok(
          out.subarray(4 + plain.length).every((x) => x === 0xee),
          'nor after the plaintext',
        )
        // The wrong sequence number is a wrong nonce.
        assert.equal(a.open(seq === 0 ? 1 : seq - 1, aad, sealed, out, 4), -1)
        a.free()
      }),
      { numRuns: 300 },
    )
  },
)

const AES128 = SUITES[0] as SuiteParams

test('Aead opens in place when the output is the ciphertext itself', { skip }, () => {
  const secret = new Uint8Array(32).fill(1)
  const rec = nativeSeal(AES128, secret, 9, new Uint8Array(5), new Uint8Array([1, 2, 3]))
  const a = new (n().Aead)('aes-128-gcm', 'open', secret, 32)
  const body = rec.subarray(5)
  assert.equal(a.open(9, rec.subarray(0, 5), body, body, 0), 3)
  assert.deepEqual([...body.subarray(0, 3)], [1, 2, 3])
})

test('Aead rejects bad arguments with clear errors', { skip }, () => {
  const { Aead } = n()
  const s32 = new Uint8Array(32)
  const seal = new Aead('aes-128-gcm', 'seal', s32, 32)
  const open = new Aead('aes-128-gcm', 'open', s32, 32)
  const cases: [() => unknown, RegExp][] = [
    [
      () => new Aead('aes-128-gcm', 'seal', new Uint8Array(31), 32),
      /trafficSecret must be 32 bytes, current length is 31/,
    ],
    [
      () => new Aead('aes-256-gcm', 'seal', s32, 48),
      /trafficSecret must be 48 bytes, current length is 32/,
    ],
    [
      () => new Aead('chacha20-poly1305', 'open', s32, 20 as 32),
      /hashLength must be 32 \(SHA-256\) or 48 \(SHA-384\)/,
    ],
    [() => new Aead('aes-128-cbc' as 'aes-128-gcm', 'seal', s32, 32), /name must be/],
    [
      () => new Aead('aes-128-gcm', 'both' as 'seal', s32, 32),
      /direction must be 'seal' or 'open'/,
    ],
    [
      () => new Aead('aes-128-gcm', 'seal', 'key' as never, 32),
      /trafficSecret must be a Uint8Array/,
    ],
    [
      () => new Aead('aes-128-gcm', 'seal', new Uint16Array(16) as never, 32),
      /trafficSecret must be a Uint8Array/,
    ],
    [
      () => (Aead as unknown as (...a: unknown[]) => unknown)('aes-128-gcm', 'seal', s32, 32),
      /call it with new/,
    ],
    [
      () => {
        seal.seal(0, new Uint8Array(15), 0)
      },
      /record of 15 bytes has no room for 0 bytes of additional data and a 16-byte tag/,
    ],
    [
      () => {
        seal.seal(0, new Uint8Array(20), 5)
      },
      /record of 20 bytes has no room for 5 bytes/,
    ],
    [
      () => {
        seal.seal(-1, new Uint8Array(20), 0)
      },
      /seq must be an integer from 0 to 9007199254740991, current value is -1/,
    ],
    [
      () => {
        seal.seal(0.5, new Uint8Array(20), 0)
      },
      /seq must be an integer/,
    ],
    [
      () => {
        seal.seal(2 ** 53, new Uint8Array(20), 0)
      },
      /seq must be an integer/,
    ],
    [
      () => {
        seal.seal(Number.NaN, new Uint8Array(20), 0)
      },
      /seq must be an integer/,
    ],
    [
      () => {
        seal.seal('1' as never, new Uint8Array(20), 0)
      },
      /seq must be a number/,
    ],
    [
      () => {
        seal.seal(0, new Uint8Array(20), -1)
      },
      /aadLength must be an integer/,
    ],
    [
      () => {
        seal.seal(0, new DataView(new ArrayBuffer(20)) as never, 0)
      },
      /record must be a Uint8Array/,
    ],
    [
      () => {
        open.seal(0, new Uint8Array(20), 0)
      },
      /created for 'open'/,
    ],
    [
      () => seal.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(4), 0),
      /created for 'seal'/,
    ],
    [
      () => open.open(0, new Uint8Array(5), new Uint8Array(15), new Uint8Array(10), 0),
      /input of 15 bytes is shorter than the 16-byte tag/,
    ],
    [
      () => open.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(3), 0),
      /output of 3 bytes has no room for 4 bytes at offset 0/,
    ],
    [
      () => open.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(10), 7),
      /output of 10 bytes has no room for 4 bytes at offset 7/,
    ],
    [() => open.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(10), 11), /no room/],
    [
      () => open.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(10), -1),
      /outputOffset must be an integer/,
    ],
    [
      () => open.open(0, new Uint8Array(5), new Uint8Array(20), new Uint8Array(10), 1e300),
      /outputOffset must be an integer/,
    ],
    [
      () => (open.open as (...a: unknown[]) => number)(0, new Uint8Array(5), new Uint8Array(20)),
      /expected \(seq, aad, input, output, outputOffset\)/,
    ],
  ]
  const overlap = new Uint8Array(64)
  cases.push([
    () => open.open(0, overlap.subarray(0, 5), overlap.subarray(5, 30), overlap.subarray(6, 30), 0),
    /output overlaps the input/,
  ])
  cases.push([
    () =>
      open.open(0, overlap.subarray(0, 5), overlap.subarray(10, 30), overlap.subarray(2, 30), 0),
    /output overlaps the input or additional data/,
  ])
  for (const [f, message] of cases) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof TypeError || e instanceof RangeError || e instanceof Error)
      assert.match(e.message, message)
      return true
    })
  }
  seal.free()
  assert.throws(() => {
    seal.seal(0, new Uint8Array(20), 0)
  }, /the Aead is freed/)
  seal.free() // twice is harmless
})

test('Aead.open never crashes on random input (fuzz)', { skip }, () => {
  const a = new (n().Aead)('aes-128-gcm', 'open', new Uint8Array(32).fill(3), 32)
  const c = new (n().Aead)('chacha20-poly1305', 'open', new Uint8Array(32).fill(3), 32)
  const arb = fc.record({
    chacha: fc.boolean(),
    seq: fc.oneof(fc.nat(), fc.double(), fc.integer({ min: -5, max: 5 })),
    aad: fc.uint8Array({ maxLength: 40 }),
    input: fc.uint8Array({ maxLength: 200 }),
    outLen: fc.nat(220),
    offset: fc.oneof(fc.nat(230), fc.integer({ min: -3, max: 3 }), fc.double()),
  })
  fc.assert(
    fc.property(arb, (x) => {
      const out = new Uint8Array(x.outLen)
      try {
        const r = (x.chacha ? c : a).open(x.seq, x.aad, x.input, out, x.offset)
        // Random bytes never carry a valid tag (2^-128).
        assert.equal(r, -1)
        assert.ok(out.every((b) => b === 0))
      } catch (e) {
        assert.ok(e instanceof RangeError || e instanceof TypeError, String(e))
      }
    }),
    { interruptAfterTimeLimit: BUDGET_MS, numRuns: 1_000_000 },
  )
})

test('Aead contexts left to the garbage collector are freed without harm', { skip }, () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  for (let i = 0; i < 5000; i++) {
    const a = new (n().Aead)('aes-256-gcm', 'seal', new Uint8Array(48), 48)
    a.seal(i, new Uint8Array(40), 5)
  }
  gc()
  gc()
})

test(
  'x25519 agrees with node:crypto, refuses small-order points and checks its outputs',
  { skip },
  () => {
    const peer = generateKeyPairSync('x25519')
    const peerRaw = new Uint8Array(
      peer.publicKey.export({ format: 'raw-public' } as never) as Uint8Array,
    )
    const out = new Uint8Array(80).fill(0xee)
    assert.equal(n().x25519(peerRaw, out, 3, out, 40), true)
    const ours = createPublicKey({
      key: out.slice(3, 35),
      format: 'raw-public',
      asymmetricKeyType: 'x25519',
    } as never)
    const expected = new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: ours }))
    assert.equal(toHex(out.subarray(40, 72)), toHex(expected))
    assert.ok(
      out.subarray(0, 3).every((b) => b === 0xee) && out.subarray(72).every((b) => b === 0xee),
    )
    // All-zero shared secret (RFC 8446 §7.4.2): false, the secret output zeroed.
    const sec = new Uint8Array(32).fill(1)
    assert.equal(n().x25519(new Uint8Array(32), new Uint8Array(32), 0, sec, 0), false)
    assert.ok(sec.every((b) => b === 0))
    assert.throws(
      () => n().x25519(new Uint8Array(31), new Uint8Array(32), 0, new Uint8Array(32), 0),
      /peerPublic must be 32 bytes/,
    )
    assert.throws(
      () => n().x25519(peerRaw, new Uint8Array(32), 1, new Uint8Array(32), 0),
      /publicOut of 32 bytes has no room for 32 bytes at offset 1/,
    )
    assert.throws(
      () => n().x25519(peerRaw, new Uint8Array(32), 0, new Uint8Array(16), 0),
      /secretOut of 16 bytes has no room/,
    )
    assert.throws(() => n().x25519(peerRaw, out, 0, out, 16), /publicOut and secretOut overlap/)
  },
)

test('mlkem768Encapsulate agrees with node:crypto and refuses invalid keys', { skip }, () => {
  const kp = generateKeyPairSync('ml-kem-768')
  const ek = new Uint8Array(kp.publicKey.export({ format: 'raw-public' } as never) as Uint8Array)
  const ct = new Uint8Array(1088)
  const ss = new Uint8Array(32)
  assert.equal(n().mlkem768Encapsulate(ek, ct, 0, ss, 0), true)
  assert.equal(toHex(ss), toHex(new Uint8Array(decapsulate(kp.privateKey, ct))))
  // FIPS 203 §7.2: a coefficient >= q fails the modulus check.
  assert.equal(n().mlkem768Encapsulate(new Uint8Array(1184).fill(0xff), ct, 0, ss, 0), false)
  assert.throws(
    () => n().mlkem768Encapsulate(ek.subarray(1), ct, 0, ss, 0),
    /ek must be 1184 bytes/,
  )
  assert.throws(
    () => n().mlkem768Encapsulate(ek, new Uint8Array(1087), 0, ss, 0),
    /ciphertextOut of 1087 bytes has no room/,
  )
  assert.throws(() => n().mlkem768Encapsulate(ek, ct, 0, ct, 10), /outputs overlap/)
})

test('aeadSealOnce and aeadOpenOnce equal node:crypto and refuse a flipped bit', { skip }, () => {
  fc.assert(
    fc.property(input, fc.nat(), ({ suite, seed, aad, plain }, bit) => {
      const k = seed.subarray(0, suite.keyLen)
      const iv = seed.subarray(36, 48)
      const out = new Uint8Array(plain.length + 16 + 3)
      assert.equal(n().aeadSealOnce(suite.aead, k, iv, aad, plain, out, 3), plain.length + 16)
      const sealed = out.subarray(3)
      assert.equal(toHex(sealed), toHex(nodeSeal(suite.aead, k, iv, aad, plain)))
      const back = new Uint8Array(plain.length)
      assert.equal(n().aeadOpenOnce(suite.aead, k, iv, aad, sealed, back, 0), plain.length)
      assert.equal(toHex(back), toHex(plain))
      const flipped = new Uint8Array(sealed)
      const at = bit % (flipped.length * 8)
      flipped[at >>> 3] = (flipped[at >>> 3] as number) ^ (1 << (at & 7))
      back.fill(0xee)
      assert.equal(n().aeadOpenOnce(suite.aead, k, iv, aad, flipped, back, 0), -1)
      assert.ok(back.every((b) => b === 0))
    }),
    { numRuns: 200 },
  )
  const k = new Uint8Array(32)
  const iv = new Uint8Array(12)
  const buf = new Uint8Array(64)
  const cases: [() => unknown, RegExp][] = [
    [
      () => n().aeadSealOnce('aes-256-gcm', k.subarray(1), iv, buf, buf, new Uint8Array(80), 0),
      /needs a key of 32 bytes/,
    ],
    [
      () => n().aeadSealOnce('aes-256-gcm', k, iv.subarray(1), buf, buf, new Uint8Array(80), 0),
      /nonce must be 12 bytes/,
    ],
    [
      () => n().aeadSealOnce('aes-256-gcm', k, iv, buf, buf, new Uint8Array(79), 0),
      /output of 79 bytes has no room for 80 bytes/,
    ],
    [
      () =>
        n().aeadSealOnce('aes-256-gcm', k, iv, buf.subarray(0, 5), buf.subarray(5, 20), buf, 10),
      /output overlaps an input/,
    ],
    [
      () => n().aeadOpenOnce('aes-256-gcm', k, iv, buf, buf.subarray(0, 15), new Uint8Array(80), 0),
      /shorter than the 16-byte tag/,
    ],
    [
      () => n().aeadOpenOnce('des' as 'aes-256-gcm', k, iv, buf, buf, new Uint8Array(80), 0),
      /name must be/,
    ],
  ]
  for (const [f, message] of cases) assert.throws(f, message)
})

test('hmac equals node:crypto, zeroes key and message, and checks its arguments', { skip }, () => {
  const bytes = new Uint8Array(300).map((_, i) => i)
  for (const [hashLength, hash] of [
    [32, 'sha256'],
    [48, 'sha384'],
  ] as const) {
    for (const keyLen of [0, 32, 64, 65, 128, 129, 200]) {
      for (const msgLen of [0, 1, 55, 56, 100]) {
        const key = bytes.subarray(0, keyLen)
        const message = bytes.subarray(keyLen % 7, (keyLen % 7) + msgLen)
        const buf = new Uint8Array(keyLen + msgLen + hashLength + 3).fill(0xee)
        buf.set(key)
        buf.set(message, keyLen)
        n().hmac(hashLength, buf, keyLen, msgLen, hashLength - 1)
        const want = new Uint8Array(createHmac(hash, key).update(message).digest())
        const at = keyLen + msgLen
        assert.equal(toHex(buf.subarray(at, at + hashLength - 1)), toHex(want.subarray(0, -1)))
        assert.ok(
          buf.subarray(0, at).every((b) => b === 0),
          'key and message zeroed',
        )
        assert.ok(
          buf.subarray(at + hashLength - 1).every((b) => b === 0xee),
          'nothing after',
        )
      }
    }
  }
  const buf = new Uint8Array(64)
  const cases: [() => unknown, RegExp][] = [
    [
      () => {
        n().hmac(20 as 32, buf, 0, 0, 20)
      },
      /hashLength must be 32 \(SHA-256\) or 48/,
    ],
    [
      () => {
        n().hmac(32, buf, 0, 0, 0)
      },
      /length must be at least 1/,
    ],
    [
      () => {
        n().hmac(32, buf, 0, 0, 33)
      },
      /length must be an integer from 0 to 32/,
    ],
    [
      () => {
        n().hmac(32, buf, 32, 1, 32)
      },
      /buffer of 64 bytes has no room for a 32-byte key, a 1-byte message and 32 bytes/,
    ],
    [
      () => {
        n().hmac(32, buf, 70, 0, 1)
      },
      /no room/,
    ],
    [
      () => {
        n().hmac(32, buf, -1, 0, 1)
      },
      /keyLength must be an integer/,
    ],
    [
      () => {
        n().hmac(32, 'a' as never, 0, 0, 1)
      },
      /buffer must be a Uint8Array/,
    ],
  ]
  for (const [f, message] of cases) assert.throws(f, message)
})

test(
  'hashInit/hashUpdate/hashDigest equal node:crypto over random splits; a digest leaves the state',
  { skip: skip || (native?.hashDigest === undefined ? 'FIPS mode: no hash functions' : false) },
  () => {
    const b = n() as Required<NativeBinding>
    fc.assert(
      fc.property(
        fc.constantFrom(['sha256', 32] as const, ['sha384', 48] as const),
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        ([hash, len], pieces) => {
          const state = new Uint8Array(b.hashStateBytes + 10).subarray(5, 5 + b.hashStateBytes)
          b.hashInit(len, state)
          const h = createHash(hash)
          const out = new Uint8Array(len + 6).fill(0xee)
          for (const p of pieces) {
            b.hashUpdate(len, state, p)
            h.update(p)
            b.hashDigest(len, state, out, 3)
            assert.equal(toHex(out.subarray(3, 3 + len)), toHex(h.copy().digest()))
          }
          b.hashDigest(len, state, out, 3)
          assert.equal(toHex(out.subarray(3, 3 + len)), toHex(h.digest()))
          assert.ok(
            out.subarray(0, 3).every((x) => x === 0xee),
            'nothing before the offset',
          )
          assert.ok(
            out.subarray(3 + len).every((x) => x === 0xee),
            'nor after the digest',
          )
        },
      ),
      { numRuns: 300 },
    )
    // Lengths around the block sizes (64 and 128), in one piece.
    for (const [hash, len] of [
      ['sha256', 32],
      ['sha384', 48],
    ] as const) {
      for (const size of [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000, 20000]) {
        const data = new Uint8Array(size).map((_, i) => i * 7)
        const state = new Uint8Array(b.hashStateBytes)
        b.hashInit(len, state)
        b.hashUpdate(len, state, data)
        const out = new Uint8Array(len)
        b.hashDigest(len, state, out, 0)
        assert.equal(toHex(out), toHex(createHash(hash).update(data).digest()), `${hash} ${size}`)
      }
    }
  },
)

test(
  'hash functions refuse bad arguments and corrupted states without writing out of bounds',
  { skip: skip || (native?.hashDigest === undefined ? 'FIPS mode: no hash functions' : false) },
  () => {
    const b = n() as Required<NativeBinding>
    const state = new Uint8Array(b.hashStateBytes)
    b.hashInit(32, state)
    const cases: [() => unknown, RegExp][] = [
      [
        () => {
          b.hashInit(20 as 32, state)
        },
        /hashLength must be 32 \(SHA-256\) or 48/,
      ],
      [
        () => {
          b.hashInit(32, new Uint8Array(8))
        },
        /state must be \d+ bytes, current length is 8/,
      ],
      [
        () => {
          b.hashUpdate(32, state, 'x' as never)
        },
        /data must be a Uint8Array/,
      ],
      [
        () => {
          b.hashDigest(32, state, new Uint8Array(40), 9)
        },
        /has no room for 32 bytes at offset 9/,
      ],
      // A SHA-256 state is not a SHA-384 one.
      [
        () => {
          b.hashUpdate(48, state, new Uint8Array(1))
        },
        /not a SHA-384 state/,
      ],
      [
        () => {
          b.hashDigest(48, state, new Uint8Array(48), 0)
        },
        /not a SHA-384 state/,
      ],
    ]
    for (const [f, message] of cases) assert.throws(f, message)
    // Any byte of the state overwritten: either refused or a digest, never a crash.
    for (let i = 0; i < b.hashStateBytes; i++) {
      for (const v of [0xff, 0x80, 0x41]) {
        for (const len of [32, 48] as const) {
          const s = new Uint8Array(b.hashStateBytes)
          b.hashInit(len, s)
          s[i] = v
          try {
            b.hashUpdate(len, s, new Uint8Array(300))
            b.hashDigest(len, s, new Uint8Array(len), 0)
          } catch (e) {
            assert.match((e as Error).message, /not a SHA-(256|384) state/)
          }
        }
      }
    }
  },
)

test('Aead.rekey gives the same records as a new Aead for the next secret', { skip }, () => {
  for (const suite of SUITES) {
    const first = new Uint8Array(suite.hashLen).fill(3)
    const next = new Uint8Array(suite.hashLen).fill(4)
    const sealer = new (n().Aead)(suite.aead, 'seal', first, suite.hashLen)
    const opener = new (n().Aead)(suite.aead, 'open', first, suite.hashLen)
    sealer.rekey(next)
    opener.rekey(next)
    const aad = new Uint8Array([23, 3, 3, 0, 20])
    const plain = new Uint8Array([1, 2, 3, 4])
    const rec = new Uint8Array(aad.length + plain.length + 16)
    rec.set(aad)
    rec.set(plain, aad.length)
    sealer.seal(5, rec, aad.length)
    assert.equal(toHex(rec), toHex(nativeSeal(suite, next, 5, aad, plain)), suite.aead)
    const out = new Uint8Array(plain.length)
    assert.equal(opener.open(5, aad, rec.subarray(aad.length), out, 0), plain.length)
    assert.equal(toHex(out), toHex(plain))
    assert.throws(() => {
      sealer.rekey(new Uint8Array(suite.hashLen === 32 ? 48 : 32))
    }, /trafficSecret must be (32|48) bytes/)
    sealer.free()
    opener.free()
    assert.throws(() => {
      sealer.rekey(next)
    }, /the Aead is freed/)
  }
})

test('a build of the addon from other sources is not used (interface version)', () => {
  assert.equal(staleAddonReason({ interfaceVersion: ADDON_INTERFACE }), undefined)
  for (const v of [undefined, ADDON_INTERFACE - 1, ADDON_INTERFACE + 1, String(ADDON_INTERFACE)]) {
    const reason = staleAddonReason({ interfaceVersion: v })
    assert.ok(reason?.includes('node scripts/build-native.ts'), String(v))
  }
  // The addon built from this checkout (when it is) is the one these sources expect.
  if (native !== undefined) assert.equal(native.interfaceVersion, ADDON_INTERFACE)
})
