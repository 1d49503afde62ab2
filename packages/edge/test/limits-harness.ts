/** Fixtures for the attack-limit tests: an EdgeServer with a stub handler on loopback, raw HTTP/2 frames. */
import http2 from 'node:http2'
import { connect, type AddressInfo, type Server, type Socket } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { LimitsSchema, type EdgeLimits } from '../src/config.ts'
import { EdgeServer, type LimitReason } from '../src/proxy/edge-server.ts'
import type { DataPlaneState } from '../src/proxy/sites.ts'

export type Handle = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void

export interface Limited {
  readonly server: EdgeServer
  readonly listener: Server
  readonly port: number
  /** Handler invocations so far. */
  readonly calls: { n: number }
  readonly hits: LimitReason[]
  close(): Promise<void>
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] }

/** An EdgeServer in plaintext mode (HTTP/1.1 and h2 prior knowledge) with the given limits. */
export async function startLimited(
  limits: DeepPartial<EdgeLimits>,
  handle: Handle = (_req, res) => {
    res.end('ok')
  },
): Promise<Limited> {
  const calls = { n: 0 }
  const hits: LimitReason[] = []
  const server = new EdgeServer({
    handler: {
      handle: (req, res) => {
        calls.n++
        handle(req, res)
        return Promise.resolve()
      },
    },
    state: () => ({}) as DataPlaneState,
    limits: LimitsSchema.parse(limits),
    onLimit: (r) => hits.push(r),
  })
  const listener = await server.listenPlain('127.0.0.1', 0)
  return {
    server,
    listener,
    port: (listener.address() as AddressInfo).port,
    calls,
    hits,
    async close() {
      listener.close()
      await server.close(200)
    },
  }
}

/** A TCP connection from a chosen loopback address (127/8 is all local). */
export function connectFrom(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress })
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}

// --- HTTP/2 frames (RFC 9113 §4.1), just enough to misbehave ---

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const
export const Flag = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(9 + payload.length)
  out.writeUIntBE(payload.length, 0, 3)
  out[3] = type
  out[4] = flags
  out.writeUInt32BE(streamId & 0x7fffffff, 5)
  out.set(payload, 9)
  return out
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), short strings only. */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name, 'latin1'),
    Buffer.from([value.length]),
    Buffer.from(value, 'latin1'),
  ])
}

/** A minimal valid request header block: :method GET, :scheme http, :path /, :authority. */
export function requestBlock(): Buffer {
  // Static table indices (RFC 7541 Appendix A): 2 = :method GET, 6 = :scheme http, 4 = :path /.
  return Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), literal(':authority', 'site.test')])
}

/** Parses frames the server sent; returns the GOAWAY error code if one came. */
export function goawayCode(data: Buffer): number | undefined {
  let at = 0
  while (at + 9 <= data.length) {
    const len = data.readUIntBE(at, 3)
    const type = data[at + 3]
    if (type === FrameType.GOAWAY && at + 9 + 8 <= data.length) return data.readUInt32BE(at + 9 + 4)
    at += 9 + len
  }
  return undefined
}

/** Resolves when the socket closes, with everything it received and how long it took. */
export function closed(s: Socket, t0 = performance.now()): Promise<{ data: Buffer; ms: number }> {
  const chunks: Buffer[] = []
  s.on('data', (d: Buffer) => chunks.push(d))
  s.on('error', () => undefined)
  return new Promise((resolve) => {
    s.once('close', () => {
      resolve({ data: Buffer.concat(chunks), ms: performance.now() - t0 })
    })
  })
}

export function rssMb(): number {
  return process.memoryUsage().rss / (1024 * 1024)
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** An h2 (prior knowledge) client session from a chosen loopback address. */
export function h2From(port: number, localAddress: string): http2.ClientHttp2Session {
  return http2.connect(`http://127.0.0.1:${port}`, {
    createConnection: () => connect({ port, host: '127.0.0.1', localAddress }),
  })
}
