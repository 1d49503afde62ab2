/**
 * The edge side of the decision feed (docs/protect-control.md): long-polls
 * `GET /node/v1/decisions?after=VERSION&wait=SECONDS` over mTLS, keeps the
 * latest snapshot, and answers "is this zone under attack?" and "is this
 * address banned here?" from memory. Expiry is enforced locally (the control
 * plane does not announce a TTL running out), corrected by the offset between
 * the control plane's `serverTime` and the local clock. Errors back off from
 * 0.5 s to 10 s; the last snapshot stays in force meanwhile.
 */
import { Agent, request } from 'node:https'
import type { SecureContext } from 'node:tls'
import { BlockList, isIPv4, isIPv6 } from 'node:net'

export interface FeedDecision {
  readonly id: string
  readonly type: 'under-attack' | 'ban'
  readonly zoneId?: string
  readonly prefix?: string
  readonly expiresAt: string
}

/** How an edge node reaches the control plane's mTLS node API. */
export interface NodeTlsOptions {
  /** The node API, e.g. https://control.example:8441 */
  readonly url: string
  /** Node certificate (PEM) and the node CA that signed the listener. */
  readonly cert: string
  /** The node key (PEM bytes, never a string); ignored when `secureContext` is given. */
  readonly key?: Buffer
  readonly ca: string
  /**
   * A TLS context holding cert, key and CA, used instead of `key` (so the key never sits in
   * the agent's options: Node's https.Agent makes its pool name, a JS string, from `key`).
   */
  readonly secureContext?: SecureContext
  readonly servername?: string
}

/** A keep-alive TLS 1.3 agent for the node API, from {@link NodeTlsOptions}. */
export function nodeApiAgent(o: NodeTlsOptions): Agent {
  return new Agent({
    keepAlive: true,
    cert: o.cert,
    ca: o.ca,
    ...(o.secureContext !== undefined
      ? { secureContext: o.secureContext }
      : o.key !== undefined
        ? { key: o.key }
        : {}),
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
    minVersion: 'TLSv1.3',
  })
}

export interface DecisionFeedClientOptions extends NodeTlsOptions {
  /** Long-poll wait in seconds (≤ 30; default 25). */
  readonly waitSeconds?: number
  /** Called with every new snapshot. */
  readonly onChange?: (decisions: readonly FeedDecision[], version: number) => void
  readonly onError?: (e: Error) => void
}

interface Compiled {
  readonly expires: number
  readonly zoneId: string | undefined
  readonly list: BlockList
}

export class DecisionFeedClient {
  readonly #o: DecisionFeedClientOptions
  readonly #agent: Agent
  #version = -1
  #offsetMs = 0
  #underAttack = new Map<string, number>()
  #bans: Compiled[] = []
  #decisions: readonly FeedDecision[] = []
  #running = false
  #abort: (() => void) | undefined
  /** Ends the backoff sleep early (stop()). */
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  readonly #first: Promise<void>
  #resolveFirst: () => void = () => undefined

  constructor(o: DecisionFeedClientOptions) {
    this.#o = o
    this.#agent = nodeApiAgent(o)
    this.#first = new Promise((r) => (this.#resolveFirst = r))
  }

  /** The version of the snapshot in force (-1 before the first). */
  get version(): number {
    return this.#version
  }

  /** The control plane's clock minus ours (ms), from the last snapshot's `serverTime`. */
  get clockOffsetMs(): number {
    return this.#offsetMs
  }

  get decisions(): readonly FeedDecision[] {
    return this.#decisions
  }

  /** Starts polling; resolves once the first snapshot is in. */
  start(): Promise<void> {
    if (!this.#running) {
      this.#running = true
      this.#loop = this.#run()
    }
    return this.#first
  }

  /** Stops polling at once (a backoff sleep too), so nothing keeps the TLS context alive. */
  async stop(): Promise<void> {
    this.#running = false
    this.#abort?.()
    this.#wake?.()
    await this.#loop
    this.#agent.destroy()
  }

  /** A method, not the field: stop() flips it while the loop awaits. */
  #stopped(): boolean {
    return !this.#running
  }

  #now(): number {
    return Date.now() + this.#offsetMs
  }

  isUnderAttack(zoneId: string): boolean {
    const until = this.#underAttack.get(zoneId)
    return until !== undefined && until > this.#now()
  }

  /** Whether `ip` is banned on `zoneId` (by a zone ban or a ban on every zone). */
  isBanned(ip: string, zoneId: string): boolean {
    const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined
    if (type === undefined) return false
    const now = this.#now()
    return this.#bans.some(
      (b) =>
        b.expires > now &&
        (b.zoneId === undefined || b.zoneId === zoneId) &&
        b.list.check(ip, type),
    )
  }

  #apply(decisions: readonly FeedDecision[], version: number, serverTime: string): void {
    this.#offsetMs = Date.parse(serverTime) - Date.now()
    const ua = new Map<string, number>()
    const bans: Compiled[] = []
    for (const d of decisions) {
      const expires = Date.parse(d.expiresAt)
      if (d.type === 'under-attack' && d.zoneId !== undefined) ua.set(d.zoneId, expires)
      else if (d.type === 'ban' && d.prefix !== undefined) {
        const [addr = '', len = ''] = d.prefix.split('/')
        const list = new BlockList()
        list.addSubnet(addr, Number(len), isIPv6(addr) ? 'ipv6' : 'ipv4')
        bans.push({ expires, zoneId: d.zoneId, list })
      }
    }
    this.#underAttack = ua
    this.#bans = bans
    this.#decisions = decisions
    this.#version = version
    this.#o.onChange?.(decisions, version)
    this.#resolveFirst()
  }

  async #run(): Promise<void> {
    let backoff = 500
    while (this.#running) {
      try {
        const wait = this.#version < 0 ? 0 : Math.min(30, this.#o.waitSeconds ?? 25)
        const body = await this.#get(`/node/v1/decisions?after=${this.#version}&wait=${wait}`)
        if (body === undefined) break // stopped
        const feed = JSON.parse(body) as {
          version: number
          changed: boolean
          serverTime: string
          decisions?: FeedDecision[]
        }
        if (feed.changed && feed.decisions !== undefined)
          this.#apply(feed.decisions, feed.version, feed.serverTime)
        backoff = 500
      } catch (e) {
        if (this.#stopped()) break
        this.#o.onError?.(e as Error)
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff)
          this.#wake = () => {
            clearTimeout(t)
            r()
          }
        })
        this.#wake = undefined
        backoff = Math.min(10_000, backoff * 2)
      }
    }
  }

  /** One GET; undefined when stopped meanwhile. */
  #get(path: string): Promise<string | undefined> {
    const u = new URL(path, this.#o.url)
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          method: 'GET',
          agent: this.#agent,
          ...(this.#o.servername !== undefined ? { servername: this.#o.servername } : {}),
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            // A snapshot is bounded (10 000 decisions); refuse anything far larger.
            if (size > 16 * 1024 * 1024) req.destroy(new Error('Cannot read feed: over 16 MiB'))
            else chunks.push(c)
          })
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            if (res.statusCode !== 200)
              reject(new Error(`Cannot read decision feed: HTTP ${res.statusCode ?? 0} ${text}`))
            else resolve(text)
          })
          res.on('error', reject)
        },
      )
      this.#abort = () => {
        req.destroy()
        resolve(undefined)
      }
      req.setTimeout(60_000, () => req.destroy(new Error('Cannot read decision feed: timed out')))
      req.on('error', (e) => {
        if (!this.#running) resolve(undefined)
        else reject(e)
      })
      req.end()
    })
  }
}
