/**
 * The edge node's client for the control plane's node API (mTLS with the node
 * certificate and the identity key unlocked from Tang): lease renewal with STEKs and
 * clearance keys, the signed bundle, and the watch long-poll that reports kills and
 * bundle changes.
 *
 * STEKs and clearance keys arrive as hex inside the lease JSON. They are decoded straight from the
 * response bytes into Buffers and the hex is overwritten before the rest is parsed,
 * so no key ever becomes a JS string; the response Buffer is zeroised.
 */
import { Agent, request } from 'node:https'
import type { SecureContext } from 'node:tls'
import type { LeasedStek } from '../stek.ts'
import type { EpochKey } from '@outpost/protect'

export interface NodeApiOptions {
  /** e.g. https://control:8441 */
  readonly url: string
  /**
   * The node CA, certificate and identity key, loaded once (the caller drops it on a brick).
   * Not the key itself: https.Agent would make its pool name, a JS string, from a `key` option.
   */
  readonly secureContext: SecureContext
}

export interface LeaseDoc {
  readonly nodeId: string
  readonly leaseExpiresAt: string
  readonly graceSeconds: number
  readonly bundleVersion: number
  readonly rebootNeedsReadmission: boolean
  readonly steks: LeasedStek[]
  /** Clearance-cookie keys (current + history); absent from control planes that predate them. */
  readonly clearanceKeys?: EpochKey[]
}

export type KillAnswer = { readonly kill: 'revoked' | 'operator_kill'; readonly detail: string }

export class NodeApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'NodeApiError'
    this.status = status
  }
}

const KEY_FIELD = Buffer.from('"key":"')

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

/**
 * Decodes every `"key":"<hex>"` value of `body` into its own Buffer and overwrites the
 * hex digits with '0' in place. Returns the keys in order of appearance.
 */
export function extractHexKeys(body: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = body.indexOf(KEY_FIELD)
  while (at !== -1) {
    const start = at + KEY_FIELD.length
    const end = body.indexOf(0x22, start)
    if (end === -1 || (end - start) % 2 !== 0) throw new Error('lease: malformed key field')
    // Off the V8 heap: a small typed array lives on the heap and a GC may move it, leaving
    // a copy of the key behind; an ArrayBuffer's backing store stays put until freed.
    const key = Buffer.from(new ArrayBuffer((end - start) / 2))
    for (let i = 0; i < key.length; i++) {
      const hi = hexVal(body[start + 2 * i] ?? 0)
      const lo = hexVal(body[start + 2 * i + 1] ?? 0)
      if (hi < 0 || lo < 0) {
        key.fill(0)
        throw new Error('lease: key field is not hex')
      }
      key[i] = (hi << 4) | lo
    }
    body.fill(0x30, start, end)
    out.push(key)
    at = body.indexOf(KEY_FIELD, end)
  }
  return out
}

/**
 * A lease body (200) to a LeaseDoc whose keys are Buffers the caller owns. The n-th
 * `"key"` field belongs to the n-th STEK, then to the n-th clearance key (the control
 * plane writes them in that order). Zeroises the hex in `body`; the caller zeroises `body`.
 */
export function parseLease(body: Buffer): LeaseDoc {
  const keys = extractHexKeys(body)
  const doc = JSON.parse(body.toString('utf8')) as Omit<LeaseDoc, 'steks' | 'clearanceKeys'> & {
    steks: { id: string; current: boolean }[]
    clearanceKeys?: { epoch: number; current: boolean }[]
  }
  const ck = doc.clearanceKeys
  if (doc.steks.length + (ck?.length ?? 0) !== keys.length) {
    for (const k of keys) k.fill(0)
    throw new Error('lease: STEK and clearance-key ids and keys do not pair up')
  }
  const { clearanceKeys: _, ...rest } = doc
  const n = doc.steks.length
  return {
    ...rest,
    steks: doc.steks.map((s, i) => ({
      id: Buffer.from(s.id, 'hex'),
      key: keys[i] as Buffer,
      current: s.current,
    })),
    ...(ck !== undefined
      ? {
          clearanceKeys: ck.map((c, i) => ({
            epoch: c.epoch,
            key: keys[n + i] as Buffer,
            current: c.current,
          })),
        }
      : {}),
  }
}

/** The control plane's error envelope message, if any. */
function messageOf(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { error?: { code?: string; message?: string } }
    return `${j.error?.code ?? ''}: ${j.error?.message ?? ''}`
  } catch {
    return body.subarray(0, 200).toString('utf8')
  }
}

export class NodeApi {
  readonly url: string
  readonly #agent: Agent

  constructor(o: NodeApiOptions) {
    this.url = o.url.replace(/\/+$/, '')
    this.#agent = new Agent({
      keepAlive: true,
      secureContext: o.secureContext,
      minVersion: 'TLSv1.3',
    })
  }

  #call(
    method: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method,
          agent: this.#agent,
          ...(signal !== undefined ? { signal } : {}),
          headers: method === 'POST' ? { 'content-length': 0 } : {},
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const body = Buffer.concat(chunks)
            for (const c of chunks) c.fill(0)
            resolve({ status: res.statusCode ?? 0, body })
          })
        },
      )
      req.on('error', reject)
      req.end()
    })
  }

  /** 410 → killed, 403 revoked → revoked; other failures throw. */
  static #kill(status: number, body: Buffer): KillAnswer | undefined {
    if (status === 410) return { kill: 'operator_kill', detail: messageOf(body) }
    if (status === 403 && body.includes('ERR_CONTROL_NODE_REVOKED')) {
      return { kill: 'revoked', detail: messageOf(body) }
    }
    return undefined
  }

  /** `POST /node/v1/lease`. The STEK and clearance-key Buffers are the caller's to own and zeroise. */
  async lease(signal?: AbortSignal): Promise<LeaseDoc | KillAnswer> {
    const { status, body } = await this.#call('POST', '/node/v1/lease', signal)
    try {
      const kill = NodeApi.#kill(status, body)
      if (kill !== undefined) return kill
      if (status !== 200) throw new NodeApiError(status, `lease: HTTP ${status} ${messageOf(body)}`)
      return parseLease(body)
    } finally {
      body.fill(0)
    }
  }

  /** `GET /node/v1/bundle`: the signed envelope (verify before use). */
  async bundle(signal?: AbortSignal): Promise<unknown> {
    const { status, body } = await this.#call('GET', '/node/v1/bundle', signal)
    if (status !== 200) throw new NodeApiError(status, `bundle: HTTP ${status} ${messageOf(body)}`)
    return JSON.parse(body.toString('utf8'))
  }

  /** `GET /node/v1/watch`: resolves when the bundle version exceeds `seen`, or on a kill. */
  async watch(
    seen: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ bundleVersion: number } | KillAnswer> {
    const { status, body } = await this.#call(
      'GET',
      `/node/v1/watch?bundleVersion=${seen}&waitMs=${waitMs}`,
      signal,
    )
    const kill = NodeApi.#kill(status, body)
    if (kill !== undefined) return kill
    if (status !== 200) throw new NodeApiError(status, `watch: HTTP ${status} ${messageOf(body)}`)
    return JSON.parse(body.toString('utf8')) as { bundleVersion: number }
  }

  close(): void {
    this.#agent.destroy()
  }
}
