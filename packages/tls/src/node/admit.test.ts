/**
 * The `admit` hook: called once per handshake with the SNI, the resumption
 * outcome and the peer address; a refusal ends the handshake with
 * handshake_failure before any key exchange or signature.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo, Server } from 'node:net'
import { connect, type TLSSocket } from 'node:tls'
import type { CertificateQuery, CertificateSource } from '../certificates.ts'
import type { SignatureScheme } from '../constants.ts'
import type { SignContext, Signer } from '../signer.ts'
import type { HandshakeAdmissionInfo } from '../server/config.ts'
import { createTlsServer } from './server.ts'
import { testCertificates, type TestPki } from '../../test/helpers/certs.ts'

let pki: TestPki
let server: Server
let port: number
let refuseFull = false
let signatures = 0
const seen: HandshakeAdmissionInfo[] = []

class CountingSigner implements Signer {
  readonly #inner: Signer
  constructor(inner: Signer) {
    this.#inner = inner
  }
  get schemes(): readonly SignatureScheme[] {
    return this.#inner.schemes
  }
  sign(scheme: SignatureScheme, content: Uint8Array, ctx?: SignContext): Promise<Uint8Array> {
    signatures++
    return this.#inner.sign(scheme, content, ctx)
  }
}

before(async () => {
  pki = await testCertificates()
  const signer = new CountingSigner(pki.ecdsaSigner)
  const source: CertificateSource = {
    select(q: CertificateQuery) {
      const sel = pki.source.select(q)
      return sel && { ...sel, signer }
    },
  }
  server = createTlsServer(
    {
      certificates: source,
      admit: (info) => {
        seen.push(info)
        return refuseFull && !info.resumed ? 'over budget' : undefined
      },
    },
    (conn) => {
      conn.end('hi')
    },
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})
after(() => {
  server.close()
})

function hello(
  session?: Buffer,
): Promise<{ ok: boolean; error?: string; session?: Buffer; resumed: boolean }> {
  return new Promise((resolve) => {
    let got: Buffer | undefined
    const s: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      servername: 'test.example',
      ca: pki.ecdsaCa.certPem,
      minVersion: 'TLSv1.3',
      ...(session !== undefined ? { session } : {}),
    })
    s.on('session', (b: Buffer) => (got ??= b))
    s.resume()
    s.once('end', () => {
      resolve({ ok: true, resumed: s.isSessionReused(), ...(got ? { session: got } : {}) })
      s.destroy()
    })
    s.once('error', (e: Error) => {
      resolve({ ok: false, error: e.message, resumed: false })
    })
  })
}

test('admit sees SNI, resumption and the peer; a refusal costs no signature', async () => {
  refuseFull = false
  const first = await hello()
  assert.equal(first.ok, true)
  assert.equal(signatures, 1)
  assert.deepEqual(seen.at(-1), { serverName: 'test.example', resumed: false, peer: '127.0.0.1' })

  refuseFull = true
  const refused = await hello()
  assert.equal(refused.ok, false)
  assert.match(refused.error ?? '', /handshake failure/i)
  assert.equal(signatures, 1, 'a refused full handshake must not sign')

  // Resumption needs no signature and is still admitted.
  assert.ok(first.session, 'got a ticket')
  const resumed = await hello(first.session)
  assert.equal(resumed.ok, true)
  assert.equal(resumed.resumed, true)
  assert.equal(seen.at(-1)?.resumed, true)
  assert.equal(signatures, 1)
  assert.equal(seen.length, 3, 'one call per handshake')
})
