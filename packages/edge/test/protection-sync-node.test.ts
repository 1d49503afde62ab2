/**
 * The protection loop through a real enrolled node (`outpost edge run --dir`, a child
 * process): a ban and an "under attack" switch set through the control plane's API
 * take effect at the node within 5 s, and the node's stats reach the zone report.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { NodeProcess, startWorld } from './node-helpers.ts'

interface Reply {
  readonly status: number
  readonly type: string
}

/** One HTTPS GET from a chosen loopback source address (a fresh connection each time). */
function get(
  addr: { host: string; port: number },
  ca: string,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: addr.host,
        port: addr.port,
        path: '/',
        servername: 'shop.test',
        ca,
        agent: false,
        localAddress,
        headers: { host: 'shop.test', ...headers },
      },
      (res) => {
        res.resume()
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '' })
        })
      },
    )
    r.on('error', reject)
    r.end()
  })
}

async function within(ms: number, f: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now()
  while (!(await f())) {
    if (performance.now() - t0 > ms) assert.fail(`not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return performance.now() - t0
}

const BROWSER = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
  accept: 'text/html,*/*;q=0.8',
}

test('enrolled node: ban and under-attack from the API within 5 s; node stats in the zone report', async (t) => {
  const w = await startWorld()
  t.after(() => w.close())
  await w.api('PUT', '/v1/regions/eu-central', {
    name: 'Frankfurt',
    country: 'DE',
    rebootNeedsReadmission: false,
  })
  await w.api('POST', '/v1/orgs', {
    id: 'acme',
    name: 'Acme Media',
    country: 'DE',
    region: 'eu-central',
    plan: 'free',
  })
  await w.zone('shop', 'shop.test', 'api')
  const dir = await w.enrol('edge-p', 'eu-central')
  const node = new NodeProcess(dir)
  t.after(() => node.stop())
  const addr = await node.address()
  const ca = readFileSync(w.pki.caFile, 'utf8')
  assert.equal((await get(addr, ca, '127.0.0.2')).status, 200)

  const t0 = performance.now()
  await w.api('POST', '/v1/bans', { prefix: '127.0.0.2/32', zoneId: 'shop', ttlSeconds: 600 })
  let refused = 0
  await within(5000, async () => {
    const s = (await get(addr, ca, '127.0.0.2')).status
    if (s === 403) refused++
    return s === 403
  })
  const banMs = performance.now() - t0
  t.diagnostic(`node: ban API call → 403 at the node in ${banMs.toFixed(0)} ms (limit 5000)`)
  assert.ok(banMs <= 5000)
  assert.equal((await get(addr, ca, '127.0.0.3')).status, 200)

  const t1 = performance.now()
  await w.api('POST', '/v1/zones/shop/under-attack', { ttlSeconds: 600 })
  await within(5000, async () => (await get(addr, ca, '127.0.0.3', BROWSER)).status === 403)
  t.diagnostic(
    `node: under-attack API call → challenge at the node in ${(performance.now() - t1).toFixed(0)} ms`,
  )
  assert.match((await get(addr, ca, '127.0.0.3', BROWSER)).type, /^text\/html/)
  const api = await get(addr, ca, '127.0.0.3', { accept: 'application/json' })
  assert.equal(api.status, 403)
  assert.doesNotMatch(api.type, /html/)

  // The node posts 1 s after each 10 s boundary: the ban shows up within ~11 s.
  await within(15_000, async () => {
    const r = await w.api('GET', '/v1/zones/shop/security?hours=1')
    const totals = r['totals'] as { rejected: number } | undefined
    return (totals?.rejected ?? 0) >= refused
  })
  const report = await w.api('GET', '/v1/zones/shop/security?hours=1')
  const byAction = new Map(
    (report['byAction'] as { action: string; count: number }[]).map((a) => [a.action, a.count]),
  )
  assert.equal(byAction.get('ban'), refused)
  assert.ok((byAction.get('challenge') ?? 0) >= 2)
  assert.doesNotMatch(JSON.stringify(report), /127\.0\.0\./)
})
