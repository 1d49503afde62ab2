/**
 * Drives Debian's Chromium (playwright-core) through the challenge: a fresh context per
 * run, optional CPU throttling over CDP (`Emulation.setCPUThrottlingRate`, Lighthouse's
 * 4× mobile preset) or JavaScript disabled. Returns, per run, the solve time (challenge
 * page received → solution submitted) and the round trip (navigation → origin page).
 */
import { existsSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { createServer, type Server } from 'node:http'
import { chromium, type Browser } from 'playwright-core'
import { Protection, toNodeHandler } from '../src/index.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = (): boolean => existsSync(CHROMIUM)

export async function launch(): Promise<Browser> {
  return chromium.launch({
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
}

export interface Site {
  readonly url: string
  readonly protection: Protection
  /** Requests that reached the origin handler. */
  readonly served: string[]
  close(): Promise<void>
}

/** A node:http server with protection in front of a tiny origin; the zone is under attack. */
export async function startSite(
  config: object = { underAttack: { enabled: true } },
): Promise<Site> {
  const protection = new Protection({ defaults: config })
  const served: string[] = []
  const server: Server = createServer(
    toNodeHandler(
      protection,
      (req, res) => {
        served.push(req.url ?? '/')
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        res.end(`<!doctype html><title>origin</title><h1 id="origin">hello ${req.url ?? ''}</h1>`)
      },
      { zone: () => 'site' },
    ),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const a = server.address()
  const port = typeof a === 'object' && a !== null ? a.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    protection,
    served,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => {
          r()
        })
      }),
  }
}

export interface RunResult {
  /** Navigation start → the origin's page rendered (the whole round trip). */
  readonly ms: number
  /** Challenge page received → solution submitted (the solver's work in the browser). */
  readonly solveMs: number
  /** The next request with the clearance reached the origin without a challenge. */
  readonly nextPassed: boolean
}

export async function solveRun(
  browser: Browser,
  url: string,
  o: { throttle?: number; javaScript?: boolean; timeoutMs?: number },
): Promise<RunResult> {
  const context = await browser.newContext({ javaScriptEnabled: o.javaScript ?? true })
  try {
    const page = await context.newPage()
    if ((o.throttle ?? 1) !== 1) {
      const cdp = await context.newCDPSession(page)
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: o.throttle ?? 1 })
    }
    let challenged = NaN
    let submitted = NaN
    page.on('response', (r) => {
      if (r.status() === 403 && Number.isNaN(challenged)) challenged = performance.now()
    })
    page.on('request', (r) => {
      if (r.url().includes('/.outpost/challenge/') && Number.isNaN(submitted))
        submitted = performance.now()
    })
    const t0 = performance.now()
    await page.goto(`${url}/article`, { waitUntil: 'commit' })
    await page.waitForSelector('#origin', { timeout: o.timeoutMs ?? 15_000 })
    const ms = performance.now() - t0
    const next = await page.goto(`${url}/next`)
    const nextPassed =
      next?.status() === 200 && (await page.textContent('#origin'))?.includes('/next') === true
    return { ms, solveMs: submitted - challenged, nextPassed }
  } finally {
    await context.close()
  }
}

/** CPU load per core over the last minute (the CI machine is shared). */
export function loadFactor(): number {
  return Math.max(1, loadavg()[0] ?? 0) / Math.max(1, availableParallelism())
}

export const mean = (xs: readonly number[]): number =>
  xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
