import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { up, type LocalDeployment } from '../src/up.ts'

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

/** Two ports free right now, so a restart can find its control plane at the same URLs. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((r) => {
          const srv = createServer()
          srv.listen(0, '127.0.0.1', () => {
            r(srv)
          })
        }),
    ),
  )
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port)
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))))
  return ports
}

async function api(
  d: LocalDeployment,
  method: string,
  path: string,
): Promise<Record<string, unknown>> {
  const token = readFileSync(join(d.dir, 'control', 'admin-token'), 'utf8')
  const res = await fetch(d.control.url + path, {
    method,
    headers: { authorization: `Bearer ${token}` },
  })
  assert.ok(res.status < 300, `${method} ${path}: ${res.status}`)
  return (await res.json()) as Record<string, unknown>
}

interface NodeView {
  id: string
  state: string
  region: string
  lastLease?: string
}

test('up() runs the edge as an enrolled node of the control plane; the site key stays in the key server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-up-'))
  const [controlPort = 0, controlNodePort = 0] = await freePorts(2)
  const ports = { ...EPHEMERAL_PORTS, controlPort, controlNodePort }
  const ca = (): Buffer => readFileSync(join(dir, 'pki', 'ca.pem'))
  const d = await up({ dir, ...ports })
  try {
    const r = await get(d.edgePort, ca())
    assert.equal(r.status, 200)
    assert.match(r.body, /You asked for \/hello via https/)
    assert.equal(d.keyServer.listKeys().length, 1)
    assert.ok(
      d.lines.some((l) => l.startsWith('curl ')),
      'prints a curl command on a line of its own',
    )
    const dash = d.lines.find((l) => l.startsWith('dashboard: '))
    assert.ok(dash, 'prints the dashboard URL on a line of its own')
    assert.ok(d.lines.some((l) => l.startsWith('admin token: ')))
    assert.ok(d.lines.some((l) => l.includes(`nodes kill ${d.nodeId}`)))
    // The admin token in the state dir opens the control-plane API; no token does not.
    const token = readFileSync(join(dir, 'control', 'admin-token'), 'utf8')
    const url = dash.slice('dashboard: '.length).replace(/\/ui$/, '')
    const authorized = await fetch(`${url}/v1/nodes`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(authorized.status, 200)
    assert.equal((await fetch(`${url}/v1/nodes`)).status, 401)

    // The edge is an enrolled node: active in the registry with a recent lease, and it
    // serves the zone made through the API (not a static config).
    assert.equal(d.enrolled, true)
    const nodes = (await api(d, 'GET', '/v1/nodes'))['nodes'] as NodeView[]
    const me = nodes.find((n) => n.id === d.nodeId)
    assert.equal(me?.state, 'active')
    assert.equal(me.region, 'eu-central')
    assert.ok(me.lastLease !== undefined, 'has a lease')
    assert.ok(Date.now() - Date.parse(me.lastLease) < 30_000, `recent lease: ${me.lastLease}`)
    const zones = (await api(d, 'GET', '/v1/zones'))['zones'] as {
      id: string
      hostnames: string[]
      origin: string
    }[]
    const zone = zones.find((z) => z.id === 'localhost')
    assert.deepEqual(zone?.hostnames, ['localhost'])
    assert.equal(zone.origin, `http://127.0.0.1:${d.origin.address.port}`)
    assert.equal(d.node.agent.status.state, 'serving')

    // The site's private key exists nowhere on disk in the clear: every PEM private key
    // under the state dir belongs to the dev PKI (CA, key server, clients) or is the dev
    // bundle-signing key; the node's identity is only in its sealed JWE.
    const keyFiles = filesUnder(dir).filter((f) =>
      readFileSync(f, 'latin1').includes('PRIVATE KEY'),
    )
    assert.deepEqual(keyFiles.map((f) => f.slice(dir.length + 1)).sort(), [
      'control/bundle-key.pem',
      'pki/ca-key.pem',
      'pki/nodes/edge-local-key.pem',
      'pki/nodes/keyserver-feed-key.pem',
      'pki/servers/keyserver-key.pem',
    ])
    assert.match(readFileSync(join(dir, 'edge', 'node', 'identity.jwe'), 'ascii'), /^ey/)
  } finally {
    await d.close()
  }

  // A restart reuses the sealed keystore and the enrolment: the node unlocks at the
  // control plane's Tang (low-risk region: no re-admission), no new registration.
  const d2 = await up({ dir, ...ports })
  try {
    assert.equal(d2.enrolled, false)
    assert.equal(d2.nodeId, d.nodeId)
    assert.equal(d2.keyServer.listKeys().length, 1)
    assert.equal((await get(d2.edgePort, ca())).status, 200)

    // Killing the node through the API bricks the edge: new handshakes fail within seconds.
    const t0 = Date.now()
    assert.equal(d2.keyServer.status().revoked, 0)
    const killed = await api(d2, 'POST', `/v1/nodes/${d2.nodeId}/kill`)
    // No push to an admin socket: the key server learns of the kill from the control
    // plane's revocation feed (long-poll over mTLS with a node-CA certificate).
    assert.deepEqual(killed['pushed'], [])
    let refused = false
    while (!refused && Date.now() - t0 < 5000) {
      refused = await get(d2.edgePort, ca()).then(
        () => false,
        () => true,
      )
      if (!refused) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(refused, 'the killed edge stopped serving new handshakes within 5 s')
    const st = await d2.node.bricked
    assert.equal(st.state, 'bricked')
    assert.equal(st.reason, 'operator_kill')
    while (d2.keyServer.status().revoked === 0 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(d2.keyServer.status().revoked, 1, 'the feed delivered the kill within 5 s')
  } finally {
    await d2.close()
  }

  // After a kill, the next start registers and enrols a new node and serves again.
  const d3 = await up({ dir, ...EPHEMERAL_PORTS })
  try {
    assert.equal(d3.enrolled, true)
    assert.notEqual(d3.nodeId, d.nodeId)
    assert.equal(d3.keyServer.listKeys().length, 1)
    assert.equal((await get(d3.edgePort, ca())).status, 200)
    // Sealing the key server makes new full handshakes fail.
    await d3.keyServer.seal()
    await assert.rejects(get(d3.edgePort, ca()))
  } finally {
    await d3.close()
  }
})
