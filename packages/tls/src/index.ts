/**
 * @module
 * Outpost's TLS 1.3 server. The handshake's one private-key operation goes
 * through an asynchronous {@link Signer}, so the key can live elsewhere.
 *
 * @example
 * ```ts
 * import http from 'node:http'
 * import { readFileSync } from 'node:fs'
 * import { createTlsServer, StaticCertificateSource, LocalSigner, certificatesFromPem } from '@outpost/tls'
 *
 * const certificates = new StaticCertificateSource([
 *   { chain: certificatesFromPem(readFileSync('chain.pem')), signer: LocalSigner.fromPem(readFileSync('key.pem')) },
 * ])
 * const app = http.createServer((req, res) => res.end('hello\n'))
 * createTlsServer({ certificates, alpnProtocols: ['http/1.1'] }, (conn) => app.emit('connection', conn))
 *   .listen(8443, '127.0.0.1')
 * ```
 */
export type { Signer, SignContext } from './signer.ts'
export {
  SignatureScheme,
  nameOfSignatureScheme,
  hashOfSignatureScheme,
  CipherSuite,
  NamedGroup,
  AlertDescription,
  nameOfAlert,
  nameOfCipherSuite,
  nameOfNamedGroup,
} from './constants.ts'
export {
  TlsError,
  TlsDecodeError,
  PeerMisbehavedError,
  PeerIncompatibleError,
  InternalError,
  AlertReceivedError,
  ConnectionClosedError,
  alertFor,
  type TlsErrorCode,
} from './errors.ts'
export type { TlsServerConfig, RecordPaddingPolicy } from './server/config.ts'
export {
  StaticCertificateSource,
  certificatesFromPem,
  type CertificateSource,
  type CertificateQuery,
  type CertificateSelection,
} from './certificates.ts'
export { LocalSigner, schemesForKey } from './local-signer.ts'
export { RotatingStekProvider, type StekProvider, type Stek } from './tickets.ts'
export { ServerConnection, type ConnectionInfo } from './server/machine.ts'
export type { SignRequest } from './server/state.ts'
export { TlsConnection, accept } from './node/connection.ts'
export { createTlsServer } from './node/server.ts'
export { aes256GcmOnce, type Aes256GcmOnce } from './crypto/aead-once.ts'
export { nativeEcSigner, type EcSigner } from './crypto/ec-signer.ts'
export { releaseDroppedSecrets, trimNativeHeap } from './crypto/heap.ts'
