/**
 * Real clients against `outpost tls-demo` (tls-testing.md §3): openssl s_client, Node 24
 * tls.connect (the only one here that offers X25519MLKEM768 besides Chromium), gnutls-cli,
 * curl, Python's ssl and headless Chromium, each verifying the certificate and the name,
 * forcing every suite and group, and requiring an HTTP 200. Run once with the ECDSA P-256
 * certificate and once with the RSA-2048 one.
 *
 * One subtest per client family, so a failure names the client. A family is skipped only
 * when its binary is missing on this machine.
 *
 * INTEROP_SERVER=node runs the same checks against Node's own TLS stack (the shared
 * node-baseline-server.mjs), to prove the harness when our server is in doubt.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeTestPki, TEST_SNI, type TestPki } from './test-pki.ts'
import { startTlsDemo, startNodeBaseline, type RunningServer } from './servers.ts'
import { findExecutable, findFirst, runClients, RUN_CLIENTS } from './tools.ts'
import { failedChecks, formatSummary } from './summary.ts'

const target = process.env['INTEROP_SERVER'] === 'node' ? 'node' : 'outpost'

/** Groups our server offers (tls-demo): X25519MLKEM768 preferred, then X25519, P-256, P-384. */
const GROUPS = 'X25519 P-256 P-384 X25519MLKEM768'

interface Family {
  readonly only: string
  /** Runner variable -> binary; the family is skipped when one is missing. */
  readonly bins: Readonly<Record<string, string | undefined>>
}

const openssl = findExecutable('openssl')
const families: readonly Family[] = [
  { only: 'openssl', bins: { OPENSSL: openssl } },
  // The Node running this test is the pinned Node 24 (OpenSSL 3.5): it can offer ML-KEM.
  { only: 'node', bins: { NODE: process.execPath } },
  { only: 'gnutls', bins: { GNUTLS_CLI: findExecutable('gnutls-cli') } },
  { only: 'curl', bins: { CURL: findExecutable('curl') } },
  // Debian's python3, not a pyenv shim (tls-testing.md).
  { only: 'python', bins: { PYTHON: findFirst('/usr/bin/python3', 'python3') } },
  {
    only: 'chromium',
    bins: { CHROMIUM: findFirst('/usr/bin/chromium', 'chromium'), OPENSSL: openssl },
  },
]

function notReady(): string | undefined {
  if (findExecutable('bash') === undefined) return 'bash not found'
  if (!existsSync(RUN_CLIENTS)) return `runner not found: ${RUN_CLIENTS}`
  return undefined
}

const unavailable = notReady()

describe(`real clients against ${target === 'node' ? 'the Node baseline' : 'outpost tls-demo'}`, () => {
  let dir = ''
  let pki: TestPki | undefined

  before(async () => {
    if (unavailable !== undefined) return
    dir = mkdtempSync(join(tmpdir(), 'outpost-interop-'))
    pki = await writeTestPki(dir)
  })
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  for (const profile of ['ecdsa', 'rsa'] as const) {
    describe(`${profile} certificate`, () => {
      let server: RunningServer | undefined

      before(async () => {
        if (unavailable !== undefined || pki === undefined) return
        const set = pki[profile]
        server =
          target === 'node'
            ? await startNodeBaseline(set)
            : await startTlsDemo({ certs: [set], tickets: 2 })
      })
      after(async () => {
        await server?.stop()
      })

      for (const fam of families) {
        test(fam.only, async (t) => {
          if (unavailable !== undefined) {
            t.skip(unavailable)
            return
          }
          const missing = Object.entries(fam.bins).find(([, p]) => p === undefined)
          if (missing !== undefined) {
            t.skip(`${missing[0]} binary not found`)
            return
          }
          assert.ok(server !== undefined && pki !== undefined)
          const run = await runClients({
            host: server.host,
            port: server.port,
            sni: TEST_SNI,
            caFile: pki[profile].caFile,
            env: {
              ...(Object.fromEntries(Object.entries(fam.bins)) as Record<string, string>),
              ONLY: fam.only,
              TLS_GROUPS: target === 'node' ? 'X25519 P-256 X25519MLKEM768' : GROUPS,
              CLIENT_TIMEOUT: '20',
              VERBOSE: '1',
            },
          })
          for (const line of run.output.split('\n')) {
            if (/^(ok|skip) /.test(line)) t.diagnostic(line)
          }
          t.diagnostic(run.summary !== undefined ? formatSummary(run.summary) : 'no summary')
          const context = `${run.output}\n--- server output ---\n${server.output().slice(-4000)}`
          assert.ok(run.summary !== undefined, `run-clients.sh printed no summary:\n${context}`)
          assert.deepEqual(failedChecks(run.output), [], context)
          assert.equal(run.summary.failed, 0, context)
          assert.ok(run.summary.passed > 0, `no check passed:\n${context}`)
          assert.equal(run.exitCode, 0, context)
          assert.equal(server.child.exitCode, null, `server exited:\n${server.output()}`)
        })
      }

      // Negative control: the same run trusting the OTHER profile's CA must fail, so a
      // harness that passes everything (wrong parsing, wrong target) cannot go unnoticed.
      test('negative control: a client trusting another CA fails', async (t) => {
        const curl = findExecutable('curl')
        if (unavailable !== undefined || curl === undefined) {
          t.skip(unavailable ?? 'CURL binary not found')
          return
        }
        assert.ok(server !== undefined && pki !== undefined)
        const run = await runClients({
          host: server.host,
          port: server.port,
          sni: TEST_SNI,
          caFile: pki[profile === 'rsa' ? 'ecdsa' : 'rsa'].caFile,
          env: { CURL: curl, ONLY: 'curl', CLIENT_TIMEOUT: '20' },
        })
        assert.deepEqual(run.summary, { passed: 0, failed: 1, skipped: 0 }, run.output)
        assert.equal(run.exitCode, 1)
        assert.equal(server.child.exitCode, null, `server exited:\n${server.output()}`)
      })
    })
  }
})
