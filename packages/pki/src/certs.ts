/**
 * A small development PKI on WebCrypto and @peculiar/x509: a CA, TLS server
 * certificates and node (mTLS client) certificates that carry a node identity.
 * Private keys leave this module only as PKCS#8 PEM in Buffers (never strings).
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto'

type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair
type Algorithm = webcrypto.Algorithm
type EcdsaParams = webcrypto.EcdsaParams
type EcKeyGenParams = webcrypto.EcKeyGenParams
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams
type RsaHashedImportParams = webcrypto.RsaHashedImportParams
import { pemEncode, pemDecode, pemDecodeAll } from './pem.ts'
import { nodeIdentityUris, type NodeIdentity } from './identity.ts'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])
const subtle = webcrypto.subtle

export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'ed25519'
export const KEY_TYPES: readonly KeyType[] = [
  'ecdsa-p256',
  'ecdsa-p384',
  'rsa-2048',
  'rsa-3072',
  'ed25519',
]

/** A certificate and its private key, both PEM. */
export interface Issued {
  readonly certPem: string
  /** PKCS#8 PEM. A Buffer so callers can zeroise it. */
  readonly keyPem: Buffer
}

type Alg = {
  gen: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm
  sign: Algorithm | EcdsaParams | RsaHashedImportParams
}

function algorithm(t: KeyType): Alg {
  switch (t) {
    case 'ecdsa-p256':
      return {
        gen: { name: 'ECDSA', namedCurve: 'P-256' },
        sign: { name: 'ECDSA', hash: 'SHA-256' },
      }
    case 'ecdsa-p384':
      return {
        gen: { name: 'ECDSA', namedCurve: 'P-384' },
        sign: { name: 'ECDSA', hash: 'SHA-384' },
      }
    case 'rsa-2048':
    case 'rsa-3072': {
      const gen: RsaHashedKeyGenParams = {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: t === 'rsa-2048' ? 2048 : 3072,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      }
      return { gen, sign: gen }
    }
    case 'ed25519':
      return { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } }
  }
}

async function generate(t: KeyType): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithm(t).gen, true, ['sign', 'verify'])) as CryptoKeyPair
}

async function exportKeyPem(key: CryptoKey): Promise<Buffer> {
  const der = new Uint8Array(await subtle.exportKey('pkcs8', key))
  const pem = pemEncode('PRIVATE KEY', der)
  der.fill(0)
  return pem
}

/** Imports a CA private key (PKCS#8 PEM) for signing, detecting its type. */
async function importSigningKey(keyPem: Uint8Array): Promise<{ key: CryptoKey; type: KeyType }> {
  const der = pemDecode(keyPem, 'PRIVATE KEY')
  try {
    const ko = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    const t: KeyType =
      ko.asymmetricKeyType === 'ed25519'
        ? 'ed25519'
        : ko.asymmetricKeyType === 'rsa'
          ? (ko.asymmetricKeyDetails?.modulusLength ?? 2048) >= 3072
            ? 'rsa-3072'
            : 'rsa-2048'
          : ko.asymmetricKeyDetails?.namedCurve === 'secp384r1'
            ? 'ecdsa-p384'
            : 'ecdsa-p256'
    const alg = algorithm(t)
    const key = await subtle.importKey('pkcs8', der, alg.gen, false, ['sign'])
    return { key, type: t }
  } finally {
    der.fill(0)
  }
}

function serial(): string {
  const b = randomBytes(16)
  b[0] = (b[0] as number) & 0x7f // positive INTEGER (RFC 5280 §4.1.2.2)
  return b.toString('hex')
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - 60_000)
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) }
}

function dn(parts: Record<string, string | undefined>): string {
  return Object.entries(parts)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v.replace(/([,+"\\<>;=])/g, '\\$1')}`)
    .join(', ')
}

export interface CreateCaOptions {
  readonly commonName: string
  readonly keyType?: KeyType
  readonly validDays?: number
}

/**
 * Creates a self-signed CA certificate.
 *
 * @example
 * ```ts
 * const ca = await createCa({ commonName: 'Outpost Dev CA' })
 * const server = await issueServerCert({ ca, commonName: 'keyserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
 * ```
 */
export async function createCa(o: CreateCaOptions): Promise<Issued> {
  const t = o.keyType ?? 'ecdsa-p256'
  const keys = await generate(t)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn({ CN: o.commonName, O: 'Outpost' }),
    ...validity(o.validDays ?? 3650),
    signingAlgorithm: algorithm(t).sign,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) }
}

interface IssueOptions {
  readonly ca: Issued
  readonly subject: string
  readonly keyType: KeyType
  readonly validDays: number
  readonly san: x509.JsonGeneralName[]
  readonly extKeyUsage: x509.ExtendedKeyUsageType[]
}

async function issue(o: IssueOptions): Promise<Issued> {
  const caCert = new x509.X509Certificate(pemDecode(Buffer.from(o.ca.certPem), 'CERTIFICATE'))
  const signer = await importSigningKey(o.ca.keyPem)
  const keys = await generate(o.keyType)
  // RFC 5280 §4.2.1.3: RSA keys may also be used for key transport.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- KeyUsageFlags is a bit set; OR of members is a valid value
  const usage: x509.KeyUsageFlags = o.keyType.startsWith('rsa')
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: o.subject,
    issuer: caCert.subject,
    ...validity(o.validDays),
    signingAlgorithm: algorithm(signer.type).sign,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension(o.extKeyUsage, false),
      new x509.SubjectAlternativeNameExtension(o.san, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  })
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) }
}

export interface ServerCertOptions {
  readonly ca: Issued
  readonly commonName: string
  readonly dnsNames?: readonly string[]
  readonly ipAddresses?: readonly string[]
  readonly keyType?: KeyType
  readonly validDays?: number
}

/** Issues a TLS server certificate (EKU serverAuth) for DNS names and IPs. */
export async function issueServerCert(o: ServerCertOptions): Promise<Issued> {
  const san: x509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ]
  return issue({
    ca: o.ca,
    subject: dn({ CN: o.commonName, O: 'Outpost' }),
    keyType: o.keyType ?? 'ecdsa-p256',
    validDays: o.validDays ?? 825,
    san,
    extKeyUsage: [x509.ExtendedKeyUsage.serverAuth],
  })
}

export interface NodeCertOptions extends NodeIdentity {
  readonly ca: Issued
  readonly keyType?: KeyType
  readonly validDays?: number
}

/** Issues a node (mTLS client) certificate carrying the node's identity (see identity.ts). */
export async function issueNodeCert(o: NodeCertOptions): Promise<Issued> {
  const uris = nodeIdentityUris(o)
  return issue({
    ca: o.ca,
    subject: dn({ CN: o.nodeId, OU: o.region, C: o.country, O: 'Outpost nodes' }),
    keyType: o.keyType ?? 'ecdsa-p256',
    validDays: o.validDays ?? 90,
    san: uris.map((value) => ({ type: 'url' as const, value })),
    extKeyUsage: [x509.ExtendedKeyUsage.clientAuth],
  })
}

/** Every certificate in a PEM bundle, as node:crypto X509Certificate objects. */
export function parseCertificates(pem: Uint8Array | string): X509Certificate[] {
  const bytes = typeof pem === 'string' ? Buffer.from(pem) : pem
  return pemDecodeAll(bytes, 'CERTIFICATE').map((b) => new X509Certificate(b.der))
}
