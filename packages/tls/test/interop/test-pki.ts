/**
 * The test PKI for the interop, conformance and benchmark runs (tls-testing.md, "Test PKI"):
 * an ECDSA P-256 CA with a P-256 leaf, and an RSA-2048 CA with an RSA-2048 leaf. The RSA leaf
 * is signed by the RSA CA, because tlsfuzzer's RSA-only scripts offer only RSA schemes in
 * signature_algorithms_cert. Leaf SANs: test.example, localhost, 127.0.0.1.
 *
 * Files are written into a directory the caller owns (a temp dir); keys get mode 0600 and the
 * key bytes are zeroised after writing.
 *
 * Run directly to fill a directory for the shell tools:
 *   node packages/tls/test/interop/test-pki.ts DIR
 * prints one `<profile>_<FILE>=<path>` line per file (sourceable by bash).
 */
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueServerCert, type KeyType } from '@outpost/pki'

/** The files of one certificate profile. */
export interface CertSet {
  /** The CA certificate that verifies the leaf (what clients trust). */
  readonly caFile: string
  /** The leaf certificate alone. */
  readonly certFile: string
  /** Leaf then CA: what the server sends. */
  readonly chainFile: string
  /** The leaf's PKCS#8 private key. */
  readonly keyFile: string
}

export interface TestPki {
  readonly ecdsa: CertSet
  readonly rsa: CertSet
}

/** The name clients use as SNI and check against the certificate. */
export const TEST_SNI = 'test.example'

const profiles = [
  ['ecdsa', 'ecdsa-p256'],
  ['rsa', 'rsa-2048'],
] as const satisfies readonly (readonly [keyof TestPki, KeyType])[]

async function writeSet(dir: string, name: string, keyType: KeyType): Promise<CertSet> {
  const ca = await createCa({ commonName: `Outpost interop CA (${name})`, keyType, validDays: 2 })
  const leaf = await issueServerCert({
    ca,
    commonName: TEST_SNI,
    dnsNames: [TEST_SNI, 'localhost'],
    ipAddresses: ['127.0.0.1'],
    keyType,
    validDays: 2,
  })
  ca.keyPem.fill(0)
  const set: CertSet = {
    caFile: join(dir, `${name}-ca.pem`),
    certFile: join(dir, `${name}-leaf.pem`),
    chainFile: join(dir, `${name}-chain.pem`),
    keyFile: join(dir, `${name}-key.pem`),
  }
  writeFileSync(set.caFile, ca.certPem)
  writeFileSync(set.certFile, leaf.certPem)
  writeFileSync(set.chainFile, leaf.certPem + ca.certPem)
  try {
    writeFileSync(set.keyFile, leaf.keyPem, { mode: 0o600 })
  } finally {
    leaf.keyPem.fill(0)
  }
  return set
}

/** Writes both certificate profiles into `dir` (created if missing). */
export async function writeTestPki(dir: string): Promise<TestPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const [ecdsa, rsa] = await Promise.all(profiles.map(([n, t]) => writeSet(dir, n, t)))
  return { ecdsa: ecdsa!, rsa: rsa! }
}

if (import.meta.main) {
  const dir = process.argv[2]
  if (dir === undefined) {
    process.stderr.write('usage: node test-pki.ts DIR\n')
    process.exit(2)
  }
  const pki = await writeTestPki(dir)
  for (const [profile, set] of Object.entries(pki) as [string, CertSet][]) {
    process.stdout.write(
      `${profile}_CA=${set.caFile}\n${profile}_CERT=${set.certFile}\n` +
        `${profile}_CHAIN=${set.chainFile}\n${profile}_KEY=${set.keyFile}\n`,
    )
  }
}
