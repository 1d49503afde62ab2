import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TransitionError } from './errors.ts'
import { BRICK_REASONS, CustodyMachine, canApply, TRANSITIONS } from './state.ts'

test('the happy path: sealed → unlocked → serving → bricked → (readmit) sealed', () => {
  let t = 1000
  const m = new CustodyMachine({ now: () => t })
  const seen: string[] = []
  m.onChange((s) => seen.push(s.state))
  assert.equal(m.status.state, 'sealed')
  m.unlock()
  t = 2000
  m.serve(32_000)
  t = 3000
  m.serve(33_000)
  assert.deepEqual(m.status, { state: 'serving', since: 2000, leaseExpiresAt: 33_000 })
  t = 40_000
  m.brick('lease_lost', { seconds: 38 })
  assert.deepEqual(m.status, { state: 'bricked', since: 40_000, reason: 'lease_lost', seconds: 38 })
  m.readmit()
  assert.equal(m.status.state, 'sealed')
  assert.deepEqual(seen, ['unlocked', 'serving', 'serving', 'bricked', 'sealed'])
})

test('a bricked node stays bricked: unlock, serve and seal are refused, first reason kept', () => {
  const m = new CustodyMachine()
  m.brick('tamper')
  assert.throws(() => m.unlock(), TransitionError)
  assert.throws(() => m.serve(Date.now() + 1000), TransitionError)
  assert.throws(() => m.seal(), TransitionError)
  m.brick('operator_kill')
  assert.equal(m.status.state === 'bricked' && m.status.reason, 'tamper')
})

test('serving needs an unlock first; readmit only from bricked', () => {
  const m = new CustodyMachine()
  assert.throws(() => m.serve(1), /Cannot serve a node that is sealed/)
  assert.throws(() => m.readmit(), /Cannot readmit a node that is sealed/)
})

test('random operation sequences follow the transition table and never leave bricked alone', () => {
  const ops = ['unlock', 'serve', 'seal', 'readmit', ...BRICK_REASONS] as const
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...ops), { maxLength: 30 }), (seq) => {
      const m = new CustodyMachine()
      for (const op of seq) {
        const from = m.status.state
        try {
          if (op === 'unlock') m.unlock()
          else if (op === 'serve') m.serve(1)
          else if (op === 'seal') m.seal()
          else if (op === 'readmit') m.readmit()
          else m.brick(op)
        } catch (e) {
          assert.ok(e instanceof TransitionError)
          assert.equal(m.status.state, from, 'a refused transition changes nothing')
          continue
        }
        const kind =
          op === 'unlock' || op === 'serve' || op === 'seal' || op === 'readmit' ? op : 'brick'
        const to = m.status.state
        if (from === 'bricked' && kind === 'brick') assert.equal(to, 'bricked')
        else {
          assert.ok(canApply(kind, from), `${kind} from ${from}`)
          assert.equal(to, TRANSITIONS[kind].to)
        }
        if (from === 'bricked') assert.ok(to === 'bricked' || op === 'readmit')
      }
    }),
  )
})
