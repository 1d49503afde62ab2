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
import { nodeIdentityUris, validateNodeIdentity, type NodeIdentity } from './identity.ts'

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
  // A positive INTEGER (RFC 5280 §4.1.2.2) whose first octet is never 0: DER drops a
  // leading zero octet, and the serial we record must equal the certificate's.
  b[0] = ((b[0] as number) & 0x3f) | 0x40
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

interface SignedCertificate {
  readonly certPem: string
  /** Hex serial number. */
  readonly serial: string
  readonly notAfter: Date
}

interface SignOptions {
  readonly caCert: x509.X509Certificate
  readonly signer: { key: CryptoKey; type: KeyType }
  readonly subject: string
  readonly publicKey: CryptoKey
  /** RFC 5280 §4.2.1.3: RSA keys may also be used for key transport. */
  readonly isRsa: boolean
  readonly validDays: number
  readonly san: x509.JsonGeneralName[]
  readonly extKeyUsage: x509.ExtendedKeyUsageType[]
}

/** Signs an end-entity certificate for `publicKey` with the CA's key. */
async function signCertificate(o: SignOptions): Promise<SignedCertificate> {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- KeyUsageFlags is a bit set; OR of members is a valid value
  const usage: x509.KeyUsageFlags = o.isRsa
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature
  const serialNumber = serial()
  const v = validity(o.validDays)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: o.subject,
    issuer: o.caCert.subject,
    ...v,
    signingAlgorithm: algorithm(o.signer.type).sign,
    publicKey: o.publicKey,
    signingKey: o.signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension(o.extKeyUsage, false),
      new x509.SubjectAlternativeNameExtension(o.san, false),
      await x509.SubjectKeyIdentifierExtension.create(o.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(o.caCert),
    ],
  })
  return { certPem: cert.toString('pem') + '\n', serial: serialNumber, notAfter: v.notAfter }
}

function parseCaCert(ca: Issued): x509.X509Certificate {
  return new x509.X509Certificate(pemDecode(Buffer.from(ca.certPem), 'CERTIFICATE'))
}

function nodeSubject(id: NodeIdentity): string {
  return dn({ CN: id.nodeId, OU: id.region, C: id.country, O: 'Outpost nodes' })
}

function nodeSan(id: NodeIdentity): x509.JsonGeneralName[] {
  return nodeIdentityUris(id).map((value) => ({ type: 'url' as const, value }))
}

interface IssueOptions {
  readonly ca: Issued
  readonly subject: string
  readonly keyType: KeyType
  readonly validDays: number
  readonly san: x509.JsonGeneralName[]
  readonly extKeyUsage: x509.ExtendedKeyUsageType[]
}

/** Generates a key pair of `keyType` and a certificate for it. */
async function issue(o: IssueOptions): Promise<Issued> {
  const signer = await importSigningKey(o.ca.keyPem)
  const keys = await generate(o.keyType)
  const signed = await signCertificate({
    caCert: parseCaCert(o.ca),
    signer,
    subject: o.subject,
    publicKey: keys.publicKey,
    isRsa: o.keyType.startsWith('rsa'),
    validDays: o.validDays,
    san: o.san,
    extKeyUsage: o.extKeyUsage,
  })
  return { certPem: signed.certPem, keyPem: await exportKeyPem(keys.privateKey) }
}

/** A CA whose key was imported once (non-extractable) to issue node certificates. */
export interface NodeCertificateAuthority {
  readonly certPem: string
  /**
   * Issues a node certificate carrying `id` (see identity.ts) for a public key the
   * node generated itself, e.g. from a verified CSR: the node's private key never
   * leaves the node.
   */
  issueNodeCertificate(
    publicKey: CryptoKey,
    id: NodeIdentity,
    validDays?: number,
  ): Promise<SignedCertificate>
}

/**
 * Loads a CA for issuing node certificates; the key bytes in `ca.keyPem` are
 * zeroised once imported.
 *
 * @example
 * ```ts
 * const ca = await loadNodeCertificateAuthority(readIssued('ca.pem', 'ca-key.pem'))
 * const csr = new x509.Pkcs10CertificateRequest(csrPem)
 * const cert = await ca.issueNodeCertificate(await csr.publicKey.export(), { nodeId, region, country })
 * ```
 */
export async function loadNodeCertificateAuthority(ca: Issued): Promise<NodeCertificateAuthority> {
  const caCert = parseCaCert(ca)
  const signer = await importSigningKey(ca.keyPem)
  ca.keyPem.fill(0)
  return {
    certPem: ca.certPem,
    issueNodeCertificate: async (publicKey, id, validDays = 90) =>
      signCertificate({
        caCert,
        signer,
        subject: nodeSubject(id),
        publicKey,
        isRsa: publicKey.algorithm.name.startsWith('RSA'),
        validDays,
        san: nodeSan(validateNodeIdentity(id)),
        extKeyUsage: [x509.ExtendedKeyUsage.clientAuth],
      }),
  }
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
  return issue({
    ca: o.ca,
    subject: nodeSubject(o),
    keyType: o.keyType ?? 'ecdsa-p256',
    validDays: o.validDays ?? 90,
    san: nodeSan(validateNodeIdentity(o)),
    extKeyUsage: [x509.ExtendedKeyUsage.clientAuth],
  })
}

/** Every certificate in a PEM bundle, as node:crypto X509Certificate objects. */
export function parseCertificates(pem: Uint8Array | string): X509Certificate[] {
  const bytes = typeof pem === 'string' ? Buffer.from(pem) : pem
  return pemDecodeAll(bytes, 'CERTIFICATE').map((b) => new X509Certificate(b.der))
}
