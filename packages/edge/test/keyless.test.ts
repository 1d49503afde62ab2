/**
 * The edge over our TLS 1.3 server with keyless signing against real key
 * servers (@outpost/keyserver) on loopback: serving, unknown SNI, failover with
 * one of two key servers down, fail-fast with all down while resumption keeps
 * working, and recovery.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import {
  initKeystore,
  startKeyServer,
  type KeyServer,
  type KeyServerConfigInput,
} from '@outpost/keyserver'
import { startEdge, type RunningEdge } from '../src/index.ts'
import { startOrigin, type Origin } from './harness.ts'
import { keylessPki } from './keyless-pki.ts'

interface World {
  dir: string
  siteCaPem: string
  keyServers: (KeyServer | undefined)[]
  ksConfigs: KeyServerConfigInput[]
  edge: RunningEdge
  origin: Origin
  port: number
}

async function startKs(
  config: KeyServerConfigInput,
  shares: string[],
  siteKey: Buffer,
): Promise<KeyServer> {
  const ks = await startKeyServer(config, {
    handleSighup: false,
    warn: () => undefined,
    env: {},
  })
  ks.unseal(shares[0]!)
  ks.unseal(shares[1]!)
  if (ks.listKeys().length === 0) ks.importKey(new Uint8Array(siteKey))
  return ks
}

async function setup(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-keyless-'))
  // The operator's node CA (mTLS between edge and key servers) and the customer's
  // certificate for site.test, whose key goes only to the key servers.
  const {
    write: w,
    caFile,
    ksCert,
    edgeNode,
    siteCaPem,
    site,
    chainFile,
    ski,
  } = await keylessPki(dir, { nodeId: 'edge-test-1', host: 'site.test' })
  const keyServers: KeyServer[] = []
  const ksConfigs: KeyServerConfigInput[] = []
  for (const i of [1, 2]) {
    const keystoreDir = join(dir, `keystore${i}`)
    const shares = initKeystore(keystoreDir, { shares: 3, threshold: 2 })
    const config: KeyServerConfigInput = {
      listen: '127.0.0.1:0',
      metricsListen: 'off',
      adminSocket: join(dir, `ks${i}.sock`),
      tls: {
        certFile: w(`ks${i}.pem`, ksCert.certPem),
        keyFile: w(`ks${i}-key.pem`, ksCert.keyPem),
        caFile,
      },
      keystore: { type: 'directory', dir: keystoreDir },
      audit: { file: join(dir, `audit${i}.jsonl`) },
      log: { level: 'silent' },
    }
    const ks = await startKs(config, shares, site.keyPem)
    keyServers.push(ks)
    // Later restarts reuse the same port and keystore (the key is already imported there).
    ksConfigs.push({ ...config, listen: `127.0.0.1:${ks.address.port}` })
    ;(ksConfigs.at(-1) as { shares?: string[] }).shares = shares
  }
  const origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'cache-control': 'no-store' })
    res.end(`origin saw ${req.url}`)
  })
  const edge = await startEdge(
    {
      listen: '127.0.0.1:0',
      sites: [
        {
          hosts: ['site.test'],
          origin: origin.url,
          certificates: [chainFile],
          key: { ski, pool: 'main' },
        },
      ],
      keyServers: {
        main: {
          servers: keyServers.map((k) => `127.0.0.1:${k.address.port}`),
          caFile,
          certFile: w('edge.pem', edgeNode.certPem),
          keyFile: w('edge-key.pem', edgeNode.keyPem),
        },
      },
      metrics: { listen: '127.0.0.1:0' },
    },
    {
      keyPools: {
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        connectTimeoutMs: 500,
        operationTimeoutMs: 2000,
      },
    },
  )
  const port = Number(edge.address.slice(edge.address.lastIndexOf(':') + 1))
  site.keyPem.fill(0)
  return { dir, siteCaPem, keyServers, ksConfigs, edge, origin, port }
}

async function teardown(w: World): Promise<void> {
  await w.edge.close()
  for (const k of w.keyServers) await k?.close()
  await w.origin.close()
  rmSync(w.dir, { recursive: true, force: true })
}

interface Hs {
  ok: boolean
  ms: number
  resumed: boolean
  error?: string
  session?: Buffer
  body?: string
}

/** One HTTPS/1.1 request over a fresh TLS connection; resolves with the outcome, never rejects. */
function get(w: World, o: { servername?: string; session?: Buffer } = {}): Promise<Hs> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    let session: Buffer | undefined
    let body = ''
    const s = tls.connect({
      host: '127.0.0.1',
      port: w.port,
      servername: o.servername ?? 'site.test',
      ca: w.siteCaPem,
      ALPNProtocols: ['http/1.1'],
      minVersion: 'TLSv1.3',
      ...(o.session !== undefined ? { session: o.session } : {}),
    })
    s.on('session', (b: Buffer) => (session ??= b))
    s.once('secureConnect', () => {
      s.write('GET /hello HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n')
    })
    s.setEncoding('utf8')
    s.on('data', (d: string) => (body += d))
    s.once('end', () => {
      resolve({
        ok: true,
        ms: performance.now() - t0,
        resumed: s.isSessionReused(),
        body,
        ...(session !== undefined ? { session } : {}),
      })
    })
    s.once('error', (e: Error) => {
      resolve({ ok: false, ms: performance.now() - t0, resumed: false, error: e.message })
    })
  })
}

test('keyless edge: HTTPS through our TLS server, signatures on two key servers, failover, fail-fast, resumption, recovery', async (t) => {
  const w = await setup()
  try {
    // Serving over TLS 1.3 with the remote key.
    const first = await get(w)
    assert.equal(first.ok, true, first.error)
    assert.match(first.body ?? '', /^HTTP\/1\.1 200 OK/)
    assert.match(first.body ?? '', /origin saw \/hello\r\n/)
    assert.ok(first.session, 'a session ticket arrived')

    // HTTP/2 by ALPN.
    const h2 = http2.connect(`https://127.0.0.1:${w.port}`, {
      servername: 'site.test',
      ca: w.siteCaPem,
    })
    const st = h2.request({ ':path': '/two', ':authority': 'site.test' })
    let h2body = ''
    st.setEncoding('utf8')
    st.on('data', (d: string) => (h2body += d))
    await new Promise((r) => st.once('end', r))
    assert.equal(h2body, 'origin saw /two')

    // Reload (certificates and key-server pools re-read) keeps the open h2 connection.
    await w.edge.reload()
    const st2 = h2.request({ ':path': '/after-reload', ':authority': 'site.test' })
    let again = ''
    st2.setEncoding('utf8')
    st2.on('data', (d: string) => (again += d))
    await new Promise((r) => st2.once('end', r))
    assert.equal(again, 'origin saw /after-reload')
    h2.close()
    const fresh = await get(w)
    assert.equal(fresh.ok, true, fresh.error)

    // Unknown SNI: refused on the ClientHello, no signature requested.
    const signsBefore = await signCount(w)
    const unknown = await get(w, { servername: 'other.test' })
    assert.equal(unknown.ok, false)
    assert.match(unknown.error ?? '', /unrecognized name|alert/i)
    assert.equal(await signCount(w), signsBefore)

    // One of two key servers down: new full handshakes keep succeeding, each well under 1 s.
    await w.keyServers[0]!.close()
    w.keyServers[0] = undefined
    let worst = 0
    for (let i = 0; i < 6; i++) {
      const r = await get(w)
      worst = Math.max(worst, r.ms)
      assert.equal(r.ok, true, r.error)
      assert.equal(r.resumed, false)
      assert.ok(r.ms < 1000, `handshake took ${r.ms} ms`)
    }

    // All down: a full handshake fails fast with an alert; resumption still works.
    await w.keyServers[1]!.close()
    w.keyServers[1] = undefined
    const down = await get(w)
    assert.equal(down.ok, false)
    assert.ok(down.ms < 2500, `failure took ${down.ms} ms`)
    t.diagnostic(`one key server down: slowest of 6 full handshakes ${worst.toFixed(1)} ms`)
    t.diagnostic(
      `all key servers down: full handshake failed after ${down.ms.toFixed(1)} ms (${down.error ?? ''})`,
    )
    const resumed = await get(w, { session: first.session })
    assert.equal(resumed.ok, true, resumed.error)
    assert.equal(resumed.resumed, true)
    assert.match(resumed.body ?? '', /origin saw \/hello\r\n/)

    // Recovery without operator action: a key server comes back on its port.
    const cfg = w.ksConfigs[1]! as KeyServerConfigInput & { shares: string[] }
    const { shares, ...config } = cfg
    w.keyServers[1] = await startKs(config, shares, Buffer.alloc(0))
    let back: Hs | undefined
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      back = await get(w)
      if (back.ok) break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(back?.ok, true, back?.error)
    t.diagnostic(
      `recovered ${(5000 - (deadline - Date.now())).toFixed(0)} ms after the key server restarted`,
    )
    assert.equal(back.resumed, false)

    const text = await (await fetch(`http://${w.edge.metricsAddress!}/metrics`)).text()
    assert.match(text, /outpost_edge_tls_handshakes_total\{group="[^"]+",resumed="true"\} [1-9]/)
    assert.match(text, /outpost_edge_tls_handshakes_total\{group="[^"]+",resumed="false"\} [1-9]/)
    assert.match(text, /outpost_edge_keyless_errors_total\{code="[A-Z_]+"\} [1-9]/)
  } finally {
    await teardown(w)
  }
})

async function signCount(w: World): Promise<number> {
  const text = await (await fetch(`http://${w.edge.metricsAddress!}/metrics`)).text()
  let n = 0
  for (const m of text.matchAll(/^outpost_edge_keyless_sign_seconds_count\{[^}]*\} (\d+)$/gm))
    n += Number(m[1])
  return n
}
