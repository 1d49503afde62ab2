/**
 * What an edge node needs from the control plane package, without the server:
 * bundle verification and CSR creation (`@outpost/control/node`).
 */
export { verifyBundle, BundleError } from './bundle.ts'
export type { SignedBundle, BundlePayload, BundleZone } from './bundle.ts'
export { createCsr, exportKeyPem } from './node-ca.ts'
