import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  constants,
  createHash,
  generateKeyPairSync,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto'
import fc from 'fast-check'
import { SignatureScheme } from '@outpost/tls/constants'
import { ErrorCode, Op } from './_keyless.ts'
import { OperationError } from './errors.ts'
import { skiOf } from './_keyless.ts'
import { loadSoftwareKey, softwareKeyFrom, type SoftwareKey } from './keys.ts'
import {
  SERVER_CERTIFICATE_VERIFY_PREFIX,
  performOperation,
  softwareBackend,
  type KeyBackend,
} from './ops.ts'
import { emsaPssEncode } from './pss.ts'

const rsa = softwareKeyFrom(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
const p256 = softwareKeyFrom(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)
const p384 = softwareKeyFrom(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey)
const ed = softwareKeyFrom(generateKeyPairSync('ed25519').privateKey)
const be = (k: SoftwareKey): KeyBackend => softwareBackend(k)

const msg = new TextEncoder().encode('keyless test vector')
const hash = (alg: string, data: Uint8Array = msg) =>
  new Uint8Array(createHash(alg).update(data).digest())

async function rejects(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OperationError, String(e))
    assert.equal(e.errorCode, code, e.message)
    return true
  })
}

function tls13Content(hashLen: number): Uint8Array {
  const out = new Uint8Array(SERVER_CERTIFICATE_VERIFY_PREFIX.length + hashLen)
  out.set(SERVER_CERTIFICATE_VERIFY_PREFIX)
  out.set(randomBytes(hashLen), SERVER_CERTIFICATE_VERIFY_PREFIX.length)
  return out
}

test('loadSoftwareKey() finds the SKI and scalar of the P-256 generator vector of the wire-format doc', () => {
  // Private scalar 1: the public key is the generator G.
  const d = Buffer.alloc(32)
  d[31] = 1
  const der = Buffer.concat([
    Buffer.from('30310201010420', 'hex'),
    d,
    Buffer.from('a00a06082a8648ce3d030107', 'hex'),
  ])
  const key = loadSoftwareKey(
    new TextEncoder().encode(
      `-----BEGIN EC PRIVATE KEY-----\n${der.toString('base64')}\n-----END EC PRIVATE KEY-----\n`,
    ),
  )
  assert.equal(key.skiHex, 'b467a3999eb5efa671de0032f08a9c9e5efda0e1')
  assert.equal(Buffer.from(key.scalar!).toString('hex'), d.toString('hex'))
  assert.deepEqual(skiOf(key.privateKey), key.ski)
})

test('performOperation() RSA PKCS#1 v1.5 signs every hash with the right DigestInfo', async () => {
  for (const [op, alg] of [
    [Op.RsaSignSha1, 'sha1'],
    [Op.RsaSignSha224, 'sha224'],
    [Op.RsaSignSha256, 'sha256'],
    [Op.RsaSignSha384, 'sha384'],
    [Op.RsaSignSha512, 'sha512'],
  ] as const) {
    const sig = await performOperation(be(rsa), { opcode: op, payload: hash(alg) })
    assert.equal(sig.length, 256)
    assert.ok(verify(alg, msg, rsa.publicKey, sig), alg)
  }
})

test('performOperation() RSA MD5SHA1 signs the 36 bytes without DigestInfo', async () => {
  const md5sha1 = new Uint8Array([...hash('md5'), ...hash('sha1')])
  const sig = await performOperation(be(rsa), { opcode: Op.RsaSignMd5Sha1, payload: md5sha1 })
  const recovered = publicDecrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_PADDING }, sig)
  assert.deepEqual(new Uint8Array(recovered), md5sha1)
})

test('performOperation() RSA-PSS over a precomputed hash verifies with salt = hash length', async () => {
  for (const [op, alg] of [
    [Op.RsaPssSignSha256, 'sha256'],
    [Op.RsaPssSignSha384, 'sha384'],
    [Op.RsaPssSignSha512, 'sha512'],
  ] as const) {
    const sig = await performOperation(be(rsa), { opcode: op, payload: hash(alg) })
    const key = { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING }
    assert.ok(
      verify(alg, msg, { ...key, saltLength: { sha256: 32, sha384: 48, sha512: 64 }[alg] }, sig),
      alg,
    )
    assert.equal(verify(alg, msg, { ...key, saltLength: 20 }, sig), false)
  }
})

test('emsaPssEncode() works for moduli whose bit length is not a multiple of 8', () => {
  const odd = generateKeyPairSync('rsa', { modulusLength: 2047 }).privateKey
  const key = softwareKeyFrom(odd)
  assert.equal(key.modulusBits, 2047)
  const em = emsaPssEncode(hash('sha256'), 'sha256', 2047)
  assert.equal(em.length, 256)
  return performOperation(be(key), { opcode: Op.RsaPssSignSha256, payload: hash('sha256') }).then(
    (sig) => {
      assert.ok(
        verify(
          'sha256',
          msg,
          { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          sig,
        ),
      )
    },
  )
})

test('performOperation() RSA decrypt returns the raw block, padding not removed (0x01 and 0x08)', async () => {
  const secret = randomBytes(48)
  const ct = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_PADDING }, secret)
  for (const opcode of [Op.RsaDecrypt, Op.RsaDecryptRaw]) {
    const block = await performOperation(be(rsa), { opcode, payload: ct })
    assert.equal(block.length, 256)
    assert.equal(block[0], 0x00)
    assert.equal(block[1], 0x02)
    assert.deepEqual(new Uint8Array(block.subarray(256 - 48)), new Uint8Array(secret))
    assert.equal(block[256 - 49], 0x00)
  }
})

test('performOperation() ECDSA signs precomputed digests on P-256 and P-384 (DER)', async () => {
  for (const key of [p256, p384]) {
    for (const [op, alg] of [
      [Op.EcdsaSignSha1, 'sha1'],
      [Op.EcdsaSignSha224, 'sha224'],
      [Op.EcdsaSignSha256, 'sha256'],
      [Op.EcdsaSignSha384, 'sha384'],
      [Op.EcdsaSignSha512, 'sha512'],
    ] as const) {
      const sig = await performOperation(be(key), { opcode: op, payload: hash(alg) })
      assert.equal(sig[0], 0x30)
      assert.ok(
        verify(alg, msg, { key: key.publicKey, dsaEncoding: 'der' }, sig),
        `${key.type} ${alg}`,
      )
    }
  }
  const md5sha1 = new Uint8Array([...hash('md5'), ...hash('sha1')])
  const sig = await performOperation(be(p256), { opcode: Op.EcdsaSignMd5Sha1, payload: md5sha1 })
  assert.ok(verify('md5-sha1', msg, { key: p256.publicKey, dsaEncoding: 'der' }, sig))
})

test('performOperation() ECDSA signatures are randomized', async () => {
  const a = await performOperation(be(p256), {
    opcode: Op.EcdsaSignSha256,
    payload: hash('sha256'),
  })
  const b = await performOperation(be(p256), {
    opcode: Op.EcdsaSignSha256,
    payload: hash('sha256'),
  })
  assert.notDeepEqual(a, b)
})

test('performOperation() Ed25519 signs the whole message', async () => {
  const sig = await performOperation(be(ed), { opcode: Op.Ed25519Sign, payload: msg })
  assert.equal(sig.length, 64)
  assert.ok(verify(null, msg, ed.publicKey, sig))
})

test('performOperation() SignTls13 signs CertificateVerify content for every scheme and key', async () => {
  const cases = [
    [p256, SignatureScheme.ecdsa_secp256r1_sha256, 'sha256', 32],
    [p384, SignatureScheme.ecdsa_secp384r1_sha384, 'sha384', 48],
    [rsa, SignatureScheme.rsa_pss_rsae_sha256, 'sha256', 32],
    [rsa, SignatureScheme.rsa_pss_rsae_sha384, 'sha384', 48],
    [rsa, SignatureScheme.rsa_pss_rsae_sha512, 'sha512', 64],
    [ed, SignatureScheme.ed25519, null, 32],
    [ed, SignatureScheme.ed25519, null, 48],
    [ed, SignatureScheme.ed25519, null, 64],
  ] as const
  for (const [key, scheme, alg, len] of cases) {
    const content = tls13Content(len)
    const sig = await performOperation(be(key), {
      opcode: Op.SignTls13,
      payload: content,
      signatureScheme: scheme,
    })
    const pub =
      key === rsa
        ? { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: len }
        : key === ed
          ? key.publicKey
          : { key: key.publicKey, dsaEncoding: 'der' as const }
    assert.ok(verify(alg, content, pub, sig), `${key.type} ${scheme}`)
  }
})

test('performOperation() SignTls13 refuses anything but CertificateVerify content with BadContext', async () => {
  const scheme = SignatureScheme.ecdsa_secp256r1_sha256
  const sign = (payload: Uint8Array) =>
    performOperation(be(p256), { opcode: Op.SignTls13, payload, signatureScheme: scheme })
  await rejects(sign(hash('sha256')), ErrorCode.BadContext)
  await rejects(sign(tls13Content(48)), ErrorCode.BadContext)
  await rejects(sign(tls13Content(31)), ErrorCode.BadContext)
  const client = tls13Content(32)
  client.set(new TextEncoder().encode('TLS 1.3, client CertificateVerify'), 64)
  await rejects(sign(client), ErrorCode.BadContext)
  const noZero = tls13Content(32)
  noZero[97] = 0x01
  await rejects(sign(noZero), ErrorCode.BadContext)
  const spaces = tls13Content(32)
  spaces[0] = 0x21
  await rejects(sign(spaces), ErrorCode.BadContext)
})

test('performOperation() SignTls13 with random payloads signs only valid content (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 130 }),
      async (tail, cut) => {
        const payload = new Uint8Array([
          ...SERVER_CERTIFICATE_VERIFY_PREFIX.subarray(0, cut),
          ...tail,
        ])
        const valid = cut >= 98 && payload.length === 130
        try {
          await performOperation(be(p256), {
            opcode: Op.SignTls13,
            payload,
            signatureScheme: SignatureScheme.ecdsa_secp256r1_sha256,
          })
          assert.ok(valid)
        } catch (e) {
          assert.ok(e instanceof OperationError)
          assert.equal(e.errorCode, ErrorCode.BadContext)
          assert.ok(!valid)
        }
      },
    ),
    { numRuns: 200 },
  )
})

test('performOperation() SignTls13 refuses schemes that are not TLS 1.3 or do not fit the key', async () => {
  const content = tls13Content(32)
  const op = (scheme: number) => ({
    opcode: Op.SignTls13,
    payload: content,
    signatureScheme: scheme,
  })
  await rejects(
    performOperation(be(rsa), op(SignatureScheme.rsa_pkcs1_sha256)),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(p256), op(SignatureScheme.ecdsa_secp384r1_sha384)),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(p256), op(SignatureScheme.rsa_pss_rsae_sha256)),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(rsa), op(SignatureScheme.rsa_pss_pss_sha256)),
    ErrorCode.CryptoFailed,
  )
  await rejects(performOperation(be(ed), op(SignatureScheme.ecdsa_sha1)), ErrorCode.CryptoFailed)
  await rejects(
    performOperation(be(p256), { opcode: Op.SignTls13, payload: content }),
    ErrorCode.Format,
  )
})

test('performOperation() answers key type mismatches with CryptoFailed', async () => {
  await rejects(
    performOperation(be(p256), { opcode: Op.RsaSignSha256, payload: hash('sha256') }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(p256), { opcode: Op.RsaDecrypt, payload: new Uint8Array(256) }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(rsa), { opcode: Op.EcdsaSignSha256, payload: hash('sha256') }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(rsa), { opcode: Op.Ed25519Sign, payload: msg }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(ed), { opcode: Op.RsaPssSignSha256, payload: hash('sha256') }),
    ErrorCode.CryptoFailed,
  )
})

test('performOperation() answers wrong digest and ciphertext lengths with CryptoFailed', async () => {
  await rejects(
    performOperation(be(rsa), { opcode: Op.RsaSignSha256, payload: hash('sha1') }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(rsa), { opcode: Op.RsaPssSignSha384, payload: hash('sha256') }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(p256), { opcode: Op.EcdsaSignSha256, payload: hash('sha1') }),
    ErrorCode.CryptoFailed,
  )
  await rejects(
    performOperation(be(rsa), { opcode: Op.RsaDecrypt, payload: new Uint8Array(255) }),
    ErrorCode.CryptoFailed,
  )
  // A ciphertext not below the modulus fails in the primitive.
  await rejects(
    performOperation(be(rsa), { opcode: Op.RsaDecrypt, payload: new Uint8Array(256).fill(0xff) }),
    ErrorCode.CryptoFailed,
  )
})

test('performOperation() answers unknown opcodes with BadOpcode and a missing payload with Format', async () => {
  for (const opcode of [0x00, 0x09, 0x21, 0x24, 0x38, 0x41, 0xf0, 0xf1]) {
    await rejects(performOperation(be(rsa), { opcode, payload: msg }), ErrorCode.BadOpcode)
  }
  await rejects(performOperation(be(rsa), { opcode: Op.RsaSignSha256 }), ErrorCode.Format)
})
