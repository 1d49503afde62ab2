/**
 * @module
 * The keyless protocol v1 (edge ↔ key server, docs/protocol/keyless.md): the
 * codec, a connection server, a failover client and a TLS `Signer` over it.
 *
 * @example
 * ```ts
 * import { KeylessClient, RemoteSigner, skiOf } from '@outpost/keyless'
 * const client = new KeylessClient({ servers: [{ host: '127.0.0.1', port: 2407 }], ca, cert, key })
 * const signer = new RemoteSigner({ client, ski: skiOf(certKey), schemes: [0x0403] })
 * ```
 */
export * from './codec/index.ts'
export * from './errors.ts'
export { skiOf, certificateDigestOf } from './key-id.ts'
export {
  serveConnection,
  errorResponse,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT,
  type PeerInfo,
  type OperationHandler,
  type ServeOptions,
  type ServeEvent,
} from './server.ts'
export {
  KeylessClient,
  type KeylessClientOptions,
  type KeylessServerAddress,
  type KeylessClientEvent,
  type EndpointState,
  type EndpointStatus,
  type ExecuteOptions,
} from './client.ts'
export { RemoteSigner, type RemoteSignerOptions } from './signer.ts'
