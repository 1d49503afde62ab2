/**
 * A256GCM decryption must not leave the plaintext (a node's identity key) in freed native
 * memory: a child process decrypts, zeroes what it got and collects garbage; this process
 * then reads the child's memory through /proc/PID/mem and looks for the plaintext.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { scanProcessMemory } from '../testing.ts'
import { a256gcmDecrypt, a256gcmEncrypt } from './jose.ts'

const skip = process.platform !== 'linux' ? 'needs /proc/PID/mem' : false

/** Decrypts in a child; `keep` leaves the plaintext in place (the positive control). */
async function decryptInChild(keep: boolean, plaintext: Buffer): Promise<Set<string>> {
  const key = randomBytes(32)
  const aad = Buffer.from('protected header')
  const g = a256gcmEncrypt(key, plaintext, aad, randomBytes(12))
  const job = {
    key: key.toString('hex'),
    iv: g.iv.toString('hex'),
    ct: g.ciphertext.toString('hex'),
    tag: g.tag.toString('hex'),
    aad: aad.toString('hex'),
    sha256: createHash('sha256').update(plaintext).digest('hex'),
    keep,
  }
  const jose = pathToFileURL(join(import.meta.dirname, 'jose.ts')).href
  const script = `
    import { a256gcmDecrypt } from ${JSON.stringify(jose)}
    import { createHash } from 'node:crypto'
    const input = await new Promise((resolve) => {
      let s = ''
      process.stdin.setEncoding('ascii').on('data', (c) => {
        s += c
        if (s.includes('\\n')) resolve(s)
      })
    })
    const j = JSON.parse(input)
    const h = (k) => Buffer.from(j[k], 'hex')
    const key = h('key')
    // Several rounds: a freed copy that a later allocation happens to reuse is overwritten,
    // so one round could hide a leak.
    let ok = true
    let out
    for (let i = 0; i < 16; i++) {
      if (out !== undefined) out.fill(0)
      out = await a256gcmDecrypt(key, { iv: h('iv'), ciphertext: h('ct'), tag: h('tag') }, h('aad'))
      ok &&= createHash('sha256').update(out).digest('hex') === j.sha256
    }
    key.fill(0)
    if (!j.keep) out.fill(0)
    globalThis.keep = j.keep ? out : undefined
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)) }
    process.stdout.write(ok ? 'ready\\n' : 'wrong plaintext\\n')
    process.stdin.on('end', () => process.exit(0)) // stays alive until the parent ends stdin
  `
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  try {
    child.stdin.write(JSON.stringify(job) + '\n')
    const line = await new Promise<string>((resolve, reject) => {
      let s = ''
      child.stdout.setEncoding('ascii').on('data', (d: string) => {
        s += d
        if (s.includes('\n')) resolve(s.trim())
      })
      child.on('exit', (code) => {
        reject(new Error(`child exited ${code}: ${s}`))
      })
    })
    assert.equal(line, 'ready')
    // The plaintext's middle: the front of a freed chunk is overwritten by the allocator.
    return scanProcessMemory(child.pid ?? 0, { plaintext: plaintext.subarray(32, 160) })
  } finally {
    child.stdin.end()
    child.kill()
  }
}

test(
  'a256gcmDecrypt leaves no copy of the plaintext once the caller zeroes its Buffer',
  { skip },
  async () => {
    // Text like a PEM body, as the identity key is.
    const plaintext = Buffer.from(randomBytes(180).toString('base64'), 'latin1')
    // Positive control: the same search finds the plaintext while the child holds it.
    assert.deepEqual([...(await decryptInChild(true, plaintext))], ['plaintext'])
    assert.deepEqual([...(await decryptInChild(false, plaintext))], [])
  },
)

test('a256gcmDecrypt round trip, and a flipped tag bit is refused', async () => {
  const key = randomBytes(32)
  const pt = randomBytes(300)
  const aad = Buffer.from('aad')
  const g = a256gcmEncrypt(key, pt, aad, randomBytes(12))
  assert.deepEqual(await a256gcmDecrypt(key, g, aad), pt)
  const tag = Buffer.from(g.tag)
  tag[0] = (tag[0] ?? 0) ^ 1
  await assert.rejects(a256gcmDecrypt(key, { ...g, tag }, aad), /authentication failed/)
  await assert.rejects(a256gcmDecrypt(key, g, Buffer.from('other')), /authentication failed/)
})
