/**
 * The remote revocation path (ADR 0009): a key server that is not on the control
 * plane's machine long-polls `GET /node/v1/revocations?after=VERSION` on the control
 * plane's node API over mutual TLS (its own certificate from the node CA). The control
 * plane answers as soon as the list differs from VERSION (it re-reads its store every
 * 100 ms), or after `waitMs` with the unchanged list. Each answer replaces the local
 * list, which closes the revoked nodes' connections at once. A failed poll is retried
 * after `retryMs`; the last list stays in force meanwhile (revocations are never lost
 * by a partition, only delayed).
 */
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import type { RevocationList } from './revocations.ts'

export interface RevocationFeedOptions {
  /** The control plane's node API, e.g. https://control:8441 */
  readonly url: string
  /** PEM: the node CA (verifies the control plane's certificate). */
  readonly ca: string
  /** PEM: this key server's client certificate (issued by the node CA). */
  readonly cert: string
  /** PEM: its key. Copied into the TLS context; the caller zeroises its Buffer. */
  readonly key: Uint8Array
  readonly waitMs?: number
  readonly retryMs?: number
  readonly onError?: (e: Error) => void
  readonly onUpdate?: (version: string, nodeIds: readonly string[]) => void
}

interface Answer {
  version: string
  nodeIds: string[]
}

export class RevocationFeed {
  readonly #list: RevocationList
  readonly #o: RevocationFeedOptions
  readonly #key: Buffer
  #version = ''
  #running = false
  #req: ReturnType<typeof request> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(list: RevocationList, o: RevocationFeedOptions) {
    this.#list = list
    this.#o = o
    this.#key = Buffer.from(o.key)
  }

  /** The version of the last list applied ('' before the first). */
  get version(): string {
    return this.#version
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#poll()
  }

  close(): void {
    this.#running = false
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#req?.destroy()
    this.#key.fill(0)
  }

  #poll(): void {
    if (!this.#running) return
    const waitMs = this.#o.waitMs ?? 25_000
    const url = new URL(
      `/node/v1/revocations?after=${encodeURIComponent(this.#version)}&waitMs=${waitMs}`,
      this.#o.url,
    )
    const req = request(url, {
      method: 'GET',
      ca: this.#o.ca,
      cert: this.#o.cert,
      key: this.#key,
      minVersion: 'TLSv1.3',
      timeout: waitMs + 10_000,
      agent: false,
    })
    this.#req = req
    req.on('timeout', () => req.destroy(new Error('revocation feed: timed out')))
    req.on('error', (e) => {
      this.#fail(e)
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (e) => {
        this.#fail(e)
      })
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) {
            throw new Error(`revocation feed: HTTP ${res.statusCode ?? 0} from ${this.#o.url}`)
          }
          const a = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer
          if (typeof a.version !== 'string' || !Array.isArray(a.nodeIds)) {
            throw new Error('revocation feed: answer lacks version/nodeIds')
          }
          this.#list.replace(a.nodeIds)
          this.#version = a.version
          this.#o.onUpdate?.(a.version, a.nodeIds)
          this.#poll()
        } catch (e) {
          this.#fail(e as Error)
        }
      })
    })
    req.end()
  }

  #fail(e: Error): void {
    if (!this.#running) return
    this.#o.onError?.(e)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#poll()
    }, this.#o.retryMs ?? 1000)
    this.#timer.unref()
  }
}

/** Reads the PEM files of `revocationFeed` config. */
export function feedFromFiles(
  list: RevocationList,
  f: { url: string; caFile: string; certFile: string; keyFile: string },
  extra: Pick<RevocationFeedOptions, 'onError' | 'onUpdate'> = {},
): RevocationFeed {
  const key = readFileSync(f.keyFile)
  try {
    return new RevocationFeed(list, {
      url: f.url,
      ca: readFileSync(f.caFile, 'utf8'),
      cert: readFileSync(f.certFile, 'utf8'),
      key,
      ...extra,
    })
  } finally {
    key.fill(0)
  }
}
