import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeTimers } from '../test/fake-timers.ts'
import { LeaseClient, type LeaseAnswer } from './lease.ts'
import type { BrickReason } from './state.ts'

interface Lost {
  reason: BrickReason
  extra: { seconds?: number; detail?: string }
  at: number
}

function harness(graceMs: number, intervalMs: number) {
  const timers = new FakeTimers()
  let answer: () => Promise<LeaseAnswer> = () => Promise.resolve({})
  const lost: Lost[] = []
  const renewed: number[] = []
  let calls = 0
  const lease = new LeaseClient({
    renew: () => {
      calls++
      return answer()
    },
    onLost: (reason, extra) => lost.push({ reason, extra, at: timers.now() }),
    onRenewed: (d) => renewed.push(d),
    graceMs,
    intervalMs,
    timers,
  })
  return {
    timers,
    lease,
    lost,
    renewed,
    calls: () => calls,
    setAnswer: (f: () => Promise<LeaseAnswer>) => {
      answer = f
    },
  }
}

test('renewals keep the node alive well past the grace', async () => {
  const h = harness(30_000, 5_000)
  h.lease.start()
  await h.timers.advance(120_000)
  assert.equal(h.lost.length, 0)
  assert.ok(h.calls() >= 24, `renewed ${h.calls()} times`)
  assert.equal(h.lease.deadline, h.lease.lastRenewal + 30_000)
})

test('control plane unreachable: lease_lost exactly grace after the last success', async () => {
  const h = harness(30_000, 5_000)
  h.lease.start()
  await h.timers.advance(10_000)
  const last = h.lease.lastRenewal
  h.setAnswer(() => Promise.reject(new Error('ECONNREFUSED')))
  await h.timers.advance(60_000)
  assert.equal(h.lost.length, 1)
  const l = h.lost[0]!
  assert.equal(l.reason, 'lease_lost')
  assert.equal(l.at - last, 30_000)
  assert.equal(l.extra.seconds, 30)
  const callsAtBrick = h.calls()
  await h.timers.advance(60_000)
  assert.equal(h.calls(), callsAtBrick, 'no renewals after the brick')
})

test('hung renewals (never resolve) cannot hold the node alive', async () => {
  const h = harness(10_000, 2_000)
  h.lease.start()
  await h.timers.advance(3_000)
  const last = h.lease.lastRenewal
  h.setAnswer(() => new Promise<LeaseAnswer>(() => undefined))
  await h.timers.advance(30_000)
  assert.equal(h.lost.length, 1)
  assert.ok(h.lost[0]!.at - last <= 10_000)
})

test('the first renewal must succeed within the grace', async () => {
  const h = harness(5_000, 1_000)
  h.setAnswer(() => Promise.reject(new Error('down')))
  h.lease.start()
  await h.timers.advance(5_000)
  assert.equal(h.lost[0]?.reason, 'lease_lost')
})

test('a kill answer bricks at once with its reason', async () => {
  const h = harness(30_000, 5_000)
  h.lease.start()
  await h.timers.advance(6_000)
  h.setAnswer(() => Promise.resolve({ kill: 'revoked', detail: 'node revoked by ops' }))
  const t0 = h.timers.now()
  await h.timers.advance(5_000)
  assert.equal(h.lost.length, 1)
  assert.equal(h.lost[0]!.reason, 'revoked')
  assert.equal(h.lost[0]!.extra.detail, 'node revoked by ops')
  assert.ok(h.lost[0]!.at - t0 <= 5_000)
})

test('a brief outage shorter than the grace is survived', async () => {
  const h = harness(30_000, 5_000)
  h.lease.start()
  await h.timers.advance(5_000)
  h.setAnswer(() => Promise.reject(new Error('blip')))
  await h.timers.advance(20_000)
  h.setAnswer(() => Promise.resolve({}))
  await h.timers.advance(60_000)
  assert.equal(h.lost.length, 0)
})

test('stop() ends renewals without bricking', async () => {
  const h = harness(5_000, 1_000)
  h.lease.start()
  await h.timers.advance(2_000)
  h.lease.stop()
  const n = h.calls()
  await h.timers.advance(60_000)
  assert.equal(h.lost.length, 0)
  assert.equal(h.calls(), n)
})

test('real time: grace 1 s, control plane gone → lease_lost within grace + 2 s', async () => {
  let up = true
  let lostAt = 0
  let lastOk = 0
  const done = new Promise<BrickReason>((resolve) => {
    const lease = new LeaseClient({
      renew: () => (up ? Promise.resolve({}) : Promise.reject(new Error('down'))),
      onRenewed: () => {
        lastOk = Date.now()
      },
      onLost: (reason) => {
        lostAt = Date.now()
        resolve(reason)
      },
      graceMs: 1_000,
      intervalMs: 200,
    })
    lease.start()
  })
  await new Promise((r) => setTimeout(r, 600))
  up = false
  assert.equal(await done, 'lease_lost')
  const elapsed = lostAt - lastOk
  assert.ok(lastOk > 0 && elapsed >= 900 && elapsed <= 3_000, `elapsed ${elapsed} ms`)
})

test('real time: a kill answer bricks within 1 s of the answer', async () => {
  let answeredAt = 0
  let lostAt = 0
  let n = 0
  const reason = await new Promise<BrickReason>((resolve) => {
    new LeaseClient({
      renew: () => {
        n++
        if (n < 3) return Promise.resolve({})
        answeredAt = Date.now()
        return Promise.resolve({ kill: 'operator_kill' as const })
      },
      onLost: (r) => {
        lostAt = Date.now()
        resolve(r)
      },
      graceMs: 30_000,
      intervalMs: 100,
    }).start()
  })
  assert.equal(reason, 'operator_kill')
  assert.ok(answeredAt > 0 && lostAt - answeredAt < 1_000, `${lostAt - answeredAt} ms`)
})
