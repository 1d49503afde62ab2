/**
 * @module
 * Outpost's TLS 1.3 server. The handshake's one private-key operation goes
 * through an asynchronous {@link Signer}, so the key can live elsewhere.
 */
export type { Signer, SignContext } from './signer.ts'
export { SignatureScheme, nameOfSignatureScheme, hashOfSignatureScheme } from './constants.ts'
