/**
 * Reports for the site owner (AP18) and privacy (AP20): edges report bounded
 * batches of per-zone counters and decision-log entries over mTLS; addresses
 * are stored only as keyed hashes; a z-score departure from the zone's norm
 * fires the webhook exactly once (2 h de-duplication); the zone's security
 * page renders in Chromium with JavaScript off and on (screenshots kept as artefacts).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startHarness, type Harness, type NodeCreds } from './harness.ts'
import { BACKENDS, nodeCall, stopPostgres } from './protection-helpers.ts'

after(() => stopPostgres())

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dirname, '../../../test-artifacts/control')
const FLOODER = '198.51.100.23'

async function zoneWithNode(h: Harness): Promise<NodeCreds> {
  await h.call('PUT', '/v1/regions/ua-kyiv', { name: 'Kyiv', country: 'UA' })
  await h.call('POST', '/v1/orgs', {
    id: 'hromadske',
    name: 'Hromadske',
    country: 'UA',
    region: 'ua-kyiv',
  })
  const z = await h.call('POST', '/v1/zones', {
    id: 'hr-web',
    orgId: 'hromadske',
    hostnames: ['hromadske.example'],
    origin: 'https://origin.hromadske.example',
  })
  assert.equal(z.status, 201, JSON.stringify(z.body))
  return h.enrol('edge-1', 'ua-kyiv')
}

const nowBucket = (): number => Math.floor(Date.now() / 10_000) * 10

/** Four hours of ordinary traffic, one row a minute (about 100 requests each). */
function baseline(): { zoneId: string; at: number; rule: string; action: string; count: number }[] {
  const now = nowBucket()
  return [...Array(235).keys()].map((i) => {
    const k = i + 6
    return { zoneId: 'hr-web', at: now - k * 60, rule: '-', action: 'pass', count: 100 + (k % 7) }
  })
}

/** The last 40 s: a login flood, mostly rate-limited. */
function spike(): {
  counters: { zoneId: string; at: number; rule: string; action: string; count: number }[]
  clients: { zoneId: string; at: number; ip: string; action: string; count: number }[]
} {
  const now = nowBucket()
  const ats = [now - 30, now - 20, now - 10, now]
  return {
    counters: ats.flatMap((at, i) => [
      { zoneId: 'hr-web', at, rule: 'rl-login', action: 'rate-limit', count: 4000 + i * 1000 },
      { zoneId: 'hr-web', at, rule: '-', action: 'pass', count: 150 },
      { zoneId: 'hr-web', at, rule: 'rl-login', action: 'would-block', count: 7 },
    ]),
    clients: ats.map((at) => ({
      zoneId: 'hr-web',
      at,
      ip: FLOODER,
      action: 'rate-limit',
      count: 3000,
    })),
  }
}

for (const be of BACKENDS) {
  test(
    `zone stats (${be.name}): bounded ingestion, keyed hashes only, report figures, one webhook per anomaly`,
    { skip: be.skip ?? false, timeout: 60_000 },
    async (t) => {
      const hooks: Record<string, unknown>[] = []
      const receiver = createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
          res.end('ok')
        })
      })
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
      t.after(
        () =>
          new Promise<void>((r) => {
            receiver.close(() => {
              r()
            })
          }),
      )
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

      const h = await startHarness({ database: await be.database(t) })
      t.after(() => h.close())
      const creds = await zoneWithNode(h)
      const put = await h.call('PUT', '/v1/zones/hr-web/alert', { webhookUrl: hookUrl })
      assert.equal(put.status, 200, JSON.stringify(put.body))

      // Bounds and validation.
      const tooMany = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: Array(2001).fill({
          zoneId: 'hr-web',
          at: nowBucket(),
          rule: 'r',
          action: 'pass',
          count: 1,
        }),
      })
      assert.equal(tooMany.status, 400)
      assert.match(JSON.stringify(tooMany.body), /counters/)
      const misaligned = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: [{ zoneId: 'hr-web', at: nowBucket() + 3, rule: 'r', action: 'pass', count: 1 }],
      })
      assert.equal(misaligned.status, 400)
      const unknownAction = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: [{ zoneId: 'hr-web', at: nowBucket(), rule: 'r', action: 'explode', count: 1 }],
      })
      assert.equal(unknownAction.status, 400)
      assert.match(
        JSON.stringify(unknownAction.body),
        /counters\.0\.action: Expected an action: allow, block/,
      )
      const mixed = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: [
          { zoneId: 'nope', at: nowBucket(), rule: 'r', action: 'pass', count: 1 },
          { zoneId: 'hr-web', at: nowBucket() - 2 * 86_400, rule: 'r', action: 'pass', count: 1 },
        ],
        clients: [
          { zoneId: 'hr-web', at: nowBucket(), ip: 'not-an-ip', action: 'block', count: 1 },
        ],
      })
      assert.deepEqual(mixed.body, {
        accepted: 0,
        dropped: { unknownZone: 1, outOfWindow: 1, overCap: 0, badAddress: 1 },
      })

      // The per-bucket cap: 64 distinct (rule, action) rows, then new ones are dropped;
      // an existing row is still added to.
      const capAt = nowBucket() - 12 * 3600
      const capped = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: [
          ...[...Array(70).keys()].map((i) => ({
            zoneId: 'hr-web',
            at: capAt,
            rule: `r${i}`,
            action: 'block',
            count: 1,
          })),
          { zoneId: 'hr-web', at: capAt, rule: 'r0', action: 'block', count: 1 },
        ],
      })
      assert.deepEqual(capped.body, {
        accepted: 65,
        dropped: { unknownZone: 0, outOfWindow: 0, overCap: 6, badAddress: 0 },
      })
      const again = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', {
        counters: [
          { zoneId: 'hr-web', at: capAt, rule: 'r69', action: 'block', count: 1 },
          { zoneId: 'hr-web', at: capAt, rule: 'r1', action: 'block', count: 1 },
        ],
      })
      assert.deepEqual(again.body['dropped'], {
        unknownZone: 0,
        outOfWindow: 0,
        overCap: 1,
        badAddress: 0,
      })
      const capRows = await h.cp.app.store.driver.all(
        'SELECT rule, count FROM zone_stats WHERE zone_id = ? AND bucket = ? ORDER BY rule',
        ['hr-web', capAt],
      )
      assert.equal(capRows.length, 64)
      assert.equal(Number(capRows.find((r) => r['rule'] === 'r0')?.['count']), 2)
      assert.equal(Number(capRows.find((r) => r['rule'] === 'r1')?.['count']), 2)

      // Ordinary traffic: no alert.
      const base = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', { counters: baseline() })
      assert.equal(base.body['accepted'], 235, JSON.stringify(base.body))
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(hooks.length, 0)

      // The flood: one webhook, however often edges report it.
      const flood = spike() // one set of buckets, reported three times
      for (let i = 0; i < 3; i++) {
        const r = await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', flood)
        assert.equal(r.status, 200, JSON.stringify(r.body))
      }
      const deadline = Date.now() + 5000
      const fired = (): boolean => hooks.length > 0
      while (!fired() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      await new Promise((r) => setTimeout(r, 500))
      assert.equal(hooks.length, 1, `webhooks: ${JSON.stringify(hooks)}`)
      const hook = hooks[0] ?? {}
      assert.equal(hook['type'], 'zone.traffic_anomaly')
      assert.equal(hook['zoneId'], 'hr-web')
      assert.ok(Number(hook['zScore']) >= 3.5)
      console.log(`# ${be.name}: webhook fired once: ${JSON.stringify(hook)}`)

      // The report: 3 reports of the spike were summed.
      const rep = (await h.call('GET', '/v1/zones/hr-web/security?hours=6')).body as {
        totals: { rejected: number; requests: number }
        peak: { rps: number }
        topRules: { rule: string; action: string; count: number }[]
        topClients: { ipHash: string; count: number }[]
        attacks: { peakRps: number; rules: string[] }[]
      }
      const rejected = 3 * (4000 + 5000 + 6000 + 7000)
      assert.equal(rep.totals.rejected, rejected)
      assert.equal(rep.peak.rps, (3 * (7000 + 150)) / 10)
      assert.deepEqual(rep.topRules[0], { rule: 'rl-login', action: 'rate-limit', count: rejected })
      assert.equal(rep.attacks.length, 1)
      assert.deepEqual(rep.attacks[0]?.rules, ['rl-login'])

      // AP20: the address is stored only as its keyed hash.
      const hash = (await h.call('POST', '/v1/ip-hash', { ip: FLOODER })).body['ipHash']
      assert.match(String(hash), /^[0-9a-f]{32}$/)
      assert.deepEqual(rep.topClients, [{ ipHash: hash, count: 4 * 3 * 3000 }])
      const drv = h.cp.app.store.driver
      for (const table of ['records', 'meta', 'audit', 'zone_stats', 'zone_clients', 'tokens']) {
        const dump = JSON.stringify(await drv.all(`SELECT * FROM ${table}`))
        assert.doesNotMatch(dump, /198\.51\.100\.23/, `raw address in table ${table}`)
      }
    },
  )
}

for (const js of [false, true]) {
  test(
    `zone security page with JavaScript ${js ? 'on' : 'off'}: timeline, peak rate, top rule, rejected count, under-attack state`,
    {
      skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install -y chromium)`,
      timeout: 90_000,
    },
    async (t) => {
      mkdirSync(ARTIFACTS, { recursive: true })
      const h = await startHarness()
      t.after(() => h.close())
      const creds = await zoneWithNode(h)
      await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', { counters: baseline() })
      await nodeCall(h, creds, 'POST', '/node/v1/zone-stats', spike())
      await h.call('POST', '/v1/zones/hr-web/under-attack', { ttlSeconds: 3600 })

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      t.after(() => browser.close())
      const context = await browser.newContext({
        javaScriptEnabled: js,
        viewport: { width: 1000, height: 1400 },
      })
      const page = await context.newPage()
      const cspViolations: string[] = []
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
      })
      await page.goto(`${h.cp.url}/ui/login`)
      await page.fill('input[name=token]', h.token)
      await page.click('button')
      await page.goto(`${h.cp.url}/ui/zones`)
      await page.click('a[href="/ui/zones/hr-web/security"]')
      assert.match(page.url(), /\/ui\/zones\/hr-web\/security$/)
      const rejected = 4000 + 5000 + 6000 + 7000
      assert.equal(await page.textContent('#rejected'), String(rejected))
      assert.equal(await page.textContent('#peak'), `${(7000 + 150) / 10} req/s`)
      assert.match((await page.textContent('#status')) ?? '', /Under attack: on until/)
      const main = (await page.textContent('main')) ?? ''
      assert.match(main, /rl-login\s*rate-limit\s*22000/)
      assert.doesNotMatch(main, /198\.51\.100\.23/)
      assert.ok((await page.locator('svg rect').count()) > 10)
      await page.screenshot({
        path: join(ARTIFACTS, `zone-security${js ? '-js' : ''}.png`),
        fullPage: true,
      })

      // The self-service switch: plain forms with the session's CSRF token.
      await page.click('form[action="/ui/zones/hr-web/calm"] button')
      assert.match(page.url(), /\/ui\/zones\/hr-web\/security$/)
      assert.match((await page.textContent('#status')) ?? '', /Under attack: off/)
      await page.selectOption('select[name=ttlSeconds]', '900')
      await page.click('form[action="/ui/zones/hr-web/under-attack"] button')
      assert.match((await page.textContent('#status')) ?? '', /Under attack: on until/)
      const ua = (await h.call('GET', '/v1/decisions')).body['decisions'] as { expiresAt: string }[]
      assert.ok(Math.abs(Date.parse(ua[0]?.expiresAt ?? '') - Date.now() - 900_000) < 10_000)
      const entries = (await h.call('GET', '/v1/audit')).body['entries'] as {
        action: string
        actor: string
      }[]
      assert.ok(
        entries.some((e) => e.action === 'under-attack.clear' && e.actor.endsWith('via dashboard')),
      )
      // A forged form (no CSRF token) changes nothing.
      const forged = await page.request.post(`${h.cp.url}/ui/zones/hr-web/calm`, {
        form: { csrf: 'x' },
      })
      assert.equal(forged.status(), 403)
      assert.match((await page.textContent('#status')) ?? '', /on until/)
      assert.deepEqual(cspViolations, [])
    },
  )
}
