/**
 * @module
 * Config loading shared by every Outpost service.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * import { loadConfig } from '@outpost/config'
 * const Schema = z.object({ listen: z.string().default('127.0.0.1:2407') }).strict()
 * const cfg = loadConfig(Schema, 'keyserver.yaml', { envPrefix: 'OUTPOST_KEYSERVER' })
 * ```
 */
export { loadConfig, validateConfig, parseConfigText, ConfigError } from './load.ts'
export type { LoadOptions } from './load.ts'
export { hostPort, splitHostPort } from './schemas.ts'
