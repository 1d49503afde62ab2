/**
 * At-risk side of the partition test, run inside its own network namespace: seal a
 * fresh identity to the Tang server across the veth, unlock it with CustodyAgent,
 * hold the lease, and report every event as a JSON line on stdout.
 * argv: BASE_URL GRACE_MS.
 */
import { randomBytes } from 'node:crypto'
import { CustodyAgent, clevisEncryptTang } from '@outpost/custody'

const [base = 'http://127.0.0.1:1', graceArg = '2000'] = process.argv.slice(2)
const say = (o: object): void => {
  process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n')
}

const identity = randomBytes(64)
const jwe = await clevisEncryptTang(identity, { url: `${base}/tang/edge-p`, trustFirstUse: true })
identity.fill(0)
let lastRenewal = 0
const agent = new CustodyAgent({
  identityJwe: jwe,
  graceMs: Number(graceArg),
  intervalMs: 250,
  renew: async (signal) => {
    const r = await fetch(`${base}/lease`, { method: 'POST', signal })
    if (r.status !== 200) throw new Error(`lease ${r.status}`)
    await r.text()
    return {}
  },
  onTransition: (s) => {
    if (s.state === 'serving') lastRenewal = Date.now()
    say({ event: s.state, ...(s.state === 'bricked' ? { reason: s.reason } : {}) })
  },
})
const key = await agent.unlock()
agent.secrets.onWipe('report', () => {
  say({ event: 'wiped', lastRenewal, zeroised: key.every((b) => b === 0) })
  setTimeout(() => process.exit(0), 50)
})
agent.startLease()
