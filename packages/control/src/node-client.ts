/**
 * What an edge node needs from the control plane package, without the server:
 * bundle verification, CSR creation and the decision feed (`@outpost/control/node`).
 */
export { verifyBundle, BundleError } from './bundle.ts'
export type { SignedBundle, BundlePayload, BundleZone } from './bundle.ts'
export { createCsr, exportKeyPem } from './node-ca.ts'
export { DecisionFeedClient, nodeApiAgent } from './decision-feed-client.ts'
export type {
  FeedDecision,
  DecisionFeedClientOptions,
  NodeTlsOptions,
} from './decision-feed-client.ts'
