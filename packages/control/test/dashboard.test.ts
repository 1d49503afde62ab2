/**
 * The dashboard end to end in Debian's Chromium, with JavaScript disabled and
 * enabled (the pages are plain forms and must work either way): log in with a
 * token, create an organisation, revoke a node through the confirmation page.
 * Screenshots go to test-artifacts/control/.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startHarness } from './harness.ts'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dirname, '../../../test-artifacts/control')

for (const js of [false, true]) {
  test(
    `dashboard with JavaScript ${js ? 'on' : 'off'}: login, create an organisation, revoke a node via the confirmation`,
    {
      skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install -y chromium)`,
      timeout: 90_000,
    },
    async (t) => {
      mkdirSync(ARTIFACTS, { recursive: true })
      const h = await startHarness()
      t.after(() => h.close())
      await h.call('PUT', '/v1/regions/ua-kyiv', { name: 'Kyiv', country: 'UA' })
      await h.enrol('edge-9', 'ua-kyiv')

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      t.after(() => browser.close())
      const context = await browser.newContext({ javaScriptEnabled: js })
      const page = await context.newPage()
      const cspViolations: string[] = []
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
      })

      // Pages need a session: the overview redirects to the login form.
      await page.goto(`${h.cp.url}/ui`)
      assert.match(page.url(), /\/ui\/login$/)
      await page.fill('input[name=token]', 'opt_' + '0'.repeat(64))
      await page.click('button')
      assert.match(page.url(), /error=1/)
      await page.fill('input[name=token]', h.token)
      await page.click('button')
      assert.match(page.url(), /\/ui$/)
      assert.match((await page.textContent('table')) ?? '', /ua-kyiv\s*0\s*1\s*0\s*0/)
      const cookie = (await context.cookies()).find((c) => c.name === 'outpost_session')
      assert.ok(cookie)
      assert.equal(cookie.httpOnly, true)
      assert.equal(cookie.sameSite, 'Strict')
      await page.screenshot({ path: join(ARTIFACTS, `1-overview${js ? '-js' : ''}.png`) })

      await page.goto(`${h.cp.url}/ui/orgs`)
      await page.fill('input[name=id]', 'novaya')
      await page.fill('input[name=name]', 'Novaya Gazeta Europe')
      await page.fill('input[name=country]', 'UA')
      await page.fill('input[name=region]', 'ua-kyiv')
      await page.selectOption('select[name=plan]', 'protected')
      await page.click('form[action="/ui/orgs"] button')
      assert.match((await page.textContent('table')) ?? '', /Novaya Gazeta Europe/)
      await page.screenshot({ path: join(ARTIFACTS, `2-orgs${js ? '-js' : ''}.png`) })
      const org = await h.call('GET', '/v1/orgs/novaya')
      assert.equal(org.body['plan'], 'protected')

      await page.goto(`${h.cp.url}/ui/nodes`)
      await page.click('a[href="/ui/nodes/edge-9/confirm?op=revoke"]')
      assert.match((await page.textContent('main')) ?? '', /Revoke node edge-9\?/)
      await page.screenshot({ path: join(ARTIFACTS, `3-confirm${js ? '-js' : ''}.png`) })
      await page.click('button.danger')
      assert.match(page.url(), /\/ui\/nodes$/)
      assert.match((await page.textContent('table')) ?? '', /edge-9\s*ua-kyiv\s*UA\s*revoked/)
      await page.screenshot({ path: join(ARTIFACTS, `4-revoked${js ? '-js' : ''}.png`) })

      // A forged form without the CSRF token is refused, and the audit names the dashboard.
      const forged = await context.request.post(`${h.cp.url}/ui/nodes/edge-9/kill`, {
        form: { csrf: 'x' },
      })
      assert.equal(forged.status(), 403)
      const audit = await h.call('GET', '/v1/audit')
      const revoke = (audit.body['entries'] as { action: string; actor: string }[]).find(
        (e) => e.action === 'node.revoke',
      )
      assert.match(revoke?.actor ?? '', /via dashboard/)
      // The session cookie does not authenticate the JSON API.
      const api = await context.request.get(`${h.cp.url}/v1/orgs`, {
        headers: { cookie: `outpost_session=${cookie.value}` },
      })
      assert.equal(api.status(), 401)
      assert.deepEqual(cspViolations, [])
    },
  )
}
