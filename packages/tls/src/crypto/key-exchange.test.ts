import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createECDH,
  createPublicKey,
  decapsulate,
  diffieHellman,
  generateKeyPairSync,
} from 'node:crypto'
import { keyExchange } from './key-exchange.ts'
import { availableBackends } from './native.ts'
import { PeerMisbehavedError } from '../errors.ts'
import { AlertDescription, NamedGroup } from '../constants.ts'

const raw = (k: { export(o: never): unknown }): Uint8Array =>
  new Uint8Array(k.export({ format: 'raw-public' } as never) as Uint8Array)
const isIllegal = (e: unknown): boolean =>
  e instanceof PeerMisbehavedError && e.alert === AlertDescription.IllegalParameter

function compressedPoint(): Uint8Array {
  const e = createECDH('prime256v1')
  e.generateKeys()
  return e.getPublicKey(null, 'compressed')
}

function validEk(): Uint8Array {
  return raw(generateKeyPairSync('ml-kem-768').publicKey)
}

function withX25519(ek: Uint8Array, x: Uint8Array): Uint8Array {
  const share = new Uint8Array(ek.length + x.length)
  share.set(ek)
  share.set(x, ek.length)
  return share
}

for (const backend of availableBackends) {
  test(`keyExchange() agrees with the client for x25519, secp256r1 and secp384r1 (${backend})`, () => {
    const x = generateKeyPairSync('x25519')
    const r = keyExchange(NamedGroup.x25519, raw(x.publicKey), backend)
    const peer = createPublicKey({
      key: r.serverShare,
      format: 'raw-public',
      asymmetricKeyType: 'x25519',
    } as never)
    assert.deepEqual(
      new Uint8Array(diffieHellman({ privateKey: x.privateKey, publicKey: peer })),
      new Uint8Array(r.sharedSecret),
    )
    for (const [group, curve] of [
      [NamedGroup.secp256r1, 'prime256v1'],
      [NamedGroup.secp384r1, 'secp384r1'],
    ] as const) {
      const c = createECDH(curve)
      const res = keyExchange(group, c.generateKeys(), backend)
      assert.deepEqual(
        new Uint8Array(c.computeSecret(res.serverShare)),
        new Uint8Array(res.sharedSecret),
      )
    }
  })

  test(`keyExchange() runs X25519MLKEM768 as draft-ietf-tls-ecdhe-mlkem lays it out (${backend})`, () => {
    const kem = generateKeyPairSync('ml-kem-768')
    const x = generateKeyPairSync('x25519')
    const share = new Uint8Array([...raw(kem.publicKey), ...raw(x.publicKey)])
    assert.equal(share.length, 1216)
    const r = keyExchange(NamedGroup.X25519MLKEM768, share, backend)
    assert.equal(r.serverShare.length, 1088 + 32)
    const ss1 = new Uint8Array(decapsulate(kem.privateKey, r.serverShare.subarray(0, 1088)))
    const peer = createPublicKey({
      key: r.serverShare.subarray(1088),
      format: 'raw-public',
      asymmetricKeyType: 'x25519',
    } as never)
    const ss2 = new Uint8Array(diffieHellman({ privateKey: x.privateKey, publicKey: peer }))
    assert.deepEqual(new Uint8Array(r.sharedSecret), new Uint8Array([...ss1, ...ss2]))
  })

  test(`keyExchange() rejects malformed and invalid shares with illegal_parameter (${backend})`, () => {
    const bad: [number, Uint8Array][] = [
      [NamedGroup.x25519, new Uint8Array(0)],
      [NamedGroup.x25519, new Uint8Array(31)],
      [NamedGroup.x25519, new Uint8Array(32)], // small order: all-zero output
      [NamedGroup.secp256r1, new Uint8Array(65)], // not 0x04-prefixed
      [NamedGroup.secp256r1, new Uint8Array([4, ...new Uint8Array(64).fill(1)])], // not on the curve
      [NamedGroup.secp256r1, compressedPoint()],
      [NamedGroup.secp384r1, createECDH('prime256v1').generateKeys()],
      [NamedGroup.X25519MLKEM768, new Uint8Array(1215)],
      [NamedGroup.X25519MLKEM768, new Uint8Array(1216).fill(0xff)], // coefficients >= q
      [NamedGroup.X25519MLKEM768, withX25519(validEk(), new Uint8Array(32))], // small-order X25519 half
      [0x001e, new Uint8Array(56)],
    ]
    for (const [group, share] of bad) {
      assert.throws(
        () => keyExchange(group as NamedGroup, share, backend),
        isIllegal,
        `group 0x${group.toString(16)}, ${share.length} bytes`,
      )
    }
  })
}
