/**
 * The edge's configuration (`outpost edge run --config edge.yaml`), validated by
 * zod through @outpost/config; every error names the field. Environment
 * overrides use the prefix OUTPOST_EDGE (e.g. OUTPOST_EDGE_LISTEN).
 */
import { z } from 'zod'
import { hostPort, loadConfig, validateConfig } from '@outpost/config'
import { ProtectionSchema } from '@outpost/protect'

const hostname = z
  .string()
  .regex(
    /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/,
    'Expected a lower-case DNS name',
  )

const originUrl = z
  .url()
  .refine((s) => /^https?:\/\//.test(s), 'Expected an http:// or https:// URL')

export const SiteSchema = z
  .object({
    /** Host names served by this site (SNI and Host). */
    hosts: z.array(hostname).min(1),
    /** The customer's origin, e.g. http://10.0.0.5:8080. */
    origin: originUrl,
    /** PEM certificate chain files (public only: the key stays on the key server). */
    certificates: z.array(z.string()).default([]),
    /** The key on the key server: its SKI (hex SHA-1 of the public key) and the pool to ask. */
    key: z
      .object({
        ski: z.string().regex(/^[0-9a-fA-F]{40}$/, 'Expected 40 hex digits'),
        pool: z.string(),
      })
      .strict()
      .optional(),
    /** Cache responses for this site (default true). */
    cache: z.boolean().default(true),
    /** Attack protection for this site (docs/protect.md); default: the top-level `protection`. */
    protection: ProtectionSchema.optional(),
  })
  .strict()

export const KeyServerPoolSchema = z
  .object({
    servers: z.array(hostPort).min(1),
    /** CA that signed the key servers' certificates (PEM). */
    caFile: z.string(),
    /** This node's client certificate and key for mutual TLS (PEM). */
    certFile: z.string(),
    keyFile: z.string(),
  })
  .strict()

// --- limits: attack limits (handshake budgets, signer queue, HTTP/1 and HTTP/2) ---

const perSecond = z
  .object({
    /** Sustained rate (events per second). */
    rate: z.number().positive(),
    /** Events allowed back to back above the rate. */
    burst: z.number().int().positive(),
  })
  .strict()
const ms = z.number().int().positive()

/**
 * Attack limits (docs/edge.md "Attack limits"); every field has an edge-grade
 * default, so `limits: {}` or no `limits` at all is fine.
 */
export const LimitsSchema = z
  .object({
    /** Full TLS handshakes (each costs a key exchange and a key-server signature); resumptions are exempt. */
    handshakes: z
      .object({
        perIp: perSecond.default({ rate: 20, burst: 40 }),
        /** Per IPv4 /24 and IPv6 /64. */
        perPrefix: perSecond.default({ rate: 100, burst: 200 }),
        /** Per site (zone), whichever of its host names was asked for. */
        perZone: perSecond.default({ rate: 1000, burst: 2000 }),
        /** For the whole node (HAProxy `maxsslrate`). */
        perNode: perSecond.default({ rate: 4000, burst: 8000 }),
        /** Addresses and prefixes remembered (least recently seen forgotten first). */
        maxTrackedKeys: z.number().int().positive().default(100_000),
      })
      .strict()
      .prefault({}),
    /** The queue in front of each key-server pool: beyond it, handshakes are shed at once. */
    signer: z
      .object({
        maxInFlight: z.number().int().positive().default(256),
        maxQueued: z.number().int().nonnegative().default(512),
        /** A queued signature that has not started by then is shed. */
        queueDeadlineMs: ms.default(250),
      })
      .strict()
      .prefault({}),
    http1: z
      .object({
        /** Whole request head must arrive within this (Node default 60 s). */
        headersTimeoutMs: ms.default(15_000),
        /** Whole request must arrive within this (Node default 300 s). */
        requestTimeoutMs: ms.default(60_000),
        keepAliveTimeoutMs: ms.default(5_000),
        /** Requests per connection before it is closed (0: unlimited). */
        maxRequestsPerSocket: z.number().int().nonnegative().default(1000),
        /** How often the timeouts above are checked (Node default 30 s). */
        checkIntervalMs: ms.default(1_000),
        /**
         * Read HTTP/1.1 connections to protected sites at the front door first, so that
         * plain GET/HEAD requests protection refuses are answered without node:http
         * (docs/protect.md, ADR 0011). false: node:http reads every request.
         */
        frontDoor: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    http2: z
      .object({
        /** SETTINGS_MAX_CONCURRENT_STREAMS (nginx: 128; Node default 2^32-1). */
        maxConcurrentStreams: z.number().int().positive().default(128),
        /** nghttp2's rapid-reset limit (CVE-2023-44487): burst and refill per second. */
        streamResetBurst: z.number().int().positive().default(100),
        streamResetRate: z.number().int().positive().default(10),
        /** SETTINGS_MAX_HEADER_LIST_SIZE in bytes. */
        maxHeaderListSize: z.number().int().positive().default(32_768),
        /** Streams the client cancels before any response, per connection, before GOAWAY. */
        maxEarlyResets: z.number().int().positive().default(50),
        /** SETTINGS and PING frames per second per connection before GOAWAY. */
        maxControlFramesPerSecond: z.number().int().positive().default(100),
        /** Close an HTTP/2 session idle this long. */
        idleTimeoutMs: ms.default(60_000),
      })
      .strict()
      .prefault({}),
    /** Drop a client that has not taken written data for this long (slow read). */
    writeTimeoutMs: ms.default(30_000),
    perIp: z
      .object({
        /** Open visitor connections per client IP. */
        maxConnections: z.number().int().positive().default(256),
        /** New HTTP/2 streams per client IP, over all its connections and reconnections. */
        newStreams: perSecond.default({ rate: 200, burst: 400 }),
      })
      .strict()
      .prefault({}),
  })
  .strict()

export type EdgeLimits = z.infer<typeof LimitsSchema>

// --- end limits ---

export const EdgeConfigSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:8443'),
    /**
     * Serve plain HTTP/1.1 instead of TLS on `listen` (development and tests).
     * The data path is the same; only the TLS layer is skipped.
     */
    plaintext: z.boolean().default(false),
    sites: z.array(SiteSchema).min(1),
    keyServers: z.record(z.string(), KeyServerPoolSchema).default({}),
    cache: z
      .object({
        dir: z.string(),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(256 * 1024 * 1024),
        /** Larger responses are streamed but not stored. */
        maxEntryBytes: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
      })
      .strict()
      .optional(),
    admin: z
      .object({
        listen: hostPort.default('127.0.0.1:9444'),
        /** SHA-256 (hex) of the bearer token; the token itself is never in the config. */
        tokenSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'Expected 64 hex digits (SHA-256)'),
      })
      .strict()
      .optional(),
    metrics: z
      .object({ listen: hostPort.default('127.0.0.1:9445') })
      .strict()
      .optional(),
    accessLog: z
      .object({
        /** File to append JSON lines to; "-" for standard output. */
        path: z.string(),
        /** How client IPs are logged: truncated (IPv4 /24, IPv6 /48), hashed, or in full. */
        clientIp: z.enum(['truncate', 'hash', 'full']).default('truncate'),
        /**
         * Requests answered by protection (429, 403, challenge) logged per second; the
         * rest of a flood is counted in the next line's "suppressed" (0: none logged).
         */
        rejectsPerSecond: z.number().int().nonnegative().default(10),
      })
      .strict()
      .optional(),
    timeouts: z
      .object({
        connectMs: z.number().int().positive().default(5000),
        headersMs: z.number().int().positive().default(30000),
        bodyIdleMs: z.number().int().positive().default(30000),
      })
      .strict()
      .default({ connectMs: 5000, headersMs: 30000, bodyIdleMs: 30000 }),
    stek: z
      .object({
        rotateSeconds: z.number().int().positive().default(3600),
        keepSeconds: z.number().int().positive().default(64800),
      })
      .strict()
      .default({ rotateSeconds: 3600, keepSeconds: 64800 }),
    /** Attack limits (see LimitsSchema). */
    limits: LimitsSchema.prefault({}),
    /** Attack protection for every site without its own `protection` (docs/protect.md). */
    protection: ProtectionSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.sites.forEach((s, i) => {
      s.hosts.forEach((h, j) => {
        if (seen.has(h))
          ctx.addIssue({
            code: 'custom',
            path: ['sites', i, 'hosts', j],
            message: `Host ${h} is served by two sites`,
          })
        seen.add(h)
      })
      if (s.key !== undefined && !(s.key.pool in c.keyServers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sites', i, 'key', 'pool'],
          message: `No key server pool named ${s.key.pool}`,
        })
      }
      if (!c.plaintext && (s.key === undefined || s.certificates.length === 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sites', i],
          message: 'A TLS site needs certificates and a key (or set plaintext: true)',
        })
      }
    })
  })
  // A site without its own `protection` takes the top-level one.
  .transform((c) => ({
    ...c,
    sites: c.sites.map((s) =>
      s.protection === undefined && c.protection !== undefined
        ? { ...s, protection: c.protection }
        : s,
    ),
  }))

export type EdgeConfig = z.infer<typeof EdgeConfigSchema>
export type EdgeConfigInput = z.input<typeof EdgeConfigSchema>
export type SiteConfig = z.infer<typeof SiteSchema>

/** Loads and validates an edge config file (YAML), with OUTPOST_EDGE_* overrides. */
export function loadEdgeConfig(file: string, env?: NodeJS.ProcessEnv): EdgeConfig {
  return loadConfig(EdgeConfigSchema, file, {
    envPrefix: 'OUTPOST_EDGE',
    ...(env !== undefined ? { env } : {}),
  })
}

/** Validates an in-memory config (what `startEdge` takes from `outpost up`). */
export function parseEdgeConfig(input: unknown): EdgeConfig {
  return validateConfig(EdgeConfigSchema, input, '(in-memory edge config)')
}
