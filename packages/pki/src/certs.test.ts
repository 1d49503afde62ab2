import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  webcrypto,
  X509Certificate,
} from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createCa,
  issueNodeCert,
  issueServerCert,
  loadNodeCertificateAuthority,
  parseCertificates,
  type KeyType,
} from './certs.ts'
import { nodeIdentityFromCert } from './identity.ts'

const types: KeyType[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519']

for (const t of types) {
  test(`issueServerCert() with ${t}: chains to the CA and its key matches the certificate`, async () => {
    const ca = await createCa({ commonName: `CA ${t}`, keyType: t })
    const leaf = await issueServerCert({
      ca,
      commonName: 'srv',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      keyType: t,
    })
    const [caCert] = parseCertificates(ca.certPem)
    const [cert] = parseCertificates(leaf.certPem)
    assert.ok(caCert && cert)
    assert.ok(caCert.ca)
    assert.equal(cert.ca, false)
    assert.ok(cert.verify(caCert.publicKey), 'leaf signature verifies under the CA key')
    assert.ok(cert.checkIssued(caCert))
    assert.equal(cert.checkHost('localhost'), 'localhost')
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
    const key = createPrivateKey(leaf.keyPem)
    const msg = Buffer.from('proof of possession')
    const alg = t.startsWith('ecdsa') ? 'sha256' : t === 'ed25519' ? null : 'sha256'
    assert.ok(verify(alg, msg, cert.publicKey, sign(alg, msg, key)))
    assert.deepEqual(
      createPublicKey(key).export({ type: 'spki', format: 'der' }),
      cert.publicKey.export({ type: 'spki', format: 'der' }),
    )
  })
}

test('issueNodeCert() carries the node identity that nodeIdentityFromCert() reads', async () => {
  const ca = await createCa({ commonName: 'Node CA' })
  const node = await issueNodeCert({
    ca,
    nodeId: 'edge-fra-1',
    region: 'eu-central',
    country: 'DE',
  })
  const [cert] = parseCertificates(node.certPem)
  assert.deepEqual(nodeIdentityFromCert(cert), {
    nodeId: 'edge-fra-1',
    region: 'eu-central',
    country: 'DE',
  })
  assert.match(cert!.subject, /CN=edge-fra-1/)
  assert.equal(cert!.checkIssued(parseCertificates(ca.certPem)[0]!), true)
})

test('issueNodeCert() rejects malformed identities', async () => {
  const ca = await createCa({ commonName: 'Node CA' })
  await assert.rejects(
    issueNodeCert({ ca, nodeId: 'bad id', region: 'eu', country: 'DE' }),
    /Invalid node id/,
  )
  await assert.rejects(
    issueNodeCert({ ca, nodeId: 'ok', region: 'EU', country: 'DE' }),
    /Invalid region/,
  )
  await assert.rejects(
    issueNodeCert({ ca, nodeId: 'ok', region: 'eu', country: 'Germany' }),
    /Invalid country/,
  )
})

test('a server certificate is not a node certificate', async () => {
  const ca = await createCa({ commonName: 'CA' })
  const srv = await issueServerCert({ ca, commonName: 'x', dnsNames: ['x.test'] })
  assert.equal(nodeIdentityFromCert(new X509Certificate(srv.certPem)), undefined)
})

test('openssl verifies the chain and sees the SAN URIs', async (t) => {
  try {
    execFileSync('openssl', ['version'])
  } catch {
    t.skip('openssl not installed')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'pki-'))
  const ca = await createCa({ commonName: 'CA', keyType: 'rsa-2048' })
  const node = await issueNodeCert({
    ca,
    nodeId: 'n1',
    region: 'us-east',
    country: 'US',
    keyType: 'ecdsa-p256',
  })
  writeFileSync(join(dir, 'ca.pem'), ca.certPem)
  writeFileSync(join(dir, 'n1.pem'), node.certPem)
  const out = execFileSync('openssl', [
    'verify',
    '-purpose',
    'sslclient',
    '-CAfile',
    join(dir, 'ca.pem'),
    join(dir, 'n1.pem'),
  ]).toString()
  assert.match(out, /n1\.pem: OK/)
  const text = execFileSync('openssl', [
    'x509',
    '-in',
    join(dir, 'n1.pem'),
    '-noout',
    '-text',
  ]).toString()
  assert.match(text, /URI:urn:outpost:node:n1/)
  assert.match(text, /URI:urn:outpost:country:US/)
})

/** A node CA loaded from a new CA, and a P-256 key pair a node keeps. */
async function nodeCaAndNodeKeys(
  commonName: string,
  keyType: 'ecdsa-p256' | 'ecdsa-p384',
): Promise<{
  caCertPem: string
  nodeCa: Awaited<ReturnType<typeof loadNodeCertificateAuthority>>
  keys: webcrypto.CryptoKeyPair
}> {
  const ca = await createCa({ commonName, keyType })
  const nodeCa = await loadNodeCertificateAuthority({
    certPem: ca.certPem,
    keyPem: Buffer.from(ca.keyPem),
  })
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])
  return { caCertPem: ca.certPem, nodeCa, keys }
}

test('loadNodeCertificateAuthority() issues a node certificate for a key the node keeps', async () => {
  const { caCertPem, nodeCa, keys } = await nodeCaAndNodeKeys('Node CA', 'ecdsa-p384')
  const id = { nodeId: 'edge-csr-1', region: 'eu-east', country: 'UA' }
  const signed = await nodeCa.issueNodeCertificate(keys.publicKey, id, 30)
  const [cert] = parseCertificates(signed.certPem)
  assert.ok(cert)
  assert.deepEqual(nodeIdentityFromCert(cert), id)
  assert.ok(cert.checkIssued(parseCertificates(caCertPem)[0]!))
  assert.equal(cert.serialNumber.toLowerCase(), signed.serial.toLowerCase())
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey))
  assert.deepEqual(new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' })), spki)
  assert.ok(signed.notAfter.getTime() - Date.now() < 31 * 86_400_000)
  await assert.rejects(
    nodeCa.issueNodeCertificate(keys.publicKey, { ...id, country: 'Ukraine' }),
    /Invalid country/,
  )
})

test('serials are 16 octets with a non-zero, positive first octet, as the certificate carries them', async () => {
  const { nodeCa, keys } = await nodeCaAndNodeKeys('Serial CA', 'ecdsa-p256')
  const id = { nodeId: 'edge-serial', region: 'eu-east', country: 'UA' }
  // 1 in 128 serials started with 0x00 before; 300 certificates see one with p > 0.9.
  for (let i = 0; i < 300; i++) {
    const signed = await nodeCa.issueNodeCertificate(keys.publicKey, id, 1)
    assert.match(signed.serial, /^[4-7][0-9a-f]{31}$/)
    const [cert] = parseCertificates(signed.certPem)
    assert.equal(cert?.serialNumber.toLowerCase(), signed.serial)
  }
})
