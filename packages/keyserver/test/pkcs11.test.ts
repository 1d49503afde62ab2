import { test } from 'node:test'
import assert from 'node:assert/strict'
import { constants, createHash, randomBytes, verify } from 'node:crypto'
import { SignatureScheme } from '@outpost/tls'
import { ErrorCode, KeylessRemoteError, Op, skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import {
  OperationError,
  Pkcs11Keystore,
  SERVER_CERTIFICATE_VERIFY_PREFIX,
  performOperation,
} from '@outpost/keyserver'
import { startFixture } from './fixture.ts'
import { SOFTHSM_MODULE, createTestToken } from './softhsm.ts'

const msg = new TextEncoder().encode('signed in the HSM')
const h = (alg: string, data: Uint8Array = msg) =>
  new Uint8Array(createHash(alg).update(data).digest())

test('Pkcs11Keystore signs through SoftHSM2 in a worker thread', async (t) => {
  const token = createTestToken()
  t.after(() => {
    token.cleanup()
  })
  const ecPub = token.importKey('ec-p256', '01')
  const ec384Pub = token.importKey('ec-p384', '02')
  const rsaPub = token.importKey('rsa-2048', '03')
  const ks = await Pkcs11Keystore.open({
    module: SOFTHSM_MODULE,
    tokenLabel: token.label,
    pin: Buffer.from(token.pin),
    policies: new Map([[toHex(skiOf(rsaPub)), { denyCountries: ['RU'] }]]),
  })
  t.after(() => ks.close())
  const list = ks.list().sort((a, b) => a.type.localeCompare(b.type))
  assert.deepEqual(
    list.map((k) => [k.type, k.ski]),
    [
      ['ecdsa-p256', toHex(skiOf(ecPub))],
      ['ecdsa-p384', toHex(skiOf(ec384Pub))],
      ['rsa', toHex(skiOf(rsaPub))],
    ],
  )
  const ec = ks.find(toHex(skiOf(ecPub)))!
  const ec384 = ks.find(toHex(skiOf(ec384Pub)))!
  const rsa = ks.find(toHex(skiOf(rsaPub)))!
  assert.deepEqual(rsa.policy, { denyCountries: ['RU'] })

  // ECDSA over a digest: CKM_ECDSA, raw r‖s converted to DER.
  const ecSig = await performOperation(ec.backend, {
    opcode: Op.EcdsaSignSha256,
    payload: h('sha256'),
  })
  assert.equal(ecSig[0], 0x30)
  assert.ok(verify('sha256', msg, { key: ecPub, dsaEncoding: 'der' }, ecSig))
  const ec384Sig = await performOperation(ec384.backend, {
    opcode: Op.EcdsaSignSha384,
    payload: h('sha384'),
  })
  assert.ok(verify('sha384', msg, { key: ec384Pub, dsaEncoding: 'der' }, ec384Sig))

  // RSA PKCS#1 v1.5 over DigestInfo‖hash.
  for (const [op, alg] of [
    [Op.RsaSignSha256, 'sha256'],
    [Op.RsaSignSha512, 'sha512'],
  ] as const) {
    const sig = await performOperation(rsa.backend, { opcode: op, payload: h(alg) })
    assert.ok(verify(alg, msg, rsaPub, sig), alg)
  }
  // RSA-PSS: CKM_RSA_PKCS_PSS with salt = hash length.
  const pss = await performOperation(rsa.backend, {
    opcode: Op.RsaPssSignSha384,
    payload: h('sha384'),
  })
  assert.ok(
    verify(
      'sha384',
      msg,
      { key: rsaPub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
      pss,
    ),
  )

  // Context-bound: checked and hashed here, signed on the token.
  const content = new Uint8Array([...SERVER_CERTIFICATE_VERIFY_PREFIX, ...randomBytes(32)])
  const cv = await performOperation(ec.backend, {
    opcode: Op.SignTls13,
    payload: content,
    signatureScheme: SignatureScheme.ecdsa_secp256r1_sha256,
  })
  assert.ok(verify('sha256', content, { key: ecPub, dsaEncoding: 'der' }, cv))
  const cvRsa = await performOperation(rsa.backend, {
    opcode: Op.SignTls13,
    payload: content,
    signatureScheme: SignatureScheme.rsa_pss_rsae_sha256,
  })
  assert.ok(
    verify(
      'sha256',
      content,
      { key: rsaPub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      cvRsa,
    ),
  )
  await assert.rejects(
    performOperation(ec.backend, {
      opcode: Op.SignTls13,
      payload: h('sha256'),
      signatureScheme: SignatureScheme.ecdsa_secp256r1_sha256,
    }),
    (e: unknown) => e instanceof OperationError && e.errorCode === ErrorCode.BadContext,
  )

  // Raw RSA decrypt on the token: CKM_RSA_X_509.
  const { publicEncrypt } = await import('node:crypto')
  const secret = randomBytes(32)
  const ct = publicEncrypt({ key: rsaPub, padding: constants.RSA_PKCS1_PADDING }, secret)
  const block = await performOperation(rsa.backend, { opcode: Op.RsaDecrypt, payload: ct })
  assert.equal(block.length, 256)
  assert.deepEqual([block[0], block[1]], [0, 2])
  assert.deepEqual(Buffer.from(block.subarray(224)), secret)

  // Many concurrent operations, all answered.
  const many = await Promise.all(
    Array.from({ length: 50 }, () =>
      performOperation(ec.backend, { opcode: Op.EcdsaSignSha256, payload: h('sha256') }),
    ),
  )
  for (const s of many) assert.ok(verify('sha256', msg, { key: ecPub, dsaEncoding: 'der' }, s))
})

test('Pkcs11Keystore.open() names a wrong PIN and a missing token', async (t) => {
  const token = createTestToken('outpost-pin')
  t.after(() => {
    token.cleanup()
  })
  await assert.rejects(
    Pkcs11Keystore.open({
      module: SOFTHSM_MODULE,
      tokenLabel: token.label,
      pin: Buffer.from('000000'),
    }),
    /Cannot open PKCS#11 token "outpost-pin": .*PIN_INCORRECT/,
  )
  await assert.rejects(
    Pkcs11Keystore.open({
      module: SOFTHSM_MODULE,
      tokenLabel: 'nope',
      pin: Buffer.from(token.pin),
    }),
    /no token labelled "nope"/,
  )
})

test('startKeyServer() serves keys from a PKCS#11 token over mTLS, with per-SKI policy', async (t) => {
  const token = createTestToken('outpost-srv')
  t.after(() => {
    token.cleanup()
  })
  const pub = token.importKey('ec-p256', '0a')
  const ski = skiOf(pub)
  const f = await startFixture({
    overrides: {
      keystore: {
        type: 'pkcs11',
        module: SOFTHSM_MODULE,
        tokenLabel: token.label,
        pinEnv: 'TEST_TOKEN_PIN',
        policies: { [toHex(ski)]: { denyCountries: ['RU'] } },
      },
    },
    env: { TEST_TOKEN_PIN: token.pin },
  })
  t.after(() => f.cleanup())
  assert.deepEqual(
    f.server.listKeys().map((k) => [k.ski, k.type]),
    [[toHex(ski), 'ecdsa-p256']],
  )
  assert.equal(f.server.status().sealed, false)
  const de = f.client(await f.node('edge-hsm', 'eu-central', 'DE'))
  const content = new Uint8Array([...SERVER_CERTIFICATE_VERIFY_PREFIX, ...randomBytes(32)])
  const op = {
    opcode: Op.SignTls13,
    ski,
    payload: content,
    signatureScheme: SignatureScheme.ecdsa_secp256r1_sha256,
  }
  const answer = await de.execute(op)
  assert.ok(verify('sha256', content, { key: pub, dsaEncoding: 'der' }, answer.payload!))
  const ru = f.client(await f.node('edge-hsm-ru', 'eu-central', 'RU'))
  await assert.rejects(
    ru.execute(op),
    (e: unknown) => e instanceof KeylessRemoteError && e.remoteCode === ErrorCode.PolicyDenied,
  )
  assert.throws(() => {
    void f.server.seal()
  }, /does not support it/)
})
