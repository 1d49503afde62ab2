/**
 * Issue #6: after a brick, neither the cache directory nor a core image of the edge
 * process holds the identity key, a STEK or the cache key. The node runs in the
 * test-only dumpable mode (OUTPOST_TEST_ALLOW_CORE=1; the cache key is read from a file
 * so the test knows its bytes), bricks because its lease lapses (the control plane
 * goes away: time to brick ≤ grace + 2 s), then gdb dumps every readable mapping.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createPrivateKey, randomBytes } from 'node:crypto'
import {
  closeSync,
  writeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { clevisDecrypt, STATUS_EXIT } from '@outpost/custody'
import { scanProcessMemory } from '@outpost/custody/testing'
import { httpsGet, NodeProcess, startWorld } from './node-helpers.ts'

const GRACE_S = 3
const gdb = spawnSync('sh', ['-c', 'command -v gdb'], { encoding: 'utf8' }).stdout.trim()
const skip = gdb === '' ? 'needs gdb (apt-get install gdb)' : false

/** Offsets of each needle in `file`, read in chunks with overlap. */
function find(file: string, needles: Record<string, Buffer>): Record<string, number> {
  const found: Record<string, number> = {}
  const max = Math.max(...Object.values(needles).map((n) => n.length))
  const fd = openSync(file, 'r')
  const chunk = Buffer.alloc(64 * 1024 * 1024)
  let pos = 0
  let carry = Buffer.alloc(0)
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos)
      if (n === 0) break
      const buf = Buffer.concat([carry, chunk.subarray(0, n)])
      for (const [name, needle] of Object.entries(needles)) {
        if (found[name] !== undefined) continue
        const at = buf.indexOf(needle)
        if (at !== -1) found[name] = pos - carry.length + at
      }
      carry = Buffer.from(buf.subarray(Math.max(0, buf.length - max)))
      pos += n
    }
  } finally {
    closeSync(fd)
  }
  return found
}

/**
 * Writes an image of process `pid` to `file`: every readable mapping, dumped by gdb
 * (`gcore` would also write V8's multi-GB PROT_NONE reservations: 20+ GB of zeros).
 * Returns where each mapping starts in the image, to name the mapping a hit lies in.
 */
function dumpImage(pid: number, file: string): { at: number; size: number; line: string }[] {
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter(
      (l) => /^[0-9a-f]+-[0-9a-f]+ r/.test(l) && !l.includes('[vvar]') && !l.includes('[vsyscall]'),
    )
  const regions = lines.map((l) => (l.split(' ')[0] ?? '').split('-'))
  const parts = regions.map((_, i) => `${file}.${i}`)
  const g = spawnSync(
    gdb,
    [
      '--nx',
      '--batch',
      '-p',
      String(pid),
      ...regions.flatMap(([a, b], i) => ['-ex', `dump binary memory ${parts[i]} 0x${a} 0x${b}`]),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
  const fd = openSync(file, 'w')
  const placed: { at: number; size: number; line: string }[] = []
  let at = 0
  for (const [i, p] of parts.entries()) {
    if (!existsSync(p)) continue
    const b = readFileSync(p)
    writeSync(fd, b)
    placed.push({ at, size: b.length, line: lines[i] ?? '' })
    at += b.length
    rmSync(p)
  }
  closeSync(fd)
  assert.ok(statSync(file).size > 10_000_000, `gdb dumped too little: ${g.stderr.slice(-500)}`)
  return placed
}

test(
  'after a lease-lost brick, the core image and the cache hold no secret bytes',
  { skip },
  async (t) => {
    const w = await startWorld()
    t.after(() => w.close())
    await w.api('PUT', '/v1/regions/eu-central', {
      name: 'Frankfurt',
      country: 'DE',
      rebootNeedsReadmission: false,
    })
    await w.api('POST', '/v1/orgs', {
      id: 'acme',
      name: 'Acme',
      country: 'DE',
      region: 'eu-central',
      plan: 'free',
    })
    await w.zone('shop', 'shop.test')
    const dir = await w.enrol('edge-core', 'eu-central')

    // What to look for: the identity key (PEM body, DER, raw scalar), the STEKs, the
    // clearance-cookie keys, the cache key.
    const pem = await clevisDecrypt(readFileSync(join(dir, 'identity.jwe'), 'ascii'))
    const keyObj = createPrivateKey(pem)
    const der = keyObj.export({ format: 'der', type: 'pkcs8' })
    const d = Buffer.from(keyObj.export({ format: 'jwk' }).d ?? '', 'base64url')
    const pemBody = Buffer.from(pem.toString('latin1').split('\n')[1] ?? '', 'latin1')
    const cacheKey = randomBytes(32)
    const keyFile = join(w.dir, 'cache-key.bin')
    writeFileSync(keyFile, cacheKey, { mode: 0o600 })

    const n = new NodeProcess(dir, ['--grace-seconds', String(GRACE_S)], {
      OUTPOST_TEST_ALLOW_CORE: '1',
      OUTPOST_TEST_CACHE_KEY_FILE: keyFile,
    })
    t.after(async () => {
      await n.stop()
    })
    const addr = await n.address()
    rmSync(keyFile)
    const ca = readFileSync(w.pki.caFile, 'utf8')
    // Tickets issued (STEK in use) and a response cached (cache key in use).
    for (let i = 0; i < 3; i++)
      assert.equal((await httpsGet(addr, 'shop.test', ca, '/cached/a')).status, 200)
    const steks = w.cp.app.steks.forRegion(86_400_000).map((s) => Buffer.from(s.key))
    assert.ok(steks.length > 0)
    const stekNeedles = Object.fromEntries(steks.map((k, i) => [`STEK ${i}`, k]))
    // The clearance-cookie keys the lease gave the node (current + history).
    const clearanceNeedles = Object.fromEntries(
      w.cp.app.clearanceKeys
        .forLease()
        .map((k) => [`clearance key ${k.epoch}`, Buffer.from(k.key)]),
    )
    assert.ok(Object.keys(clearanceNeedles).length > 0)
    const cacheFiles = (): string[] =>
      readdirSync(join(dir, 'cache'), { recursive: true, encoding: 'utf8' }).filter((f) =>
        statSync(join(dir, 'cache', f)).isFile(),
      )
    await new Promise((r) => setTimeout(r, 300))
    assert.ok(cacheFiles().length > 0, 'a response was cached')

    // Positive control: while serving, the process holds the secrets (so the needles are
    // right). Read through /proc/PID/mem, which does not stop the process (gdb would, for
    // longer than the grace).
    const live = scanProcessMemory(n.proc.pid ?? 0, {
      'identity PEM body': pemBody,
      'cache key': cacheKey,
      ...stekNeedles,
      ...clearanceNeedles,
    })
    t.diagnostic(`serving process holds: ${[...live].join(', ')}`)
    assert.ok(live.has('identity PEM body'), 'identity in the serving process')
    assert.ok(live.has('cache key'), 'cache key in the serving process')
    assert.ok(
      [...live].some((k) => k.startsWith('STEK')),
      'a STEK in the serving process',
    )
    assert.ok(
      [...live].some((k) => k.startsWith('clearance key')),
      'a clearance key in the serving process',
    )
    // The dump did not cost the lease: the node still serves.
    assert.equal((await httpsGet(addr, 'shop.test', ca, '/cached/a')).status, 200)
    // Cut the safe region: the control plane goes away; the lease lapses.
    await w.cp.close()
    const cut = performance.now()
    await n.waitFor(/^state: bricked \(lease_lost/, (GRACE_S + 10) * 1000)
    const ms = performance.now() - cut
    t.diagnostic(
      `control plane gone -> bricked (lease_lost): ${ms.toFixed(0)} ms (grace ${GRACE_S} s)`,
    )
    assert.ok(ms <= (GRACE_S + 2) * 1000, `bricked after ${ms.toFixed(0)} ms`)
    const st = spawnSync(process.execPath, [
      join(import.meta.dirname, '../../cli/bin/outpost.js'),
      'edge',
      'status',
      '--dir',
      dir,
    ])
    assert.equal(st.status, STATUS_EXIT.bricked)
    assert.deepEqual(cacheFiles(), [], 'cache files deleted')

    await new Promise((r) => setTimeout(r, 500)) // close hooks finish
    const file = join(w.dir, 'edge.core')
    t.after(() => {
      rmSync(file, { force: true })
    })
    const placed = dumpImage(n.proc.pid ?? 0, file)
    t.diagnostic(`core image: ${(statSync(file).size / 1e6).toFixed(0)} MB`)
    // Positive control: bytes the process certainly holds are found by the same search.
    const nodeId = Buffer.from('edge-core')
    const needles: Record<string, Buffer> = {
      'identity DER': der,
      'identity scalar': d,
      // OpenSSL's BIGNUM words (little-endian) of a live or unclearly freed EVP_PKEY.
      'identity scalar (BIGNUM words)': Buffer.from(d).reverse(),
      'identity PEM body': pemBody,
      'cache key': cacheKey,
      ...stekNeedles,
      ...clearanceNeedles,
      control: nodeId,
    }
    const found = find(file, needles)
    assert.ok(found['control'] !== undefined, 'the search works (node id found)')
    delete found['control']
    for (const [name, off] of Object.entries(found)) {
      const r = placed.find((x) => off >= x.at && off < x.at + x.size)
      const base = r === undefined ? 0 : parseInt(r.line.split('-')[0] ?? '0', 16)
      t.diagnostic(`${name} at 0x${(base + off - (r?.at ?? 0)).toString(16)} in ${r?.line ?? '?'}`)
    }
    pem.fill(0)
    // Nothing left: the brick zeroises our Buffers (STEKs off the V8 heap, so no GC moved a
    // copy), ticket sealers drop their STEK KeyObjects, the TLS contexts holding the identity
    // key are dropped (the key never sits in an https.Agent's options, whose pool name is a
    // string made from it), and the GC after the brick frees, so OpenSSL clears, what held them.
    assert.deepEqual(found, {}, `in the core image: ${Object.keys(found).join(', ')}`)
  },
)
