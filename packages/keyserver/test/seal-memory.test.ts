/**
 * `outpost keyserver seal` wipes every key from memory: a real key server process imports
 * P-256, RSA and Ed25519 keys, signs with each, is sealed, and then its memory (read through
 * /proc/PID/mem) holds none of the private values, in big-endian bytes or as OpenSSL's
 * little-endian BIGNUM words.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { scanProcessMemory } from '@outpost/custody/testing'
import { KeylessClient, Op, skiOf } from '@outpost/keyless'
import { SERVER_CERTIFICATE_VERIFY_PREFIX } from '../src/index.ts'
import { runKeyServerProcess, startFixture } from './fixture.ts'

const skip = process.platform !== 'linux' ? 'needs /proc/PID/mem' : false

/** The private values of `key` to look for, each also byte-reversed (BIGNUM words on x86-64). */
function needles(name: string, key: KeyObject): Record<string, Buffer> {
  const jwk = key.export({ format: 'jwk' })
  const parts: Record<string, string | undefined> =
    jwk.kty === 'RSA' ? { d: jwk.d, p: jwk.p, q: jwk.q } : { d: jwk.d }
  const out: Record<string, Buffer> = {}
  for (const [part, b64] of Object.entries(parts)) {
    const bytes = Buffer.from(b64 ?? '', 'base64url')
    out[`${name} ${part}`] = bytes
    out[`${name} ${part} (reversed)`] = Buffer.from(bytes).reverse()
  }
  return out
}

test('after seal, the key server process holds no private key bytes', { skip }, async (t) => {
  const f = await startFixture({ devAutoUnseal: true })
  t.after(() => f.cleanup())
  await f.server.close()
  const node = await f.node('edge-seal')
  const ks = await runKeyServerProcess(f, 'seal')
  t.after(() => {
    ks.kill()
  })
  const { port, cli } = ks

  const keys = {
    'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    'RSA-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    Ed25519: generateKeyPairSync('ed25519').privateKey,
  }
  let secrets: Record<string, Buffer> = {}
  for (const [name, key] of Object.entries(keys)) {
    const file = join(f.dir, `${name}.der`)
    writeFileSync(file, key.export({ format: 'der', type: 'pkcs8' }), { mode: 0o600 })
    cli('keys', 'import', '--key', file)
    secrets = { ...secrets, ...needles(name, key) }
  }

  // Sign with every key, so each has been used, not only loaded.
  const client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port, servername: 'localhost' }],
    ca: f.ca.certPem,
    cert: node.issued.certPem,
    key: new Uint8Array(node.issued.keyPem),
  })
  const content = Buffer.concat([SERVER_CERTIFICATE_VERIFY_PREFIX, Buffer.alloc(32, 7)])
  const sign = async (key: KeyObject, scheme: number): Promise<void> => {
    const r = await client.execute({
      opcode: Op.SignTls13,
      ski: skiOf(key),
      payload: content,
      signatureScheme: scheme,
    })
    assert.equal(r.opcode, Op.Response, `scheme 0x${scheme.toString(16)}`)
  }
  for (let i = 0; i < 5; i++) {
    await sign(keys['P-256'], 0x0403)
    await sign(keys['RSA-2048'], 0x0804)
    await sign(keys.Ed25519, 0x0807)
    const digest = createHash('sha256').update(content).digest()
    const r = await client.execute({
      opcode: Op.EcdsaSignSha256,
      ski: skiOf(keys['P-256']),
      payload: digest,
    })
    assert.equal(r.opcode, Op.Response)
  }
  await client.close()

  // Positive control: unsealed, the process holds every key (so the needles are right).
  const pid = ks.child.pid ?? 0
  const live = scanProcessMemory(pid, secrets)
  for (const name of Object.keys(keys))
    assert.ok(
      [...live].some((k) => k.startsWith(name)),
      `${name} in the unsealed process (found: ${[...live].join(', ')})`,
    )

  assert.match(cli('seal'), /sealed/)
  await new Promise((r) => setTimeout(r, 300))
  assert.deepEqual([...scanProcessMemory(pid, secrets)], [], 'private key bytes after seal')
})
