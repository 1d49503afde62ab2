/**
 * @module
 * The `outpost` command tree, for tests that drive the CLI in process.
 */
export { root } from './root.ts'
