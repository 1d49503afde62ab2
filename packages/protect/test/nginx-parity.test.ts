/**
 * AP1: the engine's rate limit decides like nginx `limit_req` on the same trace.
 * The trace is sent to a real nginx (rate=10r/s burst=20 nodelay), which reports the
 * time it saw each request (`$msec`); the same timestamps are then replayed through
 * the engine and the pass/reject sequences compared request by request.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { Protection } from '../src/index.ts'
import { hasNginx, startNginx } from './nginx.ts'

/** Status and nginx's own request time (`$msec`, ms resolution). */
function get(agent: Agent, port: number, path = '/'): Promise<{ status: number; t: number }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume()
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          t: Math.round(Number(res.headers['x-msec']) * 1000),
        })
      })
    })
    r.on('error', reject)
    r.end()
  })
}

test(
  'AP1: same pass/reject sequence as nginx limit_req (rate=10r/s burst=20 nodelay)',
  { skip: hasNginx() ? false : 'nginx not installed (apt-get install nginx)', timeout: 30_000 },
  async () => {
    const ngx = await startNginx({ rate: '10r/s', limit: 'burst=20 nodelay' })
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      // Open the keep-alive connection on the unlimited /warm location, so the trace's
      // first request does not carry connection set-up time that nginx's clock would not see.
      for (let i = 0; i < 3; i++) await get(agent, ngx.port, '/warm')
      const trace: { t: number; status: number }[] = []
      for (let i = 0; i < 100; i++) trace.push(await get(agent, ngx.port))
      const t0 = trace[0]?.t ?? 0
      const burstMs = (trace[99]?.t ?? 0) - t0
      // Idle so that 10.5 tokens accrue since the last accepted request: far from a boundary.
      const lastOk = trace.filter((x) => x.status === 200).at(-1)?.t ?? t0
      await sleep(Math.max(0, lastOk + 1050 - Date.now()))
      assert.equal(Number.isFinite(lastOk), true, 'nginx sent X-Msec')
      for (let i = 0; i < 20; i++) trace.push(await get(agent, ngx.port))
      const nginxPass = trace.map((x) => x.status === 200)
      // The AP1 counts hold when the machine kept up (burst < 100 ms, idle 1.0–1.1 s).
      const idleMs = (trace[100]?.t ?? 0) - lastOk
      // A second burst slower than 50 ms earns an 11th token while it runs.
      const burst2Ms = (trace[119]?.t ?? 0) - (trace[100]?.t ?? 0)
      if (burstMs < 100) assert.equal(nginxPass.slice(0, 100).filter(Boolean).length, 21)
      if (idleMs >= 1000 && idleMs < 1100 && burst2Ms < 50)
        assert.equal(nginxPass.slice(100).filter(Boolean).length, 10)
      assert.equal(
        trace.every((x) => x.status === 200 || x.status === 429),
        true,
      )
      // The same trace through the engine.
      const p = new Protection({
        zones: {
          z: {
            rules: [{ id: 'r', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20 } }],
          },
        },
      })
      const ours = trace.map((x) => {
        const d = p.evaluate({
          zone: 'z',
          host: 'z',
          method: 'GET',
          path: '/',
          headers: {},
          ip: '127.0.0.1',
          now: x.t,
        })
        if (d.kind === 'respond') {
          assert.equal(d.status, 429)
          assert.ok(Number(d.headers['retry-after']) >= 1)
        }
        return d.kind === 'pass'
      })
      const show = (xs: boolean[]): string => xs.map((x) => (x ? '+' : '.')).join('')
      assert.equal(show(ours), show(nginxPass), `burst took ${burstMs} ms`)
    } finally {
      agent.destroy()
      await ngx.stop()
    }
  },
)
