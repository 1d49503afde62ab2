/**
 * The data-path contract between the edge and the protection engine: one
 * `evaluate()` per request returns what to do, synchronously.
 */

/** Header values as Node delivers them (lower-case names). */
export type Headers = Readonly<Record<string, string | readonly string[] | undefined>>

export interface RequestFacts {
  /** Zone (site) name the request belongs to. */
  readonly zone: string
  readonly host: string
  readonly method: string
  /** Request target as received (path and query). */
  readonly path: string
  readonly headers: Headers
  /** Client address (the transport peer, or a trusted forwarder's value). */
  readonly ip: string
  /** True when the visitor came over TLS (sets `Secure` on cookies). */
  readonly secure?: boolean
  /** Milliseconds since the epoch; defaults to Date.now(). */
  readonly now?: number
}

/** Why a request was not simply passed. */
export type Reason =
  | 'rule-block'
  | 'rate-limit'
  | 'token-rate-limit'
  | 'banned'
  | 'challenge'
  | 'under-attack'
  | 'challenge-route'

export interface Response {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
}

export type Decision =
  | {
      readonly kind: 'pass'
      /** nginx `delay`: wait this long before forwarding (0 for nodelay). */
      readonly delayMs: number
      /** The allow-list class that matched, when one did. */
      readonly allowed?: AllowClass
      /** Extra response headers to add (e.g. Set-Cookie after Privacy Pass). */
      readonly headers?: Readonly<Record<string, string>>
    }
  | ({ readonly kind: 'respond'; readonly reason: Reason; readonly rule?: string } & Response)
  | ({ readonly kind: 'challenge'; readonly reason: Reason; readonly rule?: string } & Response)

/** The action classes a decision falls into (B7 corpus, metrics). */
export type ActionClass = 'allow' | 'pass' | 'challenge' | 'block' | 'rate-limit'

export type AllowClass =
  'cidr' | 'token' | 'feed' | 'monitor' | 'preview' | 'git' | 'crawler' | 'user-agent'

/** One decision-log line. Never carries a raw client address (AP20). */
export interface DecisionLogEntry {
  readonly time: number
  readonly zone: string
  /** Keyed hash (HMAC-SHA256, truncated, hex) of the client address. */
  readonly client: string
  readonly method: string
  readonly path: string
  readonly rule: string
  readonly action: ActionClass | 'ban'
  /** Set in log-only mode: what enforce mode would have done. */
  readonly would?: 'block' | 'challenge' | 'rate-limit'
}

/** A webhook alert when a zone's traffic departs from its norm. */
export interface AnomalyAlert {
  readonly zone: string
  readonly time: number
  readonly requests: number
  readonly mean: number
  readonly stddev: number
  readonly z: number
}

/** One 10 s bucket of a zone's timeline (what the dashboard renders). */
export interface TimelineBucket {
  readonly start: number
  readonly requests: number
  readonly passed: number
  readonly rejected: number
  readonly challenged: number
  readonly wouldBlock: number
  /** Highest requests in any one second of the bucket. */
  readonly peakRps: number
  /** Rules by hits in this bucket, most first (at most 5). */
  readonly topRules: readonly { readonly rule: string; readonly hits: number }[]
}
