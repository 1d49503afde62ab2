import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SignerBusyError, SignerQueue } from './signer-queue.ts'

function deferred(): { promise: Promise<number>; resolve: (n: number) => void } {
  let resolve!: (n: number) => void
  const promise = new Promise<number>((r) => (resolve = r))
  return { promise, resolve }
}

test('SignerQueue: runs maxInFlight, queues maxQueued, sheds the rest at once', async () => {
  const q = new SignerQueue({ maxInFlight: 2, maxQueued: 1, queueDeadlineMs: 10_000 })
  const jobs = [deferred(), deferred(), deferred()]
  let started = 0
  const runs = jobs.map((j) =>
    q.run(() => {
      started++
      return j.promise
    }),
  )
  assert.equal(started, 2)
  assert.equal(q.inFlight, 2)
  assert.equal(q.queued, 1)
  await assert.rejects(
    q.run(() => Promise.resolve(0)),
    (e: unknown) => e instanceof SignerBusyError && e.shedReason === 'signer_queue_full',
  )
  jobs[0]?.resolve(1)
  await runs[0]
  await new Promise((r) => setImmediate(r))
  assert.equal(started, 3, 'the queued job takes the freed slot')
  jobs[1]?.resolve(2)
  jobs[2]?.resolve(3)
  assert.deepEqual(await Promise.all(runs), [1, 2, 3])
  assert.equal(q.inFlight, 0)
  assert.equal(q.queued, 0)
})

test('SignerQueue: a queued job past its deadline is shed; an aborted one leaves the queue', async () => {
  const q = new SignerQueue({ maxInFlight: 1, maxQueued: 5, queueDeadlineMs: 50 })
  const blocker = deferred()
  const first = q.run(() => blocker.promise)
  const t0 = performance.now()
  await assert.rejects(
    q.run(() => Promise.resolve(0)),
    (e: unknown) => e instanceof SignerBusyError && e.shedReason === 'signer_deadline',
  )
  assert.ok(performance.now() - t0 >= 45)
  const ac = new AbortController()
  const aborted = q.run(() => Promise.resolve(0), ac.signal)
  assert.equal(q.queued, 1)
  ac.abort()
  await assert.rejects(aborted, /aborted/)
  assert.equal(q.queued, 0)
  blocker.resolve(7)
  assert.equal(await first, 7)
  assert.equal(q.inFlight, 0)
})
