/**
 * `outpost tls-demo` as a process: on SIGTERM it stops promptly even with an echo
 * listener and an idle HTTP/1.1 keep-alive connection open. Closing that connection
 * at once needs node:http's connection tracking, which also runs the slow-client
 * timeouts (headersTimeout, requestTimeout) and only starts on 'listening'.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { TEST_SNI, writeTestPki } from './interop/test-pki.ts'

const main = join(import.meta.dirname, '..', '..', 'cli', 'src', 'main.ts')

test(
  'tls-demo exits promptly on SIGTERM with an echo listener and an idle keep-alive connection',
  { timeout: 20_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-demo-life-'))
    const pki = await writeTestPki(dir)
    const child = spawn(
      process.execPath,
      [main, 'tls-demo', '--listen', '127.0.0.1:0', '--echo-port', '0'].concat([
        '--cert',
        pki.ecdsa.chainFile,
        '--key',
        pki.ecdsa.keyFile,
      ]),
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      let out = ''
      let port = 0
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        out += chunk.toString()
        const m = /listening on https:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
        if (m && out.includes('echo on')) {
          port = Number(m[1])
          break
        }
      }
      assert.ok(port > 0, `tls-demo did not start: ${out}`)

      const sock = await new Promise<TLSSocket>((resolve, reject) => {
        const s = connect(
          {
            host: '127.0.0.1',
            port,
            servername: TEST_SNI,
            ca: readFileSync(pki.ecdsa.caFile),
            ALPNProtocols: ['http/1.1'],
          },
          () => {
            s.write(`GET / HTTP/1.1\r\nHost: ${TEST_SNI}\r\n\r\n`)
          },
        )
        s.once('data', () => {
          resolve(s)
        })
        s.on('error', reject)
      })
      const sockClosed = once(sock, 'close')
      const t0 = Date.now()
      child.kill('SIGTERM')
      const [code] = (await once(child, 'exit')) as [number | null]
      const elapsed = Date.now() - t0
      assert.equal(code, 0)
      assert.ok(elapsed < 3000, `exited ${elapsed} ms after SIGTERM`)
      await sockClosed
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  },
)
