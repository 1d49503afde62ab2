import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeTimers } from '../test/fake-timers.ts'
import { CustodyAgent, IDENTITY_SECRET } from './agent.ts'
import { UnlockError } from './errors.ts'
import type { LeaseAnswer } from './lease.ts'
import { readStateFile } from './state-file.ts'
import { clevisEncryptTang } from './tang/clevis.ts'
import { TangServer } from './tang/server.ts'

let dir: string
let tang: TangServer
let base: string
let jwe: string
let keyPem: Buffer

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custody-agent-'))
  tang = new TangServer({ dir: join(dir, 'tang') })
  base = await tang.listen()
  // DER, not PEM: export() returns PEM as a string, and keys never become strings.
  keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'der',
    type: 'pkcs8',
  })
  jwe = await clevisEncryptTang(keyPem, { url: `${base}/edge-1`, trustFirstUse: true })
})
after(async () => {
  await tang.close()
  rmSync(dir, { recursive: true, force: true })
})

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0)
// Through a function, so TypeScript does not narrow the state across awaits.
const stateOf = (a: CustodyAgent): string => a.status.state
const brickedOf = (a: CustodyAgent): { reason?: string; seconds?: number } => {
  const s = a.status
  return s.state === 'bricked' ? s : {}
}

function agentWith(over: Partial<ConstructorParameters<typeof CustodyAgent>[0]> = {}): {
  agent: CustodyAgent
  timers: FakeTimers
  setRenew: (f: () => Promise<LeaseAnswer>) => void
} {
  const timers = new FakeTimers()
  let renew: () => Promise<LeaseAnswer> = () => Promise.resolve({})
  const agent = new CustodyAgent({
    identityJwe: jwe,
    renew: () => renew(),
    graceMs: 30_000,
    intervalMs: 5_000,
    timers,
    ...over,
  })
  return {
    agent,
    timers,
    setRenew: (f) => {
      renew = f
    },
  }
}

test('boot unlock: identity decrypted into a registered Buffer; lease → serving', async () => {
  const stateFile = join(dir, 'a', 'state.json')
  const { agent, timers } = agentWith({ stateFile })
  assert.equal(stateOf(agent), 'sealed')
  const key = await agent.unlock()
  assert.deepEqual(Buffer.from(key), keyPem)
  assert.equal(agent.secrets.get(IDENTITY_SECRET), key)
  assert.equal(stateOf(agent), 'unlocked')
  agent.startLease()
  await timers.advance(1)
  assert.equal(stateOf(agent), 'serving')
  const { doc } = readStateFile(stateFile)
  assert.equal(doc.state, 'serving')
  assert.equal(Date.parse(doc.leaseExpiresAt!), timers.now() - 1 + 30_000)
  await agent.shutdown()
  assert.ok(allZero(key))
  assert.equal(readStateFile(stateFile).status.state, 'sealed')
})

test('lease lost: brick zeroises the identity and every registered secret, runs hooks', async () => {
  const { agent, timers, setRenew } = agentWith()
  const key = await agent.unlock()
  const stek = agent.secrets.register('stek', Buffer.alloc(48, 7))
  let closed = false
  agent.secrets.onWipe('listener', () => {
    closed = true
  })
  agent.startLease()
  await timers.advance(10_000)
  setRenew(() => Promise.reject(new Error('partition')))
  await timers.advance(40_000)
  assert.equal(stateOf(agent), 'bricked')
  assert.equal(brickedOf(agent).reason, 'lease_lost')
  const seconds = brickedOf(agent).seconds
  assert.ok(seconds !== undefined && seconds >= 30 && seconds <= 32, `seconds ${seconds}`)
  assert.ok(allZero(key) && allZero(stek))
  assert.ok(closed)
  await assert.rejects(agent.unlock(), UnlockError)
})

test('remote kill in a renewal answer bricks with its reason', async () => {
  const { agent, timers, setRenew } = agentWith()
  const key = await agent.unlock()
  agent.startLease()
  await timers.advance(1)
  setRenew(() => Promise.resolve({ kill: 'operator_kill' }))
  await timers.advance(5_000)
  assert.equal(brickedOf(agent).reason, 'operator_kill')
  assert.ok(allZero(key))
})

test('high-risk region: unlock waits for the admission check; refused → stays sealed', async () => {
  let approve = false
  let decrypts = 0
  const { agent } = agentWith({
    admissionCheck: () => Promise.resolve(approve),
    decrypt: async (j) => {
      decrypts++
      const { clevisDecrypt } = await import('./tang/clevis.ts')
      return clevisDecrypt(j)
    },
  })
  await assert.rejects(agent.unlock(), /re-admission required/)
  assert.equal(decrypts, 0, 'no decrypt before admission')
  assert.equal(stateOf(agent), 'sealed')
  approve = true
  await agent.unlock()
  assert.equal(stateOf(agent), 'unlocked')
})

test('Tang unreachable or key shredded: unlock fails, node stays sealed', async () => {
  const shredded = await clevisEncryptTang(Buffer.from('k'), {
    url: `${base}/gone`,
    trustFirstUse: true,
  })
  tang.keys.deleteNode('gone')
  const { agent } = agentWith({ identityJwe: shredded })
  await assert.rejects(agent.unlock(), (e) => e instanceof UnlockError && /404/.test(e.message))
  assert.equal(stateOf(agent), 'sealed')
})

test('power loss: a state file left in serving boots bricked (power_loss) until readmit', async () => {
  const stateFile = join(dir, 'p', 'state.json')
  const first = agentWith({ stateFile })
  await first.agent.unlock()
  first.agent.startLease()
  await first.timers.advance(1)
  assert.equal(readStateFile(stateFile).status.state, 'serving')
  // No shutdown(): the process "lost power". Next boot:
  const second = agentWith({ stateFile })
  const s = second.agent.status
  assert.equal(s.state === 'bricked' && s.reason, 'power_loss')
  await assert.rejects(second.agent.unlock(), UnlockError)
  // Bricked survives another reboot.
  assert.equal(stateOf(agentWith({ stateFile }).agent), 'bricked')
  second.agent.readmit()
  assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).state, 'sealed')
  const third = agentWith({ stateFile })
  await third.agent.unlock()
  assert.equal(stateOf(third.agent), 'unlocked')
  await third.agent.shutdown()
  // A region that allows it can self-recover after power loss.
  const fourth = agentWith({ stateFile })
  await fourth.agent.unlock()
  const relaxed = agentWith({ stateFile, readmitAfterPowerLoss: false })
  assert.equal(stateOf(relaxed.agent), 'sealed')
})
