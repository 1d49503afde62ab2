import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:tls'
import { ErrorCode, KeylessRemoteError, Op, skiOf, type Operation } from '@outpost/keyless'
import { SignatureScheme } from '@outpost/tls'
import { adminRequest, SERVER_CERTIFICATE_VERIFY_PREFIX, verifyAuditFile } from '@outpost/keyserver'
import { startFixture, type Fixture } from './fixture.ts'
import type { KeylessClient } from '@outpost/keyless'

function newKeyPem(kind: 'ec' | 'rsa' | 'ed25519'): { pem: Buffer; ski: Uint8Array } {
  const pair =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
  // A throwaway test key.
  return {
    pem: Buffer.from(pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
    ski: skiOf(pair.publicKey),
  }
}

async function refused(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeylessRemoteError, String(e))
    assert.equal(e.remoteCode, code, e.message)
    return true
  })
}

function cvContent(): Uint8Array {
  return new Uint8Array([...SERVER_CERTIFICATE_VERIFY_PREFIX, ...randomBytes(32)])
}

const signTls13 = (ski: Uint8Array, payload: Uint8Array, serverName?: string): Operation => ({
  opcode: Op.SignTls13,
  ski,
  payload,
  signatureScheme: SignatureScheme.ecdsa_secp256r1_sha256,
  ...(serverName !== undefined ? { serverName } : {}),
  clientIp: new Uint8Array([192, 0, 2, 7]),
})

async function admin(
  f: Fixture,
  method: string,
  path: string,
  body?: Uint8Array,
  headers?: Record<string, string>,
) {
  return adminRequest(f.server.adminSocket, method, path, body, headers)
}

test('key server: sealed start, unseal over the admin socket, import, sign, policy, seal (P9, P11)', async (t) => {
  const f = await startFixture({ shares: 3, threshold: 2 })
  t.after(() => f.cleanup())
  const de = f.client(await f.node('edge-de-1', 'eu-central', 'DE'))
  const ru = f.client(await f.node('edge-ru-1', 'eu-east', 'RU'))
  const key = newKeyPem('ec')

  // The admin socket is private to the server's user.
  assert.equal(statSync(f.server.adminSocket).mode & 0o777, 0o600)

  // Ping works while sealed; key operations are refused with Sealed.
  assert.ok((await de.ping()) >= 0)
  await refused(de.execute(signTls13(key.ski, cvContent())), ErrorCode.Sealed)

  // k-1 shares: still sealed (P11).
  const one = await admin(f, 'POST', '/v1/unseal', Buffer.from(f.shares[2]!))
  assert.deepEqual(one, { status: 200, body: { sealed: true, progress: 1, threshold: 2 } })
  await refused(de.execute(signTls13(key.ski, cvContent())), ErrorCode.Sealed)
  const imp = await admin(f, 'POST', '/v1/keys', key.pem)
  assert.equal(imp.status, 409)
  // k shares: unsealed.
  const two = await admin(f, 'POST', '/v1/unseal', Buffer.from(f.shares[0]!))
  assert.deepEqual(two.body, { sealed: false, progress: 0, threshold: 2 })

  const imported = await admin(f, 'POST', '/v1/keys', key.pem, {
    'x-outpost-policy': JSON.stringify({
      denyCountries: ['RU', 'BY', 'UA'],
      allowServerNames: ['*.example.com'],
    }),
  })
  assert.equal(imported.status, 200, JSON.stringify(imported.body))
  const keys = await admin(f, 'GET', '/v1/keys')
  assert.deepEqual(keys.body, [
    {
      ski: Buffer.from(key.ski).toString('hex'),
      type: 'ecdsa-p256',
      policy: { denyCountries: ['RU', 'BY', 'UA'], allowServerNames: ['*.example.com'] },
    },
  ])

  // Context-bound signing verifies against the public key.
  const pub = createPublicKey(key.pem)
  const content = cvContent()
  const ok = await de.execute(signTls13(key.ski, content, 'www.example.com'))
  assert.ok(verify('sha256', content, { key: pub, dsaEncoding: 'der' }, ok.payload!))
  // Digest signing too.
  const digest = createHash('sha256').update('hello').digest()
  const ec = await de.execute({
    opcode: Op.EcdsaSignSha256,
    ski: key.ski,
    payload: digest,
    serverName: 'a.example.com',
  })
  assert.ok(verify('sha256', Buffer.from('hello'), { key: pub, dsaEncoding: 'der' }, ec.payload!))

  // P9: a node in a denied country is refused; so is an SNI the policy does not allow.
  await refused(
    ru.execute(signTls13(key.ski, cvContent(), 'www.example.com')),
    ErrorCode.PolicyDenied,
  )
  await refused(
    de.execute(signTls13(key.ski, cvContent(), 'www.example.org')),
    ErrorCode.PolicyDenied,
  )
  // Other refusals, each with its own code.
  await refused(de.execute(signTls13(key.ski, digest, 'www.example.com')), ErrorCode.BadContext)
  await refused(de.execute(signTls13(randomBytes(20), cvContent())), ErrorCode.KeyNotFound)
  await refused(
    de.execute({ opcode: Op.SignTls13, payload: cvContent(), signatureScheme: 0x0403 }),
    ErrorCode.Format,
  )
  await refused(de.execute({ opcode: 0x24, ski: key.ski, payload: digest }), ErrorCode.BadOpcode)
  await refused(
    de.execute({
      opcode: Op.RsaSignSha256,
      ski: key.ski,
      payload: digest,
      serverName: 'a.example.com',
    }),
    ErrorCode.CryptoFailed,
  )
  await refused(de.execute({ opcode: Op.Response, payload: digest }), ErrorCode.UnexpectedOpcode)

  // seal wipes the keys: signing is refused again (P11).
  const sealed = await admin(f, 'POST', '/v1/seal')
  assert.equal((sealed.body as { sealed: boolean }).sealed, true)
  await refused(de.execute(signTls13(key.ski, cvContent(), 'www.example.com')), ErrorCode.Sealed)
  // After unsealing again the imported key is back from its encrypted file.
  f.server.unseal(f.shares[1]!)
  f.server.unseal(f.shares[2]!)
  const again = await de.execute(signTls13(key.ski, content, 'www.example.com'))
  assert.ok(verify('sha256', content, { key: pub, dsaEncoding: 'der' }, again.payload!))

  // Wrong shares are detected and reported.
  await f.server.seal()
  const other = await admin(f, 'POST', '/v1/unseal', Buffer.from('oks1-01-' + '00'.repeat(32)))
  assert.equal(other.status, 200)
  const bad = await admin(f, 'POST', '/v1/unseal', Buffer.from(f.shares[1]!))
  assert.equal(bad.status, 403)
  assert.match(JSON.stringify(bad.body), /do not rebuild/)
  assert.equal(f.server.status().sealed, true)

  // Metrics count operations by opcode and result.
  const m = await fetch(`http://127.0.0.1:${f.server.metricsAddress!.port}/metrics`)
  const text = await m.text()
  assert.match(text, /outpost_keyserver_operations_total\{opcode="SignTls13",result="ok"\} 2/)
  assert.match(
    text,
    /outpost_keyserver_operations_total\{opcode="SignTls13",result="PolicyDenied"\} 2/,
  )
  assert.match(text, /outpost_keyserver_sealed 1/)
  assert.match(text, /outpost_keyserver_connections 2/)
  assert.match(text, /outpost_keyserver_operation_duration_seconds_bucket/)

  // Every operation left an audit record, and the chain verifies.
  await f.server.close()
  const verdict = await verifyAuditFile(f.config.audit!.file!)
  assert.ok(verdict.ok)
  assert.equal(verdict.count, 14)
})

test('key server: a revoked node is refused within 1 s and its connections are closed (P10)', async (t) => {
  const f = await startFixture({ shares: 1, threshold: 1 })
  t.after(() => f.cleanup())
  f.server.unseal(f.shares[0]!)
  const key = newKeyPem('ec')
  f.server.importKey(key.pem)
  const node = await f.node('edge-7')
  const c = f.client(node)
  await c.execute(signTls13(key.ski, cvContent()))

  // Revoke through the file the server watches; time until the node is refused.
  const t0 = performance.now()
  writeFileSync(f.config.revocationsFile!, '# revoked\nedge-7\n')
  let elapsed = Infinity
  while (performance.now() - t0 < 3000) {
    try {
      await c.execute(signTls13(key.ski, cvContent()), { timeoutMs: 500 })
    } catch (e) {
      if (e instanceof KeylessRemoteError) assert.equal(e.remoteCode, ErrorCode.Revoked)
      elapsed = performance.now() - t0
      break
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.ok(elapsed < 1000, `refused after ${elapsed} ms`)
  // Its open connections were closed, and new ones are refused after the handshake.
  assert.equal(f.server.status().connections, 0)
  await assert.rejects(f.client(node).execute(signTls13(key.ski, cvContent()), { timeoutMs: 1000 }))

  // Un-revoke through the admin API; then revoke again through it.
  const cleared = await admin(f, 'PUT', '/v1/revocations', Buffer.from('[]'))
  assert.deepEqual(cleared.body, { nodeIds: [] })
  const fresh = f.client(node)
  await fresh.execute(signTls13(key.ski, cvContent()))
  const t1 = performance.now()
  const r = await admin(
    f,
    'PUT',
    '/v1/revocations',
    Buffer.from(JSON.stringify(['edge-7', 'edge-9'])),
  )
  assert.deepEqual(r.body, { nodeIds: ['edge-7', 'edge-9'] })
  await assert.rejects(fresh.execute(signTls13(key.ski, cvContent()), { timeoutMs: 1000 }))
  assert.ok(performance.now() - t1 < 1000)
  assert.equal(f.server.status().revoked, 2)
  // The refused connection attempts are audited too.
  await f.server.close()
  const { readFileSync } = await import('node:fs')
  const records = readFileSync(f.config.audit!.file!, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { op: string; result: string; node: string | null })
  assert.ok(
    records.some((r) => r.op === '(connect)' && r.result === 'Revoked' && r.node === 'edge-7'),
  )
})

test('key server: TLS 1.2 only with the two keyless suites; client certificate required', async (t) => {
  const f = await startFixture({ devAutoUnseal: true })
  t.after(() => f.cleanup())
  assert.equal(f.server.status().sealed, false)
  const node = await f.node('edge-tls12')
  const c12: KeylessClient = f.client(node, { tlsMaxVersion: 'TLSv1.2' })
  assert.ok((await c12.ping()) >= 0)

  const attempt = (o: Record<string, unknown>) =>
    new Promise<string>((resolve) => {
      const s = connect({
        host: '127.0.0.1',
        port: f.server.address.port,
        servername: 'localhost',
        ca: f.ca.certPem,
        ...o,
      })
      s.once('secureConnect', () => {
        const v = `${s.getProtocol() ?? ''} ${s.getCipher().standardName}`
        // A server that rejects the client certificate closes right after the handshake (TLS 1.3).
        s.once('close', () => {
          resolve(`${v} closed`)
        })
        s.once('data', () => {
          resolve(v)
        })
        s.write(Buffer.from('0100000400000001110001f1', 'hex'))
      })
      s.once('error', (e) => {
        resolve(`error ${e.message}`)
      })
    })
  const withCert = { cert: node.issued.certPem, key: node.issued.keyPem }
  assert.equal(
    await attempt({ ...withCert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
    'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  )
  assert.match(
    await attempt({ ...withCert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
    /^error/,
  )
  assert.match(await attempt({ ...withCert }), /^TLSv1.3/)
  assert.match(await attempt({}), /error|closed/)
  assert.match(await attempt({ maxVersion: 'TLSv1.2' }), /^error/)

  // A frame whose header parses but whose body does not: answered with Format, audited.
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port: f.server.address.port,
      servername: 'localhost',
      ca: f.ca.certPem,
      ...withCert,
    })
    s.once('secureConnect', () => {
      // ID 9; one item (tag 0x11) claiming 5 bytes where 1 follows.
      s.write(Buffer.from('0100000400000009110005f1', 'hex'))
    })
    s.once('data', (d: Buffer) => {
      s.destroy()
      resolve(d)
    })
    s.once('error', reject)
  })
  assert.equal(answer.readUInt32BE(4), 9)
  assert.equal(answer.subarray(8, 16).toString('hex'), '110001ff12000107')
  await f.server.close()
  const { readFileSync } = await import('node:fs')
  assert.match(
    readFileSync(f.config.audit!.file!, 'utf8'),
    /"op":"\(unparsed\)".*"result":"Format"/,
  )
})
