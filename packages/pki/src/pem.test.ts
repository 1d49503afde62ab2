import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, createPrivateKey } from 'node:crypto'
import fc from 'fast-check'
import { pemEncode, pemDecode, pemDecodeAll, PemError } from './pem.ts'

test('pemEncode() matches node:crypto PEM output byte for byte', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const der = privateKey.export({ type: 'pkcs8', format: 'der' })
  const ours = pemEncode('PRIVATE KEY', der)
  const node = privateKey.export({ type: 'pkcs8', format: 'pem' })
  assert.equal(ours.toString(), node)
  assert.deepEqual(createPrivateKey(ours).export({ type: 'pkcs8', format: 'der' }), der)
})

test('pemDecode() round-trips any bytes (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (der) => {
      assert.deepEqual(new Uint8Array(pemDecode(pemEncode('X', der), 'X')), der)
    }),
  )
})

test('pemDecodeAll() finds every block of a chain and filters by label', () => {
  const chain = Buffer.concat([
    pemEncode('CERTIFICATE', new Uint8Array([1])),
    pemEncode('PRIVATE KEY', new Uint8Array([2])),
    pemEncode('CERTIFICATE', new Uint8Array([3, 4])),
  ])
  assert.deepEqual(
    pemDecodeAll(chain, 'CERTIFICATE').map((b) => [...b.der]),
    [[1], [3, 4]],
  )
  assert.equal(pemDecodeAll(chain).length, 3)
})

test('pemDecode() rejects a missing label, an unterminated block and bad base64', () => {
  assert.throws(() => pemDecode(Buffer.from('hello'), 'CERTIFICATE'), PemError)
  assert.throws(() => pemDecode(Buffer.from('-----BEGIN X-----\nAAAA\n'), 'X'), /no END line/)
  assert.throws(
    () => pemDecode(Buffer.from('-----BEGIN X-----\nA*AA\n-----END X-----\n'), 'X'),
    /invalid base64/,
  )
})
