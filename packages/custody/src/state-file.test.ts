import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { BRICK_REASONS, type CustodyStatus } from './state.ts'
import { readStateFile, writeStateFile } from './state-file.ts'

const time = fc.integer({ min: 0, max: 4_000_000_000_000 })
const status: fc.Arbitrary<CustodyStatus> = fc.oneof(
  fc.record({ state: fc.constant('sealed' as const), since: time }),
  fc.record({ state: fc.constant('unlocked' as const), since: time }),
  fc.record({ state: fc.constant('serving' as const), since: time, leaseExpiresAt: time }),
  fc.record(
    {
      state: fc.constant('bricked' as const),
      since: time,
      reason: fc.constantFrom(...BRICK_REASONS),
      seconds: fc.double({ min: 0, max: 1e6, noNaN: true }),
      detail: fc.string(),
    },
    { requiredKeys: ['state', 'since', 'reason'] },
  ),
)

test('state file round trip for every status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-state-'))
  try {
    const file = join(dir, 'sub', 'state.json')
    fc.assert(
      fc.property(status, (s) => {
        writeStateFile(file, s)
        // fast-check records have a null prototype; compare plain copies.
        assert.deepEqual(readStateFile(file).status, { ...s })
      }),
      { numRuns: 200 },
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a malformed state file is rejected, never misread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-state-'))
  try {
    const file = join(dir, 'state.json')
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        writeFileSync(file, JSON.stringify(v))
        try {
          const { status: s } = readStateFile(file)
          assert.ok(['sealed', 'unlocked', 'serving', 'bricked'].includes(s.state))
        } catch (e) {
          assert.ok(e instanceof Error)
        }
      }),
    )
    writeFileSync(file, JSON.stringify({ state: 'bricked', since: new Date().toISOString() }))
    assert.throws(() => readStateFile(file), /unknown reason/)
    writeFileSync(file, JSON.stringify({ state: 'serving', since: new Date().toISOString() }))
    assert.throws(() => readStateFile(file), /leaseExpiresAt/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
