/**
 * Server configuration: what the caller supplies ({@link TlsServerConfig}) and
 * the resolved form the state machine reads (defaults applied, ALPN names as
 * bytes, a ticket sealer, a per-config HRR cookie key). Resolve once per server,
 * not per connection: `resolveConfig` caches by object identity.
 */
import { randomBytes } from 'node:crypto'
import { CipherSuite, NamedGroup } from '../constants.ts'
import type { CertificateSource } from '../certificates.ts'
import { SUITES, type SuiteParams } from '../crypto/suites.ts'
import { SUPPORTED_GROUPS } from '../crypto/key-exchange.ts'
import { publicRandom } from '../crypto/random.ts'
import { RotatingStekProvider, TicketSealer, type StekProvider } from '../tickets.ts'

/** How much zero padding to add to each protected record (RFC 8446 §5.4). */
export type RecordPaddingPolicy =
  | 'none'
  /** Pad the inner plaintext to a multiple of `blockBytes` (capped at 2^14 + 1). */
  | { readonly blockBytes: number }

/** What a handshake admission hook sees (after PSK processing, before key exchange). */
export interface HandshakeAdmissionInfo {
  /** The SNI host name; certificate selection has already accepted it. */
  readonly serverName: string | undefined
  /** True when a PSK ticket was accepted: no signature will be needed. */
  readonly resumed: boolean
  /** The peer's address as the transport reports it (Node adapter: socket.remoteAddress). */
  readonly peer: string | undefined
}

/** Returns undefined to admit the handshake, or a short reason to refuse it. */
export type HandshakeAdmit = (info: HandshakeAdmissionInfo) => string | undefined

export interface TlsServerConfig {
  /** Picks the certificate chain and signer per ClientHello. */
  readonly certificates: CertificateSource
  /** ALPN protocol names in server preference order, e.g. ['h2', 'http/1.1']. */
  readonly alpnProtocols?: readonly string[]
  /** STEKs for session tickets; default: an in-memory RotatingStekProvider per config. */
  readonly stekProvider?: StekProvider
  /** NewSessionTickets after each handshake (full or resumed); 0 disables; default 2. */
  readonly ticketsPerHandshake?: number
  /** ticket_lifetime (RFC 8446 §4.6.1, at most 604800); default 7200. */
  readonly ticketLifetimeSeconds?: number
  /** Key exchange groups in preference order; default X25519MLKEM768, x25519, secp256r1, secp384r1. */
  readonly groups?: readonly NamedGroup[]
  /** Cipher suites in preference order; default AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305. */
  readonly cipherSuites?: readonly CipherSuite[]
  /** Node adapter: the handshake must finish within this time; default 10000. */
  readonly handshakeTimeoutMs?: number
  /** Node adapter: close after this long without traffic; default 120000; 0 disables. */
  readonly idleTimeoutMs?: number
  readonly recordPadding?: RecordPaddingPolicy
  /** Randomness (ServerHello.random, ticket fields); default a CSPRNG pool (crypto/random.ts). Tests pass a fixed source. */
  readonly random?: (bytes: number) => Uint8Array
  /** Clock in ms for ticket ages; default Date.now. */
  readonly now?: () => number
  /**
   * Handshake admission (budgets against ClientHello floods): called once per
   * handshake after certificate selection and PSK processing, before any key
   * exchange or signature. A reason refuses with handshake_failure.
   */
  readonly admit?: HandshakeAdmit
}

export interface ResolvedConfig {
  readonly certificates: CertificateSource
  readonly alpnProtocols: readonly Uint8Array[]
  readonly tickets: TicketSealer | undefined
  readonly ticketsPerHandshake: number
  readonly ticketLifetimeSeconds: number
  readonly groups: readonly NamedGroup[]
  readonly suites: readonly SuiteParams[]
  readonly handshakeTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly recordPadding: RecordPaddingPolicy
  readonly random: (bytes: number) => Uint8Array
  readonly now: () => number
  /** HMAC key for HelloRetryRequest cookies; lives as long as the config. */
  readonly cookieKey: Uint8Array
  readonly admit: HandshakeAdmit | undefined
  /** The connection's peer address, set per connection by `forPeer` when `admit` is configured. */
  readonly peer?: string
}

const cache = new WeakMap<TlsServerConfig, ResolvedConfig>()

export function resolveConfig(config: TlsServerConfig): ResolvedConfig {
  const hit = cache.get(config)
  if (hit) return hit
  const suites = (config.cipherSuites ?? SUITES.map((s) => s.id)).map((id) => {
    const s = SUITES.find((x) => x.id === id)
    if (!s) throw new TypeError(`Cannot configure cipher suite 0x${id.toString(16)}: not supported`)
    return s
  })
  const groups = config.groups ?? SUPPORTED_GROUPS
  for (const g of groups) {
    if (!SUPPORTED_GROUPS.includes(g))
      throw new TypeError(`Cannot configure group 0x${g.toString(16)}: not supported`)
  }
  const ticketsPerHandshake = config.ticketsPerHandshake ?? 2
  const lifetime = Math.min(config.ticketLifetimeSeconds ?? 7200, 604800)
  const resolved: ResolvedConfig = {
    certificates: config.certificates,
    alpnProtocols: (config.alpnProtocols ?? []).map((p) => new TextEncoder().encode(p)),
    tickets: config.stekProvider
      ? new TicketSealer(config.stekProvider)
      : ticketsPerHandshake > 0
        ? new TicketSealer(new RotatingStekProvider())
        : undefined,
    ticketsPerHandshake,
    ticketLifetimeSeconds: lifetime,
    groups,
    suites,
    handshakeTimeoutMs: config.handshakeTimeoutMs ?? 10_000,
    idleTimeoutMs: config.idleTimeoutMs ?? 120_000,
    recordPadding: config.recordPadding ?? 'none',
    random: config.random ?? publicRandom,
    now: config.now ?? Date.now,
    cookieKey: new Uint8Array(randomBytes(32)),
    admit: config.admit,
  }
  cache.set(config, resolved)
  return resolved
}

/**
 * The per-connection view of a resolved config that carries the peer address
 * for `admit`; the shared config itself when there is no admission hook.
 */
export function forPeer(resolved: ResolvedConfig, peer: string | undefined): ResolvedConfig {
  if (resolved.admit === undefined || peer === undefined) return resolved
  return { ...resolved, peer }
}
