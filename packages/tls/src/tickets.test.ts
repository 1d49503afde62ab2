import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RotatingStekProvider, TicketSealer, type TicketState } from './tickets.ts'
import { availableBackends } from './crypto/native.ts'

const state = (): TicketState => ({
  cipherSuite: 0x1301,
  psk: new Uint8Array(32).fill(7),
  ticketAgeAdd: 0xdeadbeef,
  issuedMs: 1_700_000_000_000,
  lifetimeSeconds: 7200,
  serverName: 'test.example',
  alpn: new TextEncoder().encode('h2'),
})

for (const backend of availableBackends) {
  test(`TicketSealer.seal() and open() round-trip the resumption state (${backend})`, () => {
    const sealer = new TicketSealer(new RotatingStekProvider(), backend)
    const ticket = sealer.seal(state())
    assert.deepEqual(sealer.open(ticket), state())
    // Sealing twice gives different tickets (random nonce), both valid.
    assert.notDeepEqual(sealer.seal(state()), ticket)
  })

  test(`TicketSealer.open() refuses tampered, truncated and foreign tickets (${backend})`, () => {
    const sealer = new TicketSealer(new RotatingStekProvider(), backend)
    const ticket = sealer.seal(state())
    for (let i = 0; i < ticket.length; i++) {
      const t = ticket.slice()
      t[i] = (t[i] as number) ^ 1
      assert.equal(sealer.open(t), undefined, `flip at ${i}`)
    }
    assert.equal(sealer.open(ticket.subarray(0, 20)), undefined)
    assert.equal(new TicketSealer(new RotatingStekProvider(), backend).open(ticket), undefined)
  })
}

test('tickets sealed on one backend open on the other (same wire format)', () => {
  const provider = new RotatingStekProvider()
  const sealers = availableBackends.map((b) => new TicketSealer(provider, b))
  for (const from of sealers) {
    const ticket = from.seal(state())
    for (const to of sealers) assert.deepEqual(to.open(ticket), state())
  }
})

test('RotatingStekProvider rotates, still opens with retired keys, then forgets and zeroises them', () => {
  let now = 0
  const provider = new RotatingStekProvider({ rotateMs: 1000, keep: 2, now: () => now })
  const sealer = new TicketSealer(provider)
  const first = provider.current()
  const oldTicket = sealer.seal(state())
  now = 1500
  const second = provider.current()
  assert.notEqual(second.id, first.id)
  assert.deepEqual(sealer.open(oldTicket), state(), 'a retired key still opens')
  now = 3000
  provider.current()
  assert.equal(provider.lookup(first.id), undefined)
  assert.equal(sealer.open(oldTicket), undefined, 'a dropped key no longer opens')
  assert.ok(
    first.key.every((b) => b === 0),
    'the dropped key was zeroised',
  )
  provider.destroy()
  assert.ok(second.key.every((b) => b === 0))
})
