/**
 * @module
 * The edge: a keyless HTTPS reverse proxy with an encrypted disk cache.
 *
 * @example
 * ```ts
 * import { startEdge } from '@outpost/edge'
 * const edge = await startEdge({ plaintext: true, sites: [{ hosts: ['a.test'], origin: 'http://127.0.0.1:8080' }] })
 * // … edge.address, edge.reload(), edge.wipe()
 * await edge.close()
 * ```
 */
export { startEdge, type RunningEdge, type StartEdgeOptions } from './start.ts'
export {
  EdgeConfigSchema,
  loadEdgeConfig,
  parseEdgeConfig,
  type EdgeConfig,
  type EdgeConfigInput,
  type SiteConfig,
} from './config.ts'
export { EdgeError, type EdgeErrorCode } from './errors.ts'
export { EdgeServer } from './proxy/edge-server.ts'
export { RequestHandler, CacheStatus, type ConnInfo, type RequestRecord } from './proxy/handler.ts'
export { AesGcmEnvelope, NullEnvelope, type Envelope } from './cache/envelope.ts'
export { DiskStore, type PurgeSelector } from './cache/disk-store.ts'
export { HttpCache } from './cache/http-cache.ts'
export { EdgeMetrics, InstrumentedSigner } from './metrics.ts'
export { AccessLog, truncateIp } from './access-log.ts'
export { MemoryStekProvider } from './stek.ts'
export { enrolNode, type EnrolOptions } from './node/enrol.ts'
export { startNode, type NodeRunOptions, type RunningNode } from './node/run-node.ts'
export { NODE_FILES, readNodeFile, writeNodeFile, type NodeFile } from './node/node-file.ts'
