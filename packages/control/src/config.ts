/** control.yaml: the control plane's configuration (env prefix OUTPOST_CONTROL). */
import { z } from 'zod'
import { hostPort, loadConfig } from '@outpost/config'

export const ENV_PREFIX = 'OUTPOST_CONTROL'

const files = z.object({ certFile: z.string(), keyFile: z.string() }).strict()

export const ControlConfigSchema = z
  .object({
    /** The operator API, dashboard and enrolment endpoint. */
    listen: hostPort.default('127.0.0.1:8440'),
    /** The node-facing API; requires client certificates from the node CA. */
    nodeListen: hostPort.default('127.0.0.1:8441'),
    database: z
      .object({
        /** node:sqlite file, or ':memory:'. */
        path: z.string().default('.outpost/control.db'),
        /** PostgreSQL connection string; when given, `path` is ignored. */
        url: z.string().optional(),
      })
      .strict()
      .default({ path: '.outpost/control.db' }),
    /** Node CA (PEM files). Without it a throwaway CA is made in memory (development). */
    nodeCa: files.optional(),
    /** TLS server certificate of the node listener (default: issued by the node CA). */
    nodeTls: files.optional(),
    /** Ed25519 PKCS#8 PEM that signs config bundles (default: generated in memory). */
    bundleKeyFile: z.string().optional(),
    stek: z
      .object({
        rotateSeconds: z.number().int().min(60).default(3600),
        maxRetentionSeconds: z.number().int().min(60).default(64_800),
      })
      .strict()
      .default({ rotateSeconds: 3600, maxRetentionSeconds: 64_800 }),
    /**
     * Clearance-cookie HMAC keys handed to every node in its lease (clearance-keys.ts): a new
     * key every `rotateSeconds`, the `history` previous ones still accepted.
     */
    clearanceKeys: z
      .object({
        rotateSeconds: z.number().int().min(60).default(21_600),
        history: z.number().int().min(0).max(48).default(4),
      })
      .strict()
      .default({ rotateSeconds: 21_600, history: 4 }),
    /** Key servers that receive the revocation list (their admin Unix sockets). */
    keyServers: z.array(z.object({ adminSocket: z.string() }).strict()).default([]),
    screening: z.object({ listsDir: z.string().optional() }).strict().default({}),
    /**
     * The public programme endpoints (application form, referral hand-in) per client
     * address (IPv4 address, IPv6 /64), per hour: beyond them 429 with Retry-After.
     */
    programme: z
      .object({
        applicationsPerHour: z.number().int().min(1).default(10),
        referralsPerHour: z.number().int().min(1).default(60),
      })
      .strict()
      .default({ applicationsPerHour: 10, referralsPerHour: 60 }),
    /**
     * The per-node Tang server at `/tang/<nodeId>` (boot unlock of nodes). `dir` holds one
     * key directory per node; default `tang/` beside the database file (a temporary
     * directory, removed at close, for `:memory:`).
     */
    tang: z
      .object({ enabled: z.boolean().default(true), dir: z.string().optional() })
      .strict()
      .default({ enabled: true }),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .strict()

export type ControlConfig = z.infer<typeof ControlConfigSchema>
export type ControlConfigInput = z.input<typeof ControlConfigSchema>

export function loadControlConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ControlConfig {
  return loadConfig(ControlConfigSchema, file, { envPrefix: ENV_PREFIX, env })
}
