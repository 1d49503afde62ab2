/**
 * Pushing the node revocation list to key servers (threat model P10: a revoked
 * node is refused within 1 s). Each key server is a sink; the local one is its
 * admin API on a Unix socket (`PUT /v1/revocations`, see
 * packages/keyserver/src/admin.ts). A push that fails is retried every
 * `retryMs` until it succeeds, so a key server that was down catches up.
 * Remote key servers in production take the same list as a file + SIGHUP
 * (docs/adr/0007-control-plane-storage-and-api.md).
 */
import { request } from 'node:http'

export interface RevocationSink {
  readonly name: string
  push(nodeIds: readonly string[]): Promise<void>
}

/** A key server's admin Unix socket. */
export function adminSocketSink(socketPath: string, timeoutMs = 900): RevocationSink {
  return {
    name: `unix:${socketPath}`,
    push(nodeIds) {
      const body = Buffer.from(JSON.stringify(nodeIds))
      return new Promise((resolve, reject) => {
        const req = request(
          {
            socketPath,
            method: 'PUT',
            path: '/v1/revocations',
            headers: { 'content-type': 'application/json', 'content-length': body.length },
            timeout: timeoutMs,
          },
          (res) => {
            res.resume()
            res.on('end', () => {
              if (res.statusCode === 200) resolve()
              else
                reject(
                  new Error(
                    `Cannot push revocations to ${socketPath}: HTTP ${res.statusCode ?? 0}`,
                  ),
                )
            })
          },
        )
        req.on('timeout', () =>
          req.destroy(new Error(`Cannot push revocations to ${socketPath}: timed out`)),
        )
        req.on('error', reject)
        req.end(body)
      })
    },
  }
}

export interface PushResult {
  readonly sink: string
  readonly ok: boolean
  readonly error?: string
}

export class RevocationPusher {
  readonly #sinks: RevocationSink[]
  readonly #retryMs: number
  readonly #pending = new Map<RevocationSink, readonly string[]>()
  #timer: NodeJS.Timeout | undefined

  constructor(sinks: readonly RevocationSink[], retryMs = 2000) {
    this.#sinks = [...sinks]
    this.#retryMs = retryMs
  }

  add(sink: RevocationSink): void {
    this.#sinks.push(sink)
  }

  /** Pushes `nodeIds` to every sink in parallel; failures are retried in the background. */
  async push(nodeIds: readonly string[]): Promise<PushResult[]> {
    return Promise.all(this.#sinks.map((s) => this.#pushOne(s, nodeIds)))
  }

  async #pushOne(s: RevocationSink, ids: readonly string[]): Promise<PushResult> {
    try {
      await s.push(ids)
      this.#pending.delete(s)
      return { sink: s.name, ok: true }
    } catch (e) {
      this.#pending.set(s, ids)
      this.#schedule()
      return { sink: s.name, ok: false, error: (e as Error).message }
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      for (const [s, ids] of [...this.#pending]) void this.#pushOne(s, ids)
    }, this.#retryMs)
    this.#timer.unref()
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
