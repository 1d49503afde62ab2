/**
 * AP17: Privacy Pass type 2 (Blind RSA, RFC 9578 §6 / RFC 9474) redemption as an
 * optional challenge skip. The test is the issuer and the client: it generates an
 * issuer key, blinds token_input (EMSA-PSS, SHA-384, salt 48), has the "issuer" sign
 * the blinded message with raw RSA, unblinds, and presents the token.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { Protection, tokenChallenge } from '../src/index.ts'

const big = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'))
const bytes = (n: bigint, len: number): Buffer =>
  Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex')

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n
  b %= m
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m
  return r
}

function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n]
  while (r1 !== 0n) {
    const q = r0 / r1
    ;[r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1]
  }
  return ((s0 % m) + m) % m
}

function mgf1(seed: Buffer, len: number): Buffer {
  const out: Buffer[] = []
  for (let c = 0; out.length * 48 < len; c++) {
    const ctr = Buffer.alloc(4)
    ctr.writeUInt32BE(c)
    out.push(createHash('sha384').update(seed).update(ctr).digest())
  }
  return Buffer.concat(out).subarray(0, len)
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1), SHA-384, 48-byte salt, emBits = 2047. */
function emsaPss(msg: Buffer): Buffer {
  const emLen = 256
  const mHash = createHash('sha384').update(msg).digest()
  const salt = randomBytes(48)
  const h = createHash('sha384').update(Buffer.alloc(8)).update(mHash).update(salt).digest()
  const db = Buffer.concat([Buffer.alloc(emLen - 48 - 48 - 2), Buffer.of(1), salt])
  const mask = mgf1(h, emLen - 48 - 1)
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0)
  db[0] = (db[0] ?? 0) & 0x7f
  return Buffer.concat([db, h, Buffer.of(0xbc)])
}

/** SubjectPublicKeyInfo up to the modulus for 2048-bit keys, as in RFC 9578's A.2 vectors. */
const PSS_PREFIX =
  '30820152303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a301806092a864886f70d' +
  '010108300b0609608648016503040202a2030201300382010f003082010a0282010100'

function issuer() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' })
  // Configured as OpenSSL writes it (rsaEncryption); the key id is over the RFC 9578 §6.5
  // encoding: the fixed id-RSASSA-PSS/SHA-384 prefix of its vectors, n, e = 65537.
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' })
  const nBytes = Buffer.from(jwk.n ?? '', 'base64url')
  const pss = Buffer.concat([
    Buffer.from(PSS_PREFIX, 'hex'),
    nBytes,
    Buffer.from('0203010001', 'hex'),
  ])
  const n = big(nBytes)
  const e = big(Buffer.from(jwk.e ?? '', 'base64url'))
  const d = big(Buffer.from(jwk.d ?? '', 'base64url'))
  return { n, e, d, spki, pss, keyId: createHash('sha256').update(pss).digest() }
}

/** Client: Token for (challenge, issuer) via the blind-sign protocol. */
function mintToken(iss: ReturnType<typeof issuer>, challenge: Buffer): string {
  const tokenInput = Buffer.concat([
    Buffer.of(0, 2),
    randomBytes(32),
    createHash('sha256').update(challenge).digest(),
    iss.keyId,
  ])
  const m = big(emsaPss(tokenInput))
  const r = big(randomBytes(256)) % iss.n
  const blinded = (m * modPow(r, iss.e, iss.n)) % iss.n // client → issuer
  const blindSig = modPow(blinded, iss.d, iss.n) // issuer (sees only the blinded message)
  const sig = (blindSig * modInv(r, iss.n)) % iss.n // client unblinds
  return Buffer.concat([tokenInput, bytes(sig, 256)]).toString('base64url')
}

const HTML = { 'user-agent': 'Mozilla/5.0 Firefox/140', accept: 'text/html' }

test('AP17: a valid PrivateToken skips the challenge once; reused, wrong-origin and wrong-key fail', () => {
  const iss = issuer()
  const other = issuer()
  const zone = (name: string, extra: object = {}): [string, object] => [
    name,
    {
      rules: [{ id: 'login', action: 'challenge', match: { paths: ['/login'] } }],
      privacyPass: {
        enabled: true,
        issuerName: 'issuer.test',
        issuerKeys: [iss.spki.toString('base64')],
      },
      ...extra,
    },
  ]
  const p = new Protection({ zones: Object.fromEntries([zone('a.test'), zone('b.test')]) })
  const ask = (host: string, auth?: string) =>
    p.evaluate({
      zone: host,
      host,
      method: 'GET',
      path: '/login',
      ip: '192.0.2.1',
      headers:
        auth === undefined ? HTML : { ...HTML, authorization: `PrivateToken token="${auth}"` },
      now: 1_000_000,
    })
  const first = ask('a.test')
  assert.equal(first.kind, 'challenge')
  const www = first.headers['www-authenticate'] ?? ''
  const ch = Buffer.from(/challenge="([^"]+)"/.exec(www)?.[1] ?? '', 'base64url')
  assert.deepEqual(ch, tokenChallenge('issuer.test', 'a.test'), 'the challenge the edge advertises')
  assert.match(www, new RegExp(`token-key="${iss.pss.toString('base64url')}"`))

  const token = mintToken(iss, ch)
  assert.equal(ask('a.test', token).kind, 'pass')
  assert.equal(ask('a.test', token).kind, 'challenge', 'reused token')
  assert.equal(
    ask('b.test', mintToken(iss, ch)).kind,
    'challenge',
    'minted for a.test, shown to b.test',
  )
  assert.equal(ask('a.test', mintToken(other, ch)).kind, 'challenge', 'unknown issuer key')
  const forged = Buffer.from(mintToken(iss, ch), 'base64url')
  forged[100] = (forged[100] ?? 0) ^ 1
  assert.equal(ask('a.test', forged.toString('base64url')).kind, 'challenge', 'bad signature')
  assert.equal(
    ask('a.test', mintToken(iss, tokenChallenge('issuer.test', 'b.test'))).kind,
    'challenge',
  )

  // Disabled while under attack unless configured.
  p.setUnderAttack('a.test', 2_000_000)
  const during = ask('a.test', mintToken(iss, ch))
  assert.equal(during.kind, 'challenge')
  assert.equal(during.headers['www-authenticate'], undefined)
  const q = new Protection({ zones: Object.fromEntries([zone('a.test', {})]) })
  q.setZone('a.test', {
    underAttack: { enabled: true },
    privacyPass: {
      enabled: true,
      duringAttack: true,
      issuerName: 'issuer.test',
      issuerKeys: [iss.spki.toString('base64')],
    },
  })
  const d = q.evaluate({
    zone: 'a.test',
    host: 'a.test',
    method: 'GET',
    path: '/',
    ip: '192.0.2.1',
    headers: { ...HTML, authorization: `PrivateToken token="${mintToken(iss, ch)}"` },
    now: 1_000_000,
  })
  assert.equal(d.kind, 'pass')
})
