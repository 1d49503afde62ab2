import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import fc from 'fast-check'
import { concat, fromHex, toHex } from '@outpost/wire'
import { KeylessEncodeError, KeylessFormatError } from '../errors.ts'
import { Op, Tag } from './constants.ts'
import {
  decodeFrame,
  decodeFrameChecked,
  decodeHeader,
  decodeOperationAt,
  encodeFrame,
  encodeFrameInto,
  type Operation,
  type Padding,
} from './frame.ts'
import { arbOperation, parseVector } from '../../test/vectors.ts'

// keyless-wire-format.md §1.10: H = SHA-256("keyless test vector")
const H = fromHex('1d5f1eaab9a04bd4387dd38be06e9595d24347de971ac457f412e33dc4b27713')
const SKI_D9 = fromHex('d9c69b8e23abba7c26fd5d0e282f3dd679741036')
const hi = new TextEncoder().encode('hi')

interface Vector {
  name: string
  hex: string
  id: number
  op: Operation
  padding: Padding
}

const vectors: Vector[] = [
  {
    name: 'V1 ping, ID 1, no payload',
    hex: `01 00 03 f8 00 00 00 01          # header: v1.0, Length 1016, ID 1
          11 00 01 f1                      # opcode = ping
          20 03 f1 <1009 x 00>             # padding`,
    id: 1,
    op: { opcode: Op.Ping },
    padding: 'gokeyless',
  },
  {
    name: 'V2 ping, ID 2, payload "hi"',
    hex: `01 00 03 f8 00 00 00 02
          11 00 01 f1
          12 00 02 68 69
          20 03 ec <1004 x 00>`,
    id: 2,
    op: { opcode: Op.Ping, payload: hi },
    padding: 'gokeyless',
  },
  {
    name: 'V3 ECDSA-SHA256 sign request, ID 7',
    hex: `01 00 03 f8 00 00 00 07
          11 00 01 15
          12 00 20 1d 5f 1e aa b9 a0 4b d4 38 7d d3 8b e0 6e 95 95 d2 43 47 de 97 1a c4 57 f4 12 e3 3d c4 b2 77 13
          04 00 14 d9 c6 9b 8e 23 ab ba 7c 26 fd 5d 0e 28 2f 3d d6 79 74 10 36
          05 00 04 c0 00 02 01
          02 00 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d
          20 03 a2 <930 x 00>`,
    id: 7,
    op: {
      opcode: Op.EcdsaSignSha256,
      payload: H,
      ski: SKI_D9,
      serverIp: fromHex('c0000201'),
      serverName: 'example.com',
    },
    padding: 'gokeyless',
  },
  {
    name: 'V4 error "key not found", ID 7, gokeyless style',
    hex: `01 00 03 f8 00 00 00 07
          11 00 01 ff
          12 00 01 02
          20 03 ed <1005 x 00>`,
    id: 7,
    op: { opcode: Op.Error, payload: Uint8Array.of(0x02) },
    padding: 'gokeyless',
  },
  {
    name: 'V5 pong for V2',
    hex: '01 00 03 f8 00 00 00 02 | 11 00 01 f2 | 12 00 02 68 69 | 20 03 ec <1004 x 00>',
    id: 2,
    op: { opcode: Op.Pong, payload: hi },
    padding: 'gokeyless',
  },
  {
    name: 'C2 ping as V2, C-padded',
    hex: '01 00 03 fb 00 00 00 02 | 11 00 01 f1 | 12 00 02 68 69 | 20 03 ef <1007 x 00>',
    id: 2,
    op: { opcode: Op.Ping, payload: hi },
    padding: 'c',
  },
  {
    name: 'C4 "key not found", ID 7, C style',
    hex: '01 00 03 fb 00 00 00 07 | 11 00 01 ff | 12 00 01 02 | 20 03 f0 <1008 x 00>',
    id: 7,
    op: { opcode: Op.Error, payload: Uint8Array.of(0x02) },
    padding: 'c',
  },
  {
    // docs/protocol/keyless.md §8.3: the SignTls13 example frame.
    name: 'SignTls13 request, ID 42 (docs/protocol/keyless.md §8.3)',
    hex: `01 00 03 f8 00 00 00 2a
          11 00 01 40
          12 00 82 <64 x 20>
                   54 4c 53 20 31 2e 33 2c 20 73 65 72 76 65 72 20
                   43 65 72 74 69 66 69 63 61 74 65 56 65 72 69 66 79
                   00
                   1d 5f 1e aa b9 a0 4b d4 38 7d d3 8b e0 6e 95 95
                   d2 43 47 de 97 1a c4 57 f4 12 e3 3d c4 b2 77 13
          04 00 14 b4 67 a3 99 9e b5 ef a6 71 de 00 32 f0 8a 9c 9e 5e fd a0 e1
          03 00 04 c6 33 64 07
          02 00 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d
          40 00 02 04 03
          20 03 3b <827 x 00>`,
    id: 42,
    op: {
      opcode: Op.SignTls13,
      payload: concat(
        new Uint8Array(64).fill(0x20),
        new TextEncoder().encode('TLS 1.3, server CertificateVerify'),
        Uint8Array.of(0),
        H,
      ),
      ski: fromHex('b467a3999eb5efa671de0032f08a9c9e5efda0e1'),
      clientIp: fromHex('c6336407'),
      serverName: 'example.com',
      signatureScheme: 0x0403,
    },
    padding: 'gokeyless',
  },
]

for (const v of vectors) {
  test(`encodeFrame() produces vector ${v.name} byte for byte`, () => {
    assert.equal(toHex(encodeFrame(v.id, v.op, v.padding)), toHex(parseVector(v.hex)))
  })
  test(`decodeFrame() reads vector ${v.name}`, () => {
    assert.deepEqual(decodeFrame(parseVector(v.hex)), { major: 1, minor: 0, id: v.id, op: v.op })
  })
}

// §1.6/§1.10 padding boundary: a gokeyless ping with an N-byte payload.
const boundaries = [
  { n: 1005, size: 1024, pad: 1 },
  { n: 1006, size: 1024, pad: 0 },
  { n: 1007, size: 1025, pad: 0 },
  { n: 1008, size: 1026, pad: 0 },
  { n: 1009, size: 1024, pad: undefined },
  { n: 1010, size: 1025, pad: undefined },
]
for (const { n, size, pad } of boundaries) {
  test(`encodeFrame() pads a ping with a ${n}-byte payload to ${size} bytes`, () => {
    const payload = new Uint8Array(n).fill(0xab)
    const expected = concat(
      fromHex('0100'),
      Uint8Array.of((size - 8) >> 8, (size - 8) & 0xff),
      fromHex('00000009 110001f1 12'),
      Uint8Array.of(n >> 8, n & 0xff),
      payload,
      pad === undefined
        ? new Uint8Array(0)
        : concat(Uint8Array.of(0x20, 0, pad), new Uint8Array(pad)),
    )
    const got = encodeFrame(9, { opcode: Op.Ping, payload })
    assert.equal(got.length, size)
    assert.equal(toHex(got), toHex(expected))
    assert.deepEqual(decodeFrame(got).op, { opcode: Op.Ping, payload })
  })
}

test('encodeFrame() C style adds a zero-length padding item to long frames', () => {
  const payload = new Uint8Array(1100)
  const got = encodeFrame(1, { opcode: Op.Ping, payload }, 'c')
  assert.equal(got.length, 8 + 4 + 3 + 1100 + 3)
  assert.equal(toHex(got.subarray(-3)), '200000')
})

test("encodeFrame() 'none' sends no padding item", () => {
  assert.equal(toHex(encodeFrame(3, { opcode: Op.Ping }, 'none')), '010000040000000311' + '0001f1')
})

// Builds a raw frame around the given body hex, with a correct Length.
function raw(bodyHex: string, id = 5, major = 1): Uint8Array {
  const body = parseVector(bodyHex)
  return concat(Uint8Array.of(major, 0, body.length >> 8, body.length & 0xff, 0, 0, 0, id), body)
}

function assertFormatError(bytes: Uint8Array, re: RegExp): void {
  assert.throws(
    () => decodeFrame(bytes),
    (e: unknown) => {
      assert.ok(e instanceof KeylessFormatError)
      assert.equal((e as Error & { code: string }).code, 'ERR_KEYLESS_FORMAT')
      return re.test(e.message)
    },
  )
}

test('decodeFrame() skips unknown tags', () => {
  const f = raw('30 00 03 aa bb cc | 11 00 01 15 | 7f 00 00')
  assert.deepEqual(decodeFrame(f).op, { opcode: Op.EcdsaSignSha256 })
})

test('decodeFrame() accepts a repeated unknown tag', () => {
  assert.deepEqual(decodeFrame(raw('30 00 01 aa | 30 00 01 bb | 11 00 01 f1')).op, {
    opcode: Op.Ping,
  })
})

test('decodeFrame() rejects a duplicate known tag', () => {
  assertFormatError(raw('11 00 01 f1 | 11 00 01 f1'), /Opcode .*appears twice/)
  assertFormatError(raw('11 00 01 f1 | 02 00 01 61 | 02 00 01 62'), /ServerName .*appears twice/)
  // An ignored (wrong-size) SKI still counts as seen.
  assertFormatError(raw('11 00 01 f1 | 04 00 01 00 | 04 00 01 00'), /Ski .*appears twice/)
})

test('decodeFrame() rejects an opcode item whose length is not 1', () => {
  assertFormatError(raw('11 00 02 f1 00'), /Opcode item must be 1 byte/)
  assertFormatError(raw('11 00 00'), /Opcode item must be 1 byte/)
})

test('decodeFrame() rejects IP items that are not 4 or 16 bytes', () => {
  assertFormatError(raw('11 00 01 15 | 03 00 05 01 02 03 04 05'), /ClientIp item must be 4 or 16/)
  assertFormatError(raw('11 00 01 15 | 05 00 00'), /ServerIp item must be 4 or 16/)
  const v6 = decodeFrame(raw(`11 00 01 15 | 03 00 10 ${'20 01 0d b8 '.repeat(4)}`)).op
  assert.equal(v6.clientIp?.length, 16)
})

test('decodeFrame() ignores an SKI that is not 20 bytes and a digest that is not 32', () => {
  const op = decodeFrame(raw(`11 00 01 15 | 04 00 13 <19 x aa> | 01 00 21 <33 x bb>`)).op
  assert.deepEqual(op, { opcode: Op.EcdsaSignSha256 })
  const ok = decodeFrame(raw(`11 00 01 15 | 04 00 14 <20 x aa> | 01 00 20 <32 x bb>`)).op
  assert.deepEqual(ok.ski, new Uint8Array(20).fill(0xaa))
  assert.deepEqual(ok.digest, new Uint8Array(32).fill(0xbb))
})

test('decodeFrame() ignores 1 or 2 stray trailing bytes', () => {
  assert.deepEqual(decodeFrame(raw('11 00 01 f1 | 00')).op, { opcode: Op.Ping })
  assert.deepEqual(decodeFrame(raw('11 00 01 f1 | 12 34')).op, { opcode: Op.Ping })
  // Three bytes are an item header, whose data then runs past the end.
  assertFormatError(raw('11 00 01 f1 | 12 00 01'), /Payload item needs 1 bytes, 0 left/)
})

test('decodeFrame() rejects an item running past the body end', () => {
  assertFormatError(raw('11 00 01 f1 | 12 00 05 01 02'), /Payload item needs 5 bytes, 2 left/)
})

test('decodeFrame() rejects a Length that does not match the body', () => {
  const f = encodeFrame(1, { opcode: Op.Ping }, 'none')
  assertFormatError(concat(f, Uint8Array.of(0)), /Length is 4 but 5 body bytes follow/)
  assertFormatError(f.subarray(0, f.length - 1), /Length is 4 but 3 body bytes follow/)
})

test('decodeFrame() rejects a frame with no opcode item', () => {
  assertFormatError(raw('12 00 01 00 | 20 00 00'), /no opcode item/)
})

test('decodeFrame() rejects invalid UTF-8 in string items and wrong-size fixed items', () => {
  assertFormatError(raw('11 00 01 15 | 02 00 02 c3 28'), /ServerName item is not valid UTF-8/)
  assertFormatError(raw('11 00 01 40 | 40 00 01 04'), /SignatureScheme item must be 2 byte/)
  assertFormatError(raw('11 00 01 15 | 17 00 02 01 01'), /ComplianceRegion item must be 1 byte/)
})

test('decodeFrame() keeps the header fields of any major version', () => {
  const f = decodeFrame(raw('11 00 01 f1', 5, 2))
  assert.equal(f.major, 2)
  assert.deepEqual(decodeHeader(raw('11 00 01 f1', 9, 3)), { major: 3, minor: 0, length: 4, id: 9 })
})

test('encodeFrame() rejects values that do not fit their items', () => {
  const bad: [number, Operation][] = [
    [0, { opcode: 256 }],
    [0, { opcode: 1, ski: new Uint8Array(19) }],
    [0, { opcode: 1, digest: new Uint8Array(31) }],
    [0, { opcode: 1, clientIp: new Uint8Array(5) }],
    [0, { opcode: 1, serverIp: new Uint8Array(0) }],
    [0, { opcode: 1, complianceRegion: 300 }],
    [0, { opcode: 1, signatureScheme: 0x10000 }],
    [0, { opcode: 1, payload: new Uint8Array(65536) }],
    [0, { opcode: 1, payload: new Uint8Array(65530) }],
    [2 ** 32, { opcode: 1 }],
    [-1, { opcode: 1 }],
  ]
  for (const [id, op] of bad) {
    assert.throws(() => encodeFrame(id, op, 'none'), KeylessEncodeError, JSON.stringify({ id }))
  }
  // 65535 - 4 (opcode) - 3 (payload header) fits exactly, unpadded.
  assert.equal(encodeFrame(0, { opcode: 1, payload: new Uint8Array(65528) }).length, 8 + 65535)
  assert.throws(
    () => encodeFrame(0, { opcode: 1, payload: new Uint8Array(65526) }, 'c'),
    KeylessEncodeError,
  )
})

// ---- properties (Go TestMarshalUnmarshal / TestFuzz as fast-check properties) ----

const arbPadding = fc.constantFrom<Padding>('gokeyless', 'c', 'none')
const arbId = fc.integer({ min: 0, max: 0xffffffff })

test('decodeFrame(encodeFrame(op)) round-trips random operations in every padding style', () => {
  fc.assert(
    fc.property(arbId, arbOperation, arbPadding, (id, op, padding) => {
      assert.deepEqual(decodeFrame(encodeFrame(id, op, padding)), { major: 1, minor: 0, id, op })
    }),
    { numRuns: 500 },
  )
})

test('decodeFrame() rejects every proper prefix of a frame', () => {
  fc.assert(
    fc.property(arbOperation, arbPadding, (op, padding) => {
      const f = encodeFrame(1, op, padding)
      for (let n = 0; n < f.length; n++) {
        assert.throws(() => decodeFrame(f.subarray(0, n)), KeylessFormatError)
      }
    }),
    { numRuns: 30 },
  )
})

function decodesOrFormatError(b: Uint8Array): void {
  try {
    decodeFrame(b)
  } catch (e) {
    if (!(e instanceof KeylessFormatError)) throw e
  }
}

test('decodeFrame() on random bytes only ever throws KeylessFormatError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodesOrFormatError), { numRuns: 2000 })
})

test('decodeFrame() on random bodies with a valid header only ever throws KeylessFormatError', () => {
  const item = fc.tuple(
    fc.constantFrom(...Object.values(Tag), 0x30, 0x00),
    fc.uint8Array({ maxLength: 20 }),
    fc.integer({ min: -2, max: 2 }),
  )
  fc.assert(
    fc.property(
      fc.array(item, { maxLength: 8 }),
      fc.uint8Array({ maxLength: 3 }),
      (items, tail) => {
        // Items whose declared length is off by -2..2 from their data, then 0-3 stray bytes.
        const parts = items.map(([tag, data, skew]) => {
          const len = Math.max(0, data.length + skew)
          return concat(Uint8Array.of(tag, len >> 8, len & 0xff), data)
        })
        const body = concat(...parts, tail)
        decodesOrFormatError(
          concat(Uint8Array.of(1, 0, body.length >> 8, body.length & 0xff, 0, 0, 0, 1), body),
        )
      },
    ),
    { numRuns: 3000 },
  )
})

function outcome(decode: (b: Uint8Array) => unknown, b: Uint8Array): unknown {
  try {
    return decode(b)
  } catch (e) {
    return { error: (e as Error).constructor.name, message: (e as Error).message }
  }
}

test('decodeFrame() (fast path) and decodeFrameChecked() agree on random and mutated frames', () => {
  const item = fc.tuple(
    fc.constantFrom(...Object.values(Tag), 0x30, 0x00),
    fc.uint8Array({ maxLength: 33 }),
    fc.integer({ min: -2, max: 2 }),
  )
  const withValidHeader = fc
    .tuple(fc.array(item, { maxLength: 8 }), fc.uint8Array({ maxLength: 3 }))
    .map(([items, tail]) => {
      const parts = items.map(([tag, data, skew]) => {
        const len = Math.max(0, data.length + skew)
        return concat(Uint8Array.of(tag, len >> 8, len & 0xff), data)
      })
      const body = concat(...parts, tail)
      return concat(Uint8Array.of(1, 0, body.length >> 8, body.length & 0xff, 0, 0, 0, 1), body)
    })
  const encoded = fc
    .tuple(arbId, arbOperation, arbPadding, fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([id, op, padding, at, v]) => {
      // A valid frame with one byte changed (a tag, a length, data or the header).
      const f = encodeFrame(id, op, padding).slice()
      if (f.length > 0) f[at % f.length] = v
      return f
    })
  fc.assert(
    fc.property(fc.oneof(withValidHeader, encoded, fc.uint8Array({ maxLength: 64 })), (b) => {
      assert.deepEqual(outcome(decodeFrame, b), outcome(decodeFrameChecked, b))
    }),
    { numRuns: 3000 },
  )
})

test('decodeOperationAt() decodes a frame inside a larger buffer as decodeFrame() decodes it alone', () => {
  const frame = fc.oneof(
    fc
      .tuple(arbId, arbOperation, arbPadding)
      .map(([id, op, padding]) => encodeFrame(id, op, padding)),
    fc
      .tuple(arbId, arbOperation, arbPadding, fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([id, op, padding, at, v]) => {
        const f = encodeFrame(id, op, padding).slice()
        f[at % f.length] = v
        return f
      }),
  )
  fc.assert(
    fc.property(
      frame,
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.boolean(),
      (f, before, after, views) => {
        const buf = concat(before, f, after)
        const got = outcome(
          (b) => decodeOperationAt(b, before.length, before.length + f.length, { views }),
          buf,
        )
        const want = outcome((b) => decodeFrame(b).op, f)
        assert.deepEqual(got, want)
      },
    ),
    { numRuns: 2000 },
  )
})

test('encodeFrameInto() writes exactly encodeFrame() bytes over old contents, or nothing when they do not fit', () => {
  fc.assert(
    fc.property(
      arbId,
      arbOperation,
      arbPadding,
      fc.nat({ max: 100 }),
      fc.integer({ min: -3, max: 3 }),
      (id, op, padding, at, slack) => {
        const want = encodeFrame(id, op, padding)
        const size = Math.max(0, at + want.length + slack)
        const buf = Buffer.alloc(size + 7, 0xaa)
        const out = buf.subarray(0, size)
        const end = encodeFrameInto(out, at, id, op, padding)
        if (at + want.length > size) {
          assert.equal(end, -want.length)
          assert.ok(
            buf.every((x) => x === 0xaa),
            'nothing written',
          )
          return
        }
        assert.equal(end, at + want.length)
        assert.equal(toHex(out.subarray(at, end)), toHex(want), 'padding zeroed, items in order')
        assert.ok(buf.subarray(0, at).every((x) => x === 0xaa))
        assert.ok(buf.subarray(end).every((x) => x === 0xaa))
      },
    ),
    { numRuns: 300 },
  )
})

test('decodeFrame() decodes each ServerName afresh when consecutive requests change it', () => {
  const sni = (name: Uint8Array): Uint8Array => {
    const n = name.length
    const body = concat(Uint8Array.of(0x11, 0, 1, Op.Ping, 0x02, n >> 8, n & 0xff), name)
    return concat(Uint8Array.of(1, 0, body.length >> 8, body.length & 0xff, 0, 0, 0, 1), body)
  }
  const enc = (t: string): Uint8Array => new TextEncoder().encode(t)
  const a = enc('a.example.com')
  const b = enc('b.example.com') // same length as a
  const bad = Uint8Array.from(a)
  bad[0] = 0xff // same length, not UTF-8
  assert.equal(decodeFrame(sni(a)).op.serverName, 'a.example.com')
  assert.equal(decodeFrame(sni(a)).op.serverName, 'a.example.com')
  assert.equal(decodeFrame(sni(b)).op.serverName, 'b.example.com')
  assert.throws(() => decodeFrame(sni(bad)), /ServerName item is not valid UTF-8/)
  assert.equal(decodeFrame(sni(a)).op.serverName, 'a.example.com')
  assert.equal(decodeFrame(sni(enc('ä.example.com'))).op.serverName, 'ä.example.com')
  const long = enc('x'.repeat(300))
  assert.equal(decodeFrame(sni(long)).op.serverName, 'x'.repeat(300))
  assert.equal(decodeFrame(sni(a)).op.serverName, 'a.example.com')
})

test('encodeFrame() unpadded: dropping one short item shrinks the frame by exactly 3+len', () => {
  const droppable = ['serverName', 'certId', 'extra', 'requestContext', 'payload'] as const
  fc.assert(
    fc.property(arbOperation, fc.constantFrom(...droppable), (op, key) => {
      if (op[key] === undefined) return
      const full = encodeFrame(0, op, 'none')
      const { [key]: dropped, ...rest } = op
      const len =
        typeof dropped === 'string'
          ? new TextEncoder().encode(dropped).length
          : (dropped?.length ?? 0)
      assert.equal(full.length - encodeFrame(0, rest, 'none').length, 3 + len)
    }),
  )
})

test('docs/protocol/keyless.md §8.3 example frame is what encodeFrame() produces', () => {
  const doc = readFileSync(new URL('../../../../docs/protocol/keyless.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('### 8.3'))
  const block = /```\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block !== undefined, 'no code block in §8.3')
  const signTls13 = vectors.find((v) => v.name.startsWith('SignTls13'))
  assert.ok(signTls13 !== undefined)
  assert.equal(toHex(parseVector(block)), toHex(encodeFrame(signTls13.id, signTls13.op)))
})
