/**
 * A Tang-compatible server (tang(8) HTTP API) with one key directory per node, for the
 * control plane to mount. URLs are `{prefix}/{nodeId}/adv`, `{prefix}/{nodeId}/adv/{kid}`
 * and `{prefix}/{nodeId}/rec/{kid}`, so a node's clevis URL is `{base}{prefix}/{nodeId}`.
 *
 * - `GET /adv`: the node's active keys as a JWK set, signed by its active ES512 key(s);
 *   flattened JWS serialization when there is one signer, as tangd 11 writes it.
 * - `GET /adv/{kid}`: the same payload signed only by signing key `kid` (active or
 *   rotated), so clients pinned to an old thumbprint can re-bind; 404 otherwise.
 * - `POST /rec/{kid}`: `application/jwk+json` point x in, x·s out, for exchange key
 *   `kid` (active or rotated). 404 for an unknown or deleted key: that is crypto-shred.
 *
 * The server keeps no client state and never sees the clients' keys (McCallum–Relyea).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { p521 } from '@noble/curves/nist.js'
import { JoseError } from '../errors.ts'
import {
  b64uEncode,
  jwkToPoint,
  parseEcJwk,
  parseJson,
  pointToJwk,
  scalarOf,
  signEs512,
} from './jose.ts'
import { TangKeyKind, TangKeyStore, isValidNodeId, type TangKey } from './key-store.ts'

export interface TangServerOptions {
  /** Key directory root (one sub-directory per node). */
  readonly dir: string
  /** URL path prefix, e.g. "/tang" (default ""). */
  readonly prefix?: string
  /**
   * Whether keys may be created on demand for this node id on `GET /adv` (default: any
   * valid id). The control plane answers this from its node registry.
   */
  readonly allowNode?: (nodeId: string) => boolean
}

const MAX_BODY = 4096
const ADV_HEADER = b64uEncode(Buffer.from('{"alg":"ES512","cty":"jwk-set+json"}', 'ascii'))

function send(res: ServerResponse, status: number, type?: string, body?: string): void {
  res.writeHead(status, type !== undefined ? { 'content-type': type } : {})
  res.end(body)
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length
    if (n > MAX_BODY) return undefined
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}

/**
 * @example
 * ```ts
 * const tang = new TangServer({ dir: '/var/lib/outpost/tang', prefix: '/tang' })
 * http.createServer(async (req, res) => {
 *   if (!(await tang.handle(req, res))) { res.statusCode = 404; res.end() }
 * })
 * // node "edge-7" binds with: clevis encrypt tang '{"url":"http://cp:8080/tang/edge-7"}'
 * tang.keys.deleteNode('edge-7') // crypto-shred edge-7 alone
 * ```
 */
export class TangServer {
  readonly keys: TangKeyStore
  readonly #prefix: string
  readonly #allowNode: (nodeId: string) => boolean
  #http: Server | undefined

  constructor(opts: TangServerOptions) {
    this.keys = new TangKeyStore(opts.dir)
    this.#prefix = (opts.prefix ?? '').replace(/\/+$/, '')
    this.#allowNode = opts.allowNode ?? (() => true)
  }

  /** The signed advert for a node (creating its keys if allowed), or undefined. */
  advert(nodeId: string, kid?: string): string | undefined {
    let keys: readonly TangKey[]
    if (this.keys.keys(nodeId).some((k) => !k.hidden)) keys = this.keys.keys(nodeId)
    else if (this.#allowNode(nodeId)) keys = this.keys.ensure(nodeId)
    else return undefined
    const active = keys.filter((k) => !k.hidden)
    const signers =
      kid === undefined
        ? active.filter((k) => k.kind === TangKeyKind.Sign)
        : keys.filter((k) => k.kind === TangKeyKind.Sign && (k.thp === kid || k.thpS1 === kid))
    if (signers.length === 0) return undefined
    const payload = b64uEncode(
      Buffer.from(JSON.stringify({ keys: active.map((k) => k.jwk) }), 'utf8'),
    )
    const input = Buffer.from(`${ADV_HEADER}.${payload}`, 'ascii')
    const sigs = signers.map((k) => ({
      protected: ADV_HEADER,
      signature: b64uEncode(signEs512(input, k.d)),
    }))
    const [only] = sigs
    return JSON.stringify(
      sigs.length === 1 && only !== undefined
        ? { payload, ...only }
        : { payload, signatures: sigs },
    )
  }

  /** The McCallum–Relyea server step: y = x·s for exchange key `kid` of `nodeId`. */
  recover(nodeId: string, kid: string, body: unknown): string | undefined {
    const key = this.keys
      .keys(nodeId)
      .find((k) => k.kind === TangKeyKind.Exchange && (k.thp === kid || k.thpS1 === kid))
    if (key === undefined) return undefined
    const x = jwkToPoint(parseEcJwk(body, 'recovery request'), 'recovery request')
    const y = x.multiply(scalarOf(key.d))
    if (y.equals(p521.Point.ZERO)) throw new JoseError('Cannot recover: result is the identity')
    return JSON.stringify({ ...pointToJwk(y), alg: 'ECMR', key_ops: ['deriveKey'] })
  }

  /**
   * Serves a Tang request if the path is ours. Resolves true when it answered, false
   * when the path is not under the prefix (so a host router can continue).
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (this.#prefix !== '' && !path.startsWith(this.#prefix + '/')) return false
    const parts = path.slice(this.#prefix.length + 1).split('/')
    let decoded: string[]
    try {
      decoded = parts.map((p) => decodeURIComponent(p))
    } catch {
      send(res, 404)
      return true
    }
    const [nodeId, op, kid, extra] = decoded
    if (nodeId === undefined || !isValidNodeId(nodeId) || extra !== undefined) {
      send(res, 404)
      return true
    }
    try {
      if (op === 'adv' && req.method === 'GET') {
        const adv = this.advert(nodeId, kid === '' ? undefined : kid)
        if (adv === undefined) send(res, 404)
        else send(res, 200, 'application/jose+json', adv)
      } else if (op === 'rec' && kid !== undefined && kid !== '' && req.method === 'POST') {
        const body = await readBody(req)
        if (body === undefined) return (send(res, 413), true)
        const answer = this.recover(
          nodeId,
          kid,
          parseJson(body.toString('utf8'), 'recovery request'),
        )
        if (answer === undefined) send(res, 404)
        else send(res, 200, 'application/jwk+json', answer)
      } else if (op === 'adv' || op === 'rec') {
        send(res, 405)
      } else send(res, 404)
    } catch (e) {
      if (e instanceof JoseError) send(res, 400)
      else throw e
    }
    return true
  }

  /** Listens standalone on 127.0.0.1 (tests, development). Resolves to the base URL. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const http = createServer((req, res) => {
      this.handle(req, res).then(
        (done) => {
          if (!done) send(res, 404)
        },
        () => {
          if (!res.headersSent) send(res, 500)
          else res.destroy()
        },
      )
    })
    this.#http = http
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(port, host, () => {
        resolve()
      })
    })
    const a = http.address() as AddressInfo
    return `http://${host}:${a.port}${this.#prefix}`
  }

  /** Stops listening and zeroises the cached private scalars. */
  async close(): Promise<void> {
    const http = this.#http
    this.#http = undefined
    if (http) {
      http.closeAllConnections()
      await new Promise<void>((resolve) =>
        http.close(() => {
          resolve()
        }),
      )
    }
    this.keys.close()
  }
}
