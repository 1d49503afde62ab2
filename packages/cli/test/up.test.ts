import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import { up } from '../src/up.ts'

function get(port: number, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: no session cache, so every request is a full handshake with a signature.
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/hello',
        ca,
        agent: false,
        headers: { host: `localhost:${port}` },
      },
      (res) => {
        let body = ''
        res.on('data', (d: Buffer) => {
          body += d.toString()
        })
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body })
        })
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Every listener on an ephemeral port, so tests never collide with a running `npm start`. */
const EPHEMERAL_PORTS = {
  keyServerPort: 0,
  metricsPort: 0,
  httpsPort: 0,
  originPort: 0,
  edgeAdminPort: 0,
  edgeMetricsPort: 0,
  controlPort: 0,
  controlNodePort: 0,
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
}

test('up() serves a page over keyless TLS and keeps the site key only in the key server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-up-'))
  const d = await up({ dir, ...EPHEMERAL_PORTS })
  try {
    const ca = readFileSync(join(dir, 'pki', 'ca.pem'))
    const r = await get(d.edgePort, ca)
    assert.equal(r.status, 200)
    assert.match(r.body, /You asked for \/hello via https/)
    assert.equal(d.keyServer.listKeys().length, 1)
    assert.ok(
      d.lines.some((l) => l.startsWith('curl ')),
      'prints a curl command on a line of its own',
    )
    const dash = d.lines.find((l) => l.startsWith('dashboard: '))
    assert.ok(dash, 'prints the dashboard URL on a line of its own')
    // The admin token in the state dir opens the control-plane API; no token does not.
    const token = readFileSync(join(dir, 'control', 'admin-token'), 'utf8')
    const url = dash.slice('dashboard: '.length).replace(/\/ui$/, '')
    const authorized = await fetch(`${url}/v1/nodes`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(authorized.status, 200)
    assert.equal((await fetch(`${url}/v1/nodes`)).status, 401)
    // The site's private key exists nowhere on disk in the clear: every PEM private key
    // under the state dir belongs to the dev PKI (CA, key server, node), not to the site.
    const keyFiles = filesUnder(dir).filter((f) =>
      readFileSync(f, 'latin1').includes('PRIVATE KEY'),
    )
    assert.deepEqual(keyFiles.map((f) => f.slice(dir.length + 1)).sort(), [
      'pki/ca-key.pem',
      'pki/nodes/edge-local-key.pem',
      'pki/servers/keyserver-key.pem',
    ])
    // Sealing the key server makes new full handshakes fail.
    d.keyServer.seal()
    await assert.rejects(get(d.edgePort, ca))
  } finally {
    await d.close()
  }
  // A restart reuses the sealed keystore: no new key, same site certificate.
  const d2 = await up({ dir, ...EPHEMERAL_PORTS })
  try {
    assert.equal(d2.keyServer.listKeys().length, 1)
    const r = await get(d2.edgePort, readFileSync(join(dir, 'pki', 'ca.pem')))
    assert.equal(r.status, 200)
  } finally {
    await d2.close()
  }
})
