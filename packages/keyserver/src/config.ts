/**
 * The key server's configuration (`keyserver.yaml`, env prefix OUTPOST_KEYSERVER).
 * Every field has a default except the TLS files and the keystore; unknown
 * fields are errors, and every error names the field.
 *
 * @example
 * ```yaml
 * listen: 127.0.0.1:2407
 * metricsListen: 127.0.0.1:2406
 * adminSocket: /run/outpost/keyserver-admin.sock
 * tls: { certFile: server.pem, keyFile: server-key.pem, caFile: node-ca.pem }
 * keystore: { type: directory, dir: /var/lib/outpost/keys }
 * audit: { file: /var/log/outpost/keyserver-audit.jsonl }
 * ```
 */
import { z } from 'zod'
import { hostPort, loadConfig } from '@outpost/config'
import { KeyPolicySchema } from './policy.ts'

export const ENV_PREFIX = 'OUTPOST_KEYSERVER'

const positiveInt = z.number().int().positive()

const DirectoryKeystoreSchema = z
  .object({
    type: z.literal('directory'),
    /** Holds keystore.json and keys/ (see sealed-keystore.ts). */
    dir: z.string().min(1),
  })
  .strict()

const Pkcs11KeystoreSchema = z
  .object({
    type: z.literal('pkcs11'),
    /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
    module: z.string().min(1),
    /** Label of the token to use. */
    tokenLabel: z.string().min(1),
    /** Name of the environment variable that holds the user PIN (never the PIN itself). */
    pinEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'Expected an environment variable name'),
    /** Policy per key, by SKI in hex. Keys without an entry have an empty policy. */
    policies: z
      .record(z.string().regex(/^[0-9a-f]{40}$/, 'Expected a 40-digit hex SKI'), KeyPolicySchema)
      .default({}),
  })
  .strict()

export const KeyServerConfigSchema = z
  .object({
    /** mTLS listener for keyless clients. */
    listen: hostPort.default('127.0.0.1:2407'),
    /** Prometheus /metrics over plain HTTP; "off" disables it. */
    metricsListen: z.union([hostPort, z.literal('off')]).default('127.0.0.1:2406'),
    /** Unix socket of the local admin API (created with mode 0600). */
    adminSocket: z.string().min(1).default('.outpost/keyserver/admin.sock'),
    tls: z
      .object({
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
        /** CA bundle that client (node) certificates must chain to. */
        caFile: z.string().min(1),
        /** Allow TLS 1.2 (ECDHE-ECDSA/RSA-AES256-GCM-SHA384 only) for existing keyless clients. */
        allowTls12: z.boolean().default(true),
      })
      .strict(),
    keystore: z.discriminatedUnion('type', [DirectoryKeystoreSchema, Pkcs11KeystoreSchema]),
    /** File of revoked node ids (one per line, '#' comments); watched, and reloaded on SIGHUP. */
    revocationsFile: z.string().min(1).optional(),
    /**
     * Remote revocations (ADR 0009): long-poll the control plane's node API
     * (`GET /node/v1/revocations`) over mTLS with a certificate from the node CA.
     */
    revocationFeed: z
      .object({
        url: z.url(),
        caFile: z.string().min(1),
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
      })
      .strict()
      .optional(),
    audit: z
      .object({
        /** JSON-lines, hash-chained audit log. */
        file: z.string().min(1).default('.outpost/keyserver/audit.jsonl'),
        /**
         * 0 (default): each turn's records are written at the end of that turn. Up to
         * 1000: written in larger batches, at most this many ms late (a killed process
         * loses up to that much of the trail; saves ~0.5 µs of CPU per operation).
         */
        writeDelayMs: z.number().int().min(0).max(1000).default(0),
      })
      .strict()
      .default({ file: '.outpost/keyserver/audit.jsonl', writeDelayMs: 0 }),
    limits: z
      .object({
        /** Requests in flight per connection; beyond it an immediate Busy. */
        maxInFlightPerConnection: positiveInt.default(256),
        /** Requests in flight over all connections; beyond it an immediate Busy. */
        maxInFlightTotal: positiveInt.default(4096),
        /** Token bucket per node: operations per second... */
        ratePerNode: positiveInt.default(20_000),
        /** ...and burst size. */
        burstPerNode: positiveInt.default(40_000),
        /** Close a connection idle this long (gokeyless: 30 s). */
        idleTimeoutMs: positiveInt.default(30_000),
      })
      .strict()
      .default({
        maxInFlightPerConnection: 256,
        maxInFlightTotal: 4096,
        ratePerNode: 20_000,
        burstPerNode: 40_000,
        idleTimeoutMs: 30_000,
      }),
    /** Refuse key operations (Unauthorized) from client certificates without a node id. */
    requireNodeIdentity: z.boolean().default(true),
    dev: z
      .object({
        /** Keep the shares in the keystore dir and unseal at start. Development only. */
        autoUnseal: z.boolean().default(false),
      })
      .strict()
      .default({ autoUnseal: false }),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()

/** The validated configuration. */
export type KeyServerConfig = z.infer<typeof KeyServerConfigSchema>
/** What callers may pass to `startKeyServer` (defaults filled in). */
export type KeyServerConfigInput = z.input<typeof KeyServerConfigSchema>

/** Loads and validates `file` with environment overrides; throws ConfigError naming the field. */
export function loadKeyServerConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): KeyServerConfig {
  return loadConfig(KeyServerConfigSchema, file, { envPrefix: ENV_PREFIX, env })
}
