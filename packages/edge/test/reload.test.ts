import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { loadEdgeConfig, startEdge } from '../src/index.ts'
import { ADMIN_TOKEN, adminTokenSha256, startOrigin } from './harness.ts'

function yaml(origin: string, cacheDir: string): string {
  return [
    'listen: 127.0.0.1:0',
    'plaintext: true',
    'sites:',
    '  - hosts: [site.test]',
    `    origin: ${origin}`,
    'cache:',
    `  dir: ${cacheDir}`,
    'admin:',
    '  listen: 127.0.0.1:0',
    `  tokenSha256: ${adminTokenSha256}`,
    '',
  ].join('\n')
}

test('reload under load: config swaps (SIGHUP path and admin API) fail no request and keep connections', async () => {
  const slow = { ms: 0 }
  const a = await startOrigin((_q, res) => {
    res.setHeader('cache-control', 'no-store')
    setTimeout(() => res.end('A'), slow.ms)
  })
  const b = await startOrigin((_q, res) => {
    res.setHeader('cache-control', 'no-store')
    res.end('B')
  })
  const dir = mkdtempSync(join(tmpdir(), 'edge-reload-'))
  const file = join(dir, 'edge.yaml')
  writeFileSync(file, yaml(a.url, join(dir, 'cache')))
  const edge = await startEdge(loadEdgeConfig(file), { configFile: file })
  const agent = new Agent({ connections: 4, keepAliveTimeout: 10_000 })
  const connections = new Set<unknown>()
  agent.on('connect', (_o, targets) => connections.add(targets))
  let ok = 0
  const failures: string[] = []
  const seen = new Set<string>()
  let running = true
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const r = await request(`http://${edge.address}/x`, {
          headers: { host: 'site.test' },
          dispatcher: agent,
        })
        const text = await r.body.text()
        if (r.statusCode !== 200) failures.push(`${r.statusCode} ${text.slice(0, 60)}`)
        else {
          ok++
          seen.add(text)
        }
      } catch (e) {
        failures.push(String(e))
      }
    }
  }
  try {
    const workers = [worker(), worker(), worker(), worker()]
    await new Promise((r) => setTimeout(r, 150))
    // A slow request to A is in flight while the config moves to B.
    slow.ms = 400
    const inflight = request(`http://${edge.address}/slow`, {
      headers: { host: 'site.test' },
    }).then(async (r) => ({
      status: r.statusCode,
      text: await r.body.text(),
    }))
    while (!a.seen.some((q) => q.url === '/slow')) await new Promise((r) => setTimeout(r, 5))
    for (let i = 0; i < 6; i++) {
      writeFileSync(file, yaml(i % 2 === 0 ? b.url : a.url, join(dir, 'cache')))
      if (i % 2 === 0)
        await edge.reload() // what SIGHUP does
      else {
        const r = await request(`http://${edge.adminAddress!}/reload`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
        assert.equal(r.statusCode, 200)
        await r.body.dump()
      }
      await new Promise((r) => setTimeout(r, 60))
    }
    slow.ms = 0
    writeFileSync(file, yaml(b.url, join(dir, 'cache')))
    await edge.reload()
    await new Promise((r) => setTimeout(r, 100))
    running = false
    await Promise.all(workers)
    const slowResult = await inflight
    assert.deepEqual(slowResult, { status: 200, text: 'A' })
    assert.deepEqual(failures, [])
    assert.ok(ok > 50, `only ${ok} requests`)
    assert.ok(seen.has('A') && seen.has('B'))
    // Keep-alive connections survived every reload (at most the pool's 4).
    assert.ok(connections.size <= 4, `${connections.size} connections`)
    const after = await request(`http://${edge.address}/x`, {
      headers: { host: 'site.test' },
      dispatcher: agent,
    })
    assert.equal(await after.body.text(), 'B')
  } finally {
    running = false
    await agent.close()
    await edge.close()
    await a.close()
    await b.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
