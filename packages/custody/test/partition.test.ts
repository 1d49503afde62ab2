/**
 * Threat model P3 over a real network cut: the custody agent and the safe region sit in
 * two network namespaces of our own joined by a veth pair (10.213.0.0/30, traffic never
 * leaves them); `ip link set ... down` cuts the link; the agent must brick within
 * grace + 2 s of its last successful renewal. Needs root and iproute2.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const GRACE_MS = 2_000
const hasIp = spawnSync('ip', ['-V']).status === 0
const skip =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces)'
    : !hasIp
      ? 'needs iproute2 (ip)'
      : false

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

function lines(p: ChildProcess, onLine: (l: string) => void): void {
  if (p.stdout) createInterface({ input: p.stdout }).on('line', onLine)
}

test('network partition: agent bricks with lease_lost within grace + 2 s', { skip }, async (t) => {
  const tag = `opc${process.pid % 100000}`
  const nsA = `${tag}-edge`
  const nsB = `${tag}-safe`
  const dir = mkdtempSync(join(tmpdir(), 'custody-partition-'))
  const procs: ChildProcess[] = []
  try {
    ip('netns', 'add', nsA)
    ip('netns', 'add', nsB)
    ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`)
    ip('link', 'set', `${tag}a`, 'netns', nsA)
    ip('link', 'set', `${tag}b`, 'netns', nsB)
    ip('-n', nsA, 'addr', 'add', '10.213.0.1/30', 'dev', `${tag}a`)
    ip('-n', nsB, 'addr', 'add', '10.213.0.2/30', 'dev', `${tag}b`)
    for (const [ns, dev] of [
      [nsA, `${tag}a`],
      [nsB, `${tag}b`],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'link', 'set', dev, 'up')
    }
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
    ip('-n', nsB, 'link', 'set', `${tag}b`, 'down')
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
    spawnSync('ip', ['netns', 'del', nsA])
    spawnSync('ip', ['netns', 'del', nsB])
    rmSync(dir, { recursive: true, force: true })
  }
})
