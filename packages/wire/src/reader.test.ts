import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Reader } from './reader.ts'
import { Writer } from './writer.ts'
import { DecodeError } from './errors.ts'
import { fromHex, toHex, ctEqual, concat } from './bytes.ts'

test('Reader reads big-endian integers of every width', () => {
  const r = new Reader(fromHex('01 0203 040506 0708090a 0b0c0d0e0f101112'))
  assert.equal(r.u8(), 0x01)
  assert.equal(r.u16(), 0x0203)
  assert.equal(r.u24(), 0x040506)
  assert.equal(r.u32(), 0x0708090a)
  assert.equal(r.u64(), 0x0b0c0d0e0f101112n)
  r.end()
})

test('Reader.u32() reads values above 2^31 as unsigned', () => {
  assert.equal(new Reader(fromHex('ffffffff')).u32(), 0xffffffff)
})

test('Reader throws DecodeError naming the field on a short read', () => {
  const r = new Reader(fromHex('0005 0102'), 'Thing')
  assert.throws(
    () => r.vec16('payload'),
    (e: unknown) => {
      assert.ok(e instanceof DecodeError)
      assert.match(e.message, /Cannot decode Thing: payload needs 5 bytes, 2 left/)
      return true
    },
  )
})

test('Reader.end() rejects trailing bytes', () => {
  const r = new Reader(fromHex('0001ff'), 'X')
  r.u16()
  assert.throws(() => {
    r.end()
  }, /1 trailing bytes/)
})

test('Reader.sub16() confines reads to the block', () => {
  const r = new Reader(fromHex('0002 aabb cc'))
  const s = r.sub16()
  assert.equal(s.u16(), 0xaabb)
  assert.throws(() => s.u8(), DecodeError)
  assert.equal(r.u8(), 0xcc)
})

test('Reader respects the byteOffset of a view into a larger buffer', () => {
  const big = fromHex('ff ff 00 07 ff')
  const r = new Reader(big.subarray(2, 4))
  assert.equal(r.u16(), 7)
  r.end()
})

test('Writer back-patches nested length prefixes', () => {
  const w = new Writer(1)
  w.prefixed16((a) =>
    a
      .u8(1)
      .prefixed8((b) => b.u16(0x0203))
      .prefixed24((c) => c.bytes(new Uint8Array(300))),
  )
  const out = w.finish()
  assert.equal(toHex(out.subarray(0, 9)), '0133' + '01' + '02' + '0203' + '00012c')
  assert.equal(out.length, 2 + 1 + 1 + 2 + 3 + 300)
})

test('Writer.reset() starts over in the same writer', () => {
  const w = new Writer(4)
  w.u16(0x0102).prefixed8((x) => x.bytes(new Uint8Array([9, 9, 9])))
  const first = w.finish()
  w.reset().u8(7)
  assert.equal(w.length, 1)
  assert.deepEqual([...w.finish()], [7])
  assert.deepEqual([...first], [1, 2, 3, 9, 9, 9])
})

test('Writer rejects out-of-range values and oversized vectors', () => {
  assert.throws(() => new Writer().u8(256), /out of range/)
  assert.throws(() => new Writer().u16(-1), /out of range/)
  assert.throws(() => new Writer().vec8(new Uint8Array(256)), /exceed 255/)
  assert.throws(() => new Writer().prefixed8((w) => w.zeros(256)), /exceed 255/)
})

test('Writer and Reader round-trip arbitrary vectors (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (vecs) => {
      const w = new Writer(4)
      for (const v of vecs) w.vec16(v)
      const r = new Reader(w.finish())
      for (const v of vecs) assert.deepEqual(r.vec16(), v)
      r.end()
    }),
  )
})

test('Reader never throws anything but DecodeError on random input (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = new Reader(bytes)
      try {
        while (true) r.vec8()
      } catch (e) {
        assert.ok(e instanceof DecodeError)
      }
    }),
  )
})

test('fromHex() rejects odd-length and non-hex input', () => {
  assert.throws(() => fromHex('abc'), DecodeError)
  assert.throws(() => fromHex('zz'), DecodeError)
  assert.deepEqual(fromHex('de:ad be\nef'), new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
})

test('ctEqual() compares contents and lengths', () => {
  assert.equal(ctEqual(fromHex('0102'), fromHex('0102')), true)
  assert.equal(ctEqual(fromHex('0102'), fromHex('0103')), false)
  assert.equal(ctEqual(fromHex('0102'), fromHex('010200')), false)
  assert.deepEqual(concat(fromHex('01'), fromHex(''), fromHex('0203')), fromHex('010203'))
})
