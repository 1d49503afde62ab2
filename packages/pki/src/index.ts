/**
 * @module
 * Development PKI and node identity for Outpost.
 *
 * @example
 * ```ts
 * import { createCa, issueNodeCert, nodeIdentityFromCert, parseCertificates } from '@outpost/pki'
 * const ca = await createCa({ commonName: 'Outpost Dev CA' })
 * const node = await issueNodeCert({ ca, nodeId: 'edge-1', region: 'eu-east', country: 'UA' })
 * nodeIdentityFromCert(parseCertificates(node.certPem)[0]) // { nodeId: 'edge-1', region: 'eu-east', country: 'UA' }
 * ```
 */
export {
  createCa,
  issueServerCert,
  issueNodeCert,
  loadNodeCertificateAuthority,
  parseCertificates,
  KEY_TYPES,
} from './certs.ts'
export type {
  Issued,
  KeyType,
  CreateCaOptions,
  ServerCertOptions,
  NodeCertOptions,
  NodeCertificateAuthority,
} from './certs.ts'
export {
  nodeIdentityFromCert,
  nodeIdentityFromSan,
  nodeIdentityUris,
  validateNodeIdentity,
  IdentityError,
} from './identity.ts'
export type { NodeIdentity } from './identity.ts'
export { pemEncode, pemDecode, pemDecodeAll, PemError } from './pem.ts'
export { writeDevPki, readIssued, writeServerCert, writeNodeCert } from './dev-pki.ts'
export type { DevPki } from './dev-pki.ts'
