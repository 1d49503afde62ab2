import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type RSAPSSKeyPairKeyObjectOptions,
} from 'node:crypto'
import { issuerFromSpki, rfc9578Spki, verifyToken } from './privacypass.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/**
 * A token type 2 vector of RFC 9578 Appendix A.2 (public values): the issuer key pkS in
 * the §6.5 encoding, the (random) challenge, and the finished token.
 */
const PKS = hex(`
  30820152303d06092a864886f70d01010a3030a00d300b0609608648016503040202
  a11a301806092a864886f70d010108300b0609608648016503040202a20302013003
  82010f003082010a0282010100cb1aed6b6a95f5b1ce013a4cfcab25b94b2e64a230
  34e4250a7eab43c0df3a8c12993af12b111908d4b471bec31d4b6c9ad9cdda90612a
  2ee903523e6de5a224d6b02f09e5c374d0cfe01d8f529c500a78a2f67908fa682b5a
  2b430c81eaf1af72d7b5e794fc98a3139276879757ce453b526ef9bf6ceb99979b84
  23b90f4461a22af37aab0cf5733f7597abe44d31c732db68a181c6cbbe607d8c0e52
  e0655fd9996dc584eca0be87afbcd78a337d17b1dba9e828bbd81e291317144e7ff8
  9f55619709b096cbb9ea474cead264c2073fe49740c01f00e109106066983d21e5f8
  3f086e2e823c879cd43cef700d2a352a9babd612d03cad02db134b7e225a5f020301
  0001`)
const CHALLENGE = hex('3f5a1c30d13f860622458ce836d8af325378054370fe8a3d771eebd67d4d810d')
const TOKEN = hex(`
  0002c0fcbbb243d8f5d4f661dbdefca95879b39aeccb77b7db731b59c09688773125
  ad76ab53adc2ca44e4eaae3d71b9bf3fc9332122faeef07cb70d9e04da68c6a7ca57
  2f8982a9ca248a3056186322d93ca147266121ddeb5632c07f1f71cd27080d1f8163
  64e5d4d516d2f3e80366e56edc1de4ba0d7aed2675c15156d774b311778091bf5f2a
  ea99261562289459a41c5739dec6dc42447744fe07c53c9d090f053263d019255cdf
  c27739132bd6821ad49f1a98db6873319d04c04703d74a8fe1d0806b2a25b46246c5
  bb2ff927463b03152589068389df89494c6d82f3b92be773a9fe6bc1fed9cbf26bdf
  bae1ff369f20d0267cdd20f3bcba30f8b0c0e9d9a1a39a40156b0614030d5099aa36
  f085347681aef502f3d081b36cd79f7ea14df1ca9694320fc44ccbc7c5d90aeedc91
  5af3ac11a3baf562d38c8213e39f6731fa5e701697d0bfbfcfc83b447945b351115a
  20770370226b52a19df939f3080e`)

/** The same public key in other SPKI encodings an operator may paste. */
function otherEncodings(pks: Buffer): { rsaEncryption: Buffer; openssl: Buffer } {
  // RSAPublicKey (n, e) is the BIT STRING's content after the unused-bits byte: the last 270 bytes.
  const rsaPublicKey = pks.subarray(pks.length - 270)
  const rsa = createPublicKey({ key: rsaPublicKey, format: 'der', type: 'pkcs1' })
  return {
    rsaEncryption: rsa.export({ type: 'spki', format: 'der' }),
    // OpenSSL re-encodes the PSS key with NULL hash parameters (346 bytes, not 342).
    openssl: createPublicKey({ key: pks, format: 'der', type: 'spki' }).export({
      type: 'spki',
      format: 'der',
    }),
  }
}

test('RFC 9578 A.2 vector: token_key_id = SHA-256(pkS), the token verifies, a flipped bit does not', () => {
  const iss = issuerFromSpki(PKS.toString('base64'))
  assert.deepEqual(iss.keyId, TOKEN.subarray(66, 98), 'token_key_id of the vector')
  assert.equal(iss.tokenKey, PKS.toString('base64url'))
  const digest = createHash('sha256').update(CHALLENGE).digest()
  assert.deepEqual(digest, TOKEN.subarray(34, 66), 'challenge_digest of the vector')
  assert.equal(verifyToken(TOKEN, digest, [iss]).ok, true)
  const bad = Buffer.from(TOKEN)
  bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1
  assert.equal(verifyToken(bad, digest, [iss]).ok, false)
})

test('issuer key id is over the §6.5 encoding whatever SPKI was configured', () => {
  const { rsaEncryption, openssl } = otherEncodings(PKS)
  assert.equal(rsaEncryption[0], 0x30)
  assert.equal(openssl.length, 346, 'OpenSSL writes NULL hash parameters')
  for (const der of [rsaEncryption, openssl]) {
    assert.notDeepEqual(der, PKS)
    const iss = issuerFromSpki(der.toString('base64'))
    assert.deepEqual(iss.keyId, TOKEN.subarray(66, 98))
    assert.equal(iss.tokenKey, PKS.toString('base64url'), 'token-key is the §6.5 encoding')
    const digest = createHash('sha256').update(CHALLENGE).digest()
    assert.equal(verifyToken(TOKEN, digest, [iss]).ok, true)
  }
})

test('rfc9578Spki: the §6.5 shape (id-RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48) for fresh keys', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const der = rfc9578Spki(publicKey)
  assert.equal(der.length, 342)
  // Everything before the modulus is fixed for 2048-bit keys: compare with the vector's prefix.
  assert.deepEqual(der.subarray(0, 0x3f + 5), PKS.subarray(0, 0x3f + 5))
  assert.deepEqual(der.subarray(-5), Buffer.from('0203010001', 'hex'), 'e = 65537')
  const k = createPublicKey({ key: der, format: 'der', type: 'spki' })
  assert.equal(k.asymmetricKeyType, 'rsa-pss')
  assert.deepEqual(
    {
      hash: k.asymmetricKeyDetails?.hashAlgorithm,
      mgf1: k.asymmetricKeyDetails?.mgf1HashAlgorithm,
      salt: k.asymmetricKeyDetails?.saltLength,
    },
    { hash: 'sha384', mgf1: 'sha384', salt: 48 },
  )
  assert.deepEqual(
    der.subarray(-270),
    publicKey.export({ type: 'pkcs1', format: 'der' }),
    'subjectPublicKey is the RSAPublicKey',
  )
})

test('issuerFromSpki refuses other PSS parameters, other sizes and non-RSA keys, naming the field', () => {
  // @types/node declares saltLength as a string; Node takes the number of bytes.
  const pssOptions = {
    modulusLength: 2048,
    hashAlgorithm: 'sha256',
    mgf1HashAlgorithm: 'sha256',
    saltLength: 32,
  } as unknown as RSAPSSKeyPairKeyObjectOptions
  const pss256 = generateKeyPairSync('rsa-pss', pssOptions).publicKey.export({
    type: 'spki',
    format: 'der',
  })
  assert.throws(
    () => issuerFromSpki(pss256.toString('base64')),
    /privacyPass\.issuerKeys: .*SHA-384/,
  )
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
    type: 'spki',
    format: 'der',
  })
  assert.throws(
    () => issuerFromSpki(small.toString('base64')),
    /privacyPass\.issuerKeys: need a 2048-bit/,
  )
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    type: 'spki',
    format: 'der',
  })
  assert.throws(
    () => issuerFromSpki(ec.toString('base64')),
    /privacyPass\.issuerKeys: need an RSA key/,
  )
})
