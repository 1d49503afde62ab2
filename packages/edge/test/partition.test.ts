/**
 * Issue #6, threat model P3 over a real network cut with the real edge node: `outpost edge
 * run --dir` runs in a network namespace of its own, joined to the root namespace (control
 * plane, Tang, key server, origin) by a veth pair on 10.200.N.0/30 only. Inside the
 * namespace a forwarder serves the node's 127.0.0.1 URLs across the veth; in the root
 * namespace another one hands them to the services on 127.0.0.1. `ip link set <veth> down`
 * cuts the link; the node must reach `bricked (lease_lost)` within grace + 2 s of the cut.
 * Needs root and iproute2 (skipped, saying why, where `ip netns` is not permitted).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsSkip, startForwarder, vethLink } from '../../custody/test/netns.ts'
import { cli, NodeProcess, startWorld } from './node-helpers.ts'

/** The smallest lease grace a region may have (control model: ≥ 5 s). */
const GRACE_S = 5
const skip = netnsSkip()
if (skip !== false) process.stderr.write(`edge partition test skipped: ${skip}\n`)

const portOf = (url: string): number => Number(new URL(url).port)

/** `outpost edge status --json` (asynchronously: the control plane runs in this process). */
async function status(dir: string): Promise<Record<string, unknown>> {
  const r = await cli(['edge', 'status', '--dir', dir, '--json'])
  return JSON.parse(r.out || '{}') as Record<string, unknown>
}

test(
  'network partition: the edge node in its own namespace bricks (lease_lost) within grace + 2 s of the cut',
  { skip },
  async (t) => {
    const w = await startWorld()
    // One cleanup, in order: the node and the forwarders first (they hold connections the
    // control plane's close would wait for), then the link, then the world.
    const procs: ChildProcess[] = []
    const n8 = (process.pid % 250) + 1
    const tag = `ope${process.pid % 100000}`
    const ns = `${tag}-edge`
    const root = `10.200.${n8}.1`
    const edge = `10.200.${n8}.2`
    const link = vethLink(tag, { ns: undefined, addr: root }, { ns, addr: edge })
    t.after(async () => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
      await Promise.all(
        procs.map((p) =>
          p.exitCode === null && p.signalCode === null
            ? new Promise((r) => p.once('exit', r))
            : Promise.resolve(),
        ),
      )
      link.close()
      await w.close()
    })
    await w.api('PUT', '/v1/regions/eu-central', {
      name: 'Frankfurt',
      country: 'DE',
      rebootNeedsReadmission: false,
      leaseGraceSeconds: GRACE_S,
    })
    await w.api('POST', '/v1/orgs', {
      id: 'acme',
      name: 'Acme',
      country: 'DE',
      region: 'eu-central',
      plan: 'free',
    })
    await w.zone('shop', 'shop.test', 'api')
    const dir = await w.enrol('edge-p', 'eu-central')
    const nf = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')) as {
      nodeApiUrl: string
      graceSeconds: number
    }
    assert.equal(nf.graceSeconds, GRACE_S, 'the region grace reached the node at enrolment')
    // Every service the node talks to: operator API (Tang), node API, key server, origin.
    const ports = [portOf(w.cp.url), portOf(nf.nodeApiUrl), w.ks.address.port, portOf(w.originUrl)]

    procs.push(await startForwarder(undefined, root, '127.0.0.1', ports))
    procs.push(await startForwarder(ns, '127.0.0.1', root, ports))

    const n = new NodeProcess(dir, [], {}, ['ip', 'netns', 'exec', ns])
    procs.unshift(n.proc)
    await n.address(30_000) // unlocked through Tang and serving, all across the veth
    await new Promise((r) => setTimeout(r, 1_500)) // a few renewals across the link
    const before = await status(dir)
    assert.equal(before['state'], 'serving', JSON.stringify(before))

    const cut = performance.now()
    link.cut('a') // ip link set <root-side veth> down
    await n.waitFor(/^state: bricked \(lease_lost/, (GRACE_S + 10) * 1000)
    const ms = performance.now() - cut
    t.diagnostic(
      `link down -> bricked (lease_lost): ${ms.toFixed(0)} ms (region grace ${GRACE_S} s)`,
    )
    assert.ok(ms <= (GRACE_S + 2) * 1000, `bricked ${ms.toFixed(0)} ms after the cut`)
    const after = await status(dir)
    assert.equal(after['state'], 'bricked', JSON.stringify(after))
    assert.equal(after['reason'], 'lease_lost', JSON.stringify(after))
  },
)
