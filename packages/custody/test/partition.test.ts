/**
 * Threat model P3 over a real network cut: the custody agent and the safe region sit in
 * two network namespaces of our own joined by a veth pair (10.213.0.0/30, traffic never
 * leaves them); `ip link set ... down` cuts the link; the agent must brick within
 * grace + 2 s of its last successful renewal. Needs root and iproute2.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lines, netnsSkip, vethLink } from './netns.ts'

const GRACE_MS = 2_000
const skip = netnsSkip()
if (skip !== false) process.stderr.write(`partition test skipped: ${skip}\n`)

test('network partition: agent bricks with lease_lost within grace + 2 s', { skip }, async (t) => {
  const tag = `opc${process.pid % 100000}`
  const nsA = `${tag}-edge`
  const nsB = `${tag}-safe`
  const dir = mkdtempSync(join(tmpdir(), 'custody-partition-'))
  const procs: ChildProcess[] = []
  const link = vethLink(tag, { ns: nsA, addr: '10.213.0.1' }, { ns: nsB, addr: '10.213.0.2' })
  try {
    const here = (f: string): string => new URL(f, import.meta.url).pathname
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsB,
        process.execPath,
        here('./partition-server.ts'),
        '10.213.0.2',
        '7500',
        join(dir, 'tang'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    procs.push(server)
    await new Promise<void>((resolve, reject) => {
      lines(server, (l) => {
        if (l === 'ready') resolve()
      })
      server.once('exit', (c) => {
        reject(new Error(`server exited ${c}`))
      })
    })
    const agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsA,
        process.execPath,
        here('./partition-agent.ts'),
        'http://10.213.0.2:7500',
        String(GRACE_MS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    procs.push(agent)
    const events: {
      event: string
      t: number
      reason?: string
      lastRenewal?: number
      zeroised?: boolean
    }[] = []
    const serving = new Promise<void>((resolve) => {
      lines(agent, (l) => {
        const e = JSON.parse(l) as (typeof events)[number]
        events.push(e)
        if (e.event === 'serving') resolve()
      })
    })
    const exited = new Promise<number | null>((r) => agent.once('exit', r))
    await serving
    await new Promise((r) => setTimeout(r, 1_000)) // a few renewals across the link
    const cutAt = Date.now()
    link.cut() // ip -n nsB link set <veth> down
    assert.equal(await exited, 0)
    const bricked = events.find((e) => e.event === 'bricked')
    const wiped = events.find((e) => e.event === 'wiped')
    assert.equal(bricked?.reason, 'lease_lost')
    assert.equal(wiped?.zeroised, true, 'identity key zeroised')
    const sinceRenewal = bricked.t - (wiped.lastRenewal ?? 0)
    assert.ok(wiped.lastRenewal !== undefined && wiped.lastRenewal > 0)
    assert.ok(sinceRenewal >= GRACE_MS - 50, `bricked too early: ${sinceRenewal} ms`)
    assert.ok(sinceRenewal <= GRACE_MS + 2_000, `last renewal → bricked ${sinceRenewal} ms`)
    assert.ok(bricked.t - cutAt <= GRACE_MS + 2_000, `cut → bricked ${bricked.t - cutAt} ms`)
    t.diagnostic(
      `grace ${GRACE_MS} ms: last renewal → bricked ${sinceRenewal} ms, cut → bricked ${bricked.t - cutAt} ms`,
    )
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    link.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
