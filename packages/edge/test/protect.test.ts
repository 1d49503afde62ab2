/**
 * Attack protection wired into the edge (packages/protect): a flood from one loopback
 * address is answered 429 by the edge without reaching the origin, while another
 * address is served; the top-level `protection` applies to sites without their own.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'node:http'
import type { ProtectionInput } from '@outpost/protect'
import { parseEdgeConfig } from '../src/config.ts'
import { startOrigin, startTestEdge } from './harness.ts'

const perIp: ProtectionInput = {
  rules: [{ id: 'per-ip', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20 } }],
}

/** GET through a node:http agent bound to a loopback source address (undici ignores localAddress). */
function get(
  base: string,
  agent: Agent,
  path = '/',
): Promise<{ status: number; retryAfter: string | undefined }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const r = request(
      { host: u.hostname, port: u.port, path, agent, headers: { host: 'site.test' } },
      (res) => {
        res.resume()
        res.on('end', () => {
          const ra = res.headers['retry-after']
          resolve({ status: res.statusCode ?? 0, retryAfter: ra })
        })
      },
    )
    r.on('error', reject)
    r.end()
  })
}

for (const frontDoor of [true, false]) {
  test(`a flood from one IP gets 429 + Retry-After while another IP is served (front door ${frontDoor ? 'on' : 'off'})`, async (t) => {
    const origin = await startOrigin()
    t.after(() => origin.close())
    const fx = await startTestEdge(origin.url, {
      sites: [{ hosts: ['site.test'], origin: origin.url, cache: false, protection: perIp }],
      limits: { http1: { frontDoor } },
    })
    t.after(() => fx.close())
    const flood = new Agent({ keepAlive: true, localAddress: '127.0.0.2' })
    const good = new Agent({ keepAlive: true, localAddress: '127.0.0.3' })
    t.after(() => {
      flood.destroy()
      good.destroy()
    })
    const statuses: number[] = []
    for (let i = 0; i < 100; i++) {
      const r = await get(fx.base, flood, `/f${i}`)
      statuses.push(r.status)
      if (r.status === 429) assert.ok(Number(r.retryAfter) >= 1)
    }
    const passed = statuses.filter((s) => s === 200).length
    assert.equal(statuses.filter((s) => s === 429).length, 100 - passed)
    // 21 at once, plus at most 10/s for however long the loop took on this machine.
    assert.ok(passed >= 21 && passed <= 40, `${passed} flood requests served`)
    const fromFlood = origin.seen.filter((s) => s.url.startsWith('/f')).length
    assert.equal(fromFlood, passed, 'rejected requests never reach the origin')
    for (let i = 0; i < 5; i++) assert.equal((await get(fx.base, good, `/g${i}`)).status, 200)
    // Every 429 is counted (the reject path records synchronously; counts reach
    // prom-client when it is scraped), served ones too.
    const text = await fx.edge.metrics.text()
    const count = (status: number): number =>
      Number(
        new RegExp(`outpost_edge_requests_total\\{[^}]*status="${status}"[^}]*\\} (\\d+)`).exec(
          text,
        )?.[1] ?? 0,
      )
    assert.equal(count(429), 100 - passed)
    assert.equal(count(200), passed + 5)
    // With the front door on, the 429s never reached node:http.
    const doorAnswers = Number(/outpost_edge_front_door_answers_total (\d+)/.exec(text)?.[1])
    assert.equal(doorAnswers, frontDoor ? 100 - passed : 0)
    const prom = fx.edge.config.sites[0]?.protection
    assert.ok(prom !== undefined)
  })
}

test('top-level protection applies to sites without their own; errors name the field', async (t) => {
  const origin = await startOrigin()
  t.after(() => origin.close())
  const fx = await startTestEdge(origin.url, {
    protection: { underAttack: { enabled: true } },
    sites: [{ hosts: ['site.test'], origin: origin.url, cache: false }],
  })
  t.after(() => fx.close())
  const html = await fx.get('/', { accept: 'text/html', 'user-agent': 'Mozilla/5.0 Firefox/140' })
  assert.equal(html.status, 403)
  assert.match(html.text, /Checking your connection/)
  assert.match(html.text, /http-equiv="refresh"/)
  const api = await fx.get('/', { accept: 'application/json', 'user-agent': 'python-httpx/0.28' })
  assert.equal(api.status, 403)
  assert.equal(api.headers['content-type'], 'application/json')
  assert.equal(origin.seen.length, 0)

  assert.throws(
    () =>
      parseEdgeConfig({
        plaintext: true,
        sites: [
          {
            hosts: ['a.test'],
            origin: 'http://127.0.0.1:1',
            protection: { rules: [{ id: 'x', action: 'rate-limit' }] },
          },
        ],
      }),
    /sites\.0\.protection\.rules\.0\.rateLimit: action "rate-limit" needs a rateLimit/,
  )
  const cfg = parseEdgeConfig({
    plaintext: true,
    protection: perIp,
    sites: [
      { hosts: ['a.test'], origin: 'http://127.0.0.1:1' },
      { hosts: ['b.test'], origin: 'http://127.0.0.1:1', protection: { enabled: false } },
    ],
  })
  assert.equal(cfg.sites[0]?.protection?.rules[0]?.id, 'per-ip')
  assert.equal(cfg.sites[1]?.protection?.enabled, false)
})
