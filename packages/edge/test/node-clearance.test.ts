/**
 * Shared clearance keys through real enrolled nodes (`outpost edge run --dir`, child
 * processes): a clearance cookie earned on edge A (proof of work solved against A's
 * challenge) is accepted by edge B of the same control plane and by B after a restart,
 * and refused once the control plane has rotated its key out of the history.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { solveWork } from '@outpost/protect'
import { NodeProcess, startWorld } from './node-helpers.ts'

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36'
const BROWSER = { 'user-agent': UA, accept: 'text/html,*/*;q=0.8' }

function get(
  addr: { host: string; port: number },
  ca: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: addr.host,
        port: addr.port,
        path,
        servername: 'shop.test',
        ca,
        agent: false,
        headers: { host: 'shop.test', ...BROWSER, ...headers },
      },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
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
    await new Promise((r) => setTimeout(r, 100))
  }
  return performance.now() - t0
}

test('enrolled nodes share clearance keys: a cookie from edge A passes edge B (and B restarted) until its key rotates out', async (t) => {
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
  const dirA = await w.enrol('edge-ca', 'eu-central')
  const dirB = await w.enrol('edge-cb', 'eu-central')
  const a = new NodeProcess(dirA)
  let b = new NodeProcess(dirB)
  t.after(async () => {
    await a.stop()
    await b.stop()
  })
  const addrA = await a.address()
  let addrB = await b.address()
  const ca = readFileSync(w.pki.caFile, 'utf8')

  await w.api('POST', '/v1/zones/shop/under-attack', { ttlSeconds: 600 })
  await within(8000, async () => (await get(addrA, ca, '/')).status === 403)
  await within(8000, async () => (await get(addrB, ca, '/')).status === 403)

  // Earn a clearance cookie on A the way a browser does: solve the page's proof of work.
  const page = await get(addrA, ca, '/')
  const m = /var C="([^"]+)",D=(\d+),U="([^"]+)"/.exec(page.body)
  assert.ok(m, `challenge page carries C, D, U: ${page.body.slice(0, 200)}`)
  const [, c = '', d = '0', u = ''] = m
  const verify = await get(
    addrA,
    ca,
    `${JSON.parse(`"${u}"`) as string}&n=${solveWork(c, Number(d))}`,
  )
  assert.equal(verify.status, 303, 'solved challenge redirects')
  const setCookie = verify.headers['set-cookie']?.[0] ?? ''
  const cookie = setCookie.split(';')[0] ?? ''
  assert.match(cookie, /^[\w-]+=[\w-]{46}$/)
  assert.equal((await get(addrA, ca, '/', { cookie })).status, 200, 'cleared on A')

  // B never saw this visitor: it accepts A's cookie (same control-plane key).
  assert.equal((await get(addrB, ca, '/', { cookie })).status, 200, 'A’s cookie passes B')
  assert.equal((await get(addrB, ca, '/')).status, 403, 'without it, B still challenges')

  // After a restart B holds the same keys again (from its first lease).
  await b.stop()
  b = new NodeProcess(dirB)
  addrB = await b.address()
  assert.equal((await get(addrB, ca, '/', { cookie })).status, 200, 'still valid after restart')

  // Rotate the control plane's key past the history: at B's next lease the cookie is refused.
  const keys = w.cp.app.clearanceKeys
  for (let i = 0; i <= keys.history; i++) keys.rotate()
  const ms = await within(
    15_000,
    async () => (await get(addrB, ca, '/', { cookie })).status === 403,
  )
  t.diagnostic(`rotated out on the control plane -> refused at edge B in ${ms.toFixed(0)} ms`)
})
