/**
 * Loopback key servers for the client tests: node:tls with mutual TLS over the
 * dev PKI, serveConnection(), and a small handler that signs with node:crypto
 * (and @noble/curves for bare-digest ECDSA, which node:crypto cannot do).
 */
import { once } from 'node:events'
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import tls from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import { p256 } from '@noble/curves/nist.js'
import {
  createCa,
  issueNodeCert,
  issueServerCert,
  nodeIdentityFromCert,
  type Issued,
} from '@outpost/pki'
import { ctEqual, equalBytes } from '@outpost/wire'
import {
  Deframer,
  ErrorCode,
  Op,
  decodeHeader,
  errorResponse,
  serveConnection,
  skiOf,
  type Operation,
  type OperationHandler,
  type ServeEvent,
  type ServeOptions,
} from '../src/index.ts'

export interface TestPki {
  ca: Issued
  server: Issued
  node: Issued
  /** A second CA, for "untrusted" tests. */
  otherCa: Issued
}

export async function makePki(): Promise<TestPki> {
  const ca = await createCa({ commonName: 'Keyless Test CA' })
  const otherCa = await createCa({ commonName: 'Other CA' })
  const server = await issueServerCert({ ca, commonName: 'keyserver', ipAddresses: ['127.0.0.1'] })
  const node = await issueNodeCert({ ca, nodeId: 'edge-1', region: 'eu-west', country: 'DE' })
  return { ca, server, node, otherCa }
}

export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  ski: Uint8Array
}

export function signingKey(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, ski: skiOf(publicKey) }
}

const CONTEXT_PREFIX = new Uint8Array([
  ...new Uint8Array(64).fill(0x20),
  ...new TextEncoder().encode('TLS 1.3, server CertificateVerify'),
  0,
])

/**
 * The test handler. Besides signing, opcode RsaSignSha256 with a 1-byte payload
 * is a test hook: it waits payload[0] × 10 ms and echoes the payload.
 */
export function signingHandler(keys: readonly SigningKey[]): OperationHandler {
  return async (op) => {
    if (op.opcode === Op.RsaSignSha256) {
      await sleep((op.payload?.[0] ?? 0) * 10)
      return { opcode: Op.Response, payload: op.payload ?? new Uint8Array(0) }
    }
    const key = keys.find((k) => op.ski !== undefined && ctEqual(k.ski, op.ski))
    if (key === undefined) return errorResponse(ErrorCode.KeyNotFound)
    const payload = op.payload ?? new Uint8Array(0)
    switch (op.opcode) {
      case Op.SignTls13: {
        const scheme = op.signatureScheme
        const hashLen =
          scheme === 0x0403 ? 32 : scheme === 0x0807 ? payload.length - CONTEXT_PREFIX.length : -1
        if (
          payload.length !== CONTEXT_PREFIX.length + hashLen ||
          ![32, 48, 64].includes(hashLen) ||
          !equalBytes(payload.subarray(0, CONTEXT_PREFIX.length), CONTEXT_PREFIX)
        ) {
          return errorResponse(
            scheme === 0x0403 || scheme === 0x0807 ? ErrorCode.BadContext : ErrorCode.CryptoFailed,
          )
        }
        const sig = sign(scheme === 0x0403 ? 'sha256' : null, payload, key.privateKey)
        return { opcode: Op.Response, payload: new Uint8Array(sig) }
      }
      case Op.Ed25519Sign:
        return { opcode: Op.Response, payload: new Uint8Array(sign(null, payload, key.privateKey)) }
      case Op.EcdsaSignSha256: {
        const d = Buffer.from(key.privateKey.export({ format: 'jwk' }).d ?? '', 'base64url')
        try {
          return {
            opcode: Op.Response,
            payload: p256.sign(payload, d, { prehash: false, format: 'der' }),
          }
        } finally {
          d.fill(0)
        }
      }
      default:
        return errorResponse(ErrorCode.BadOpcode)
    }
  }
}

export interface TestServer {
  port: number
  events: ServeEvent[]
  /** Every request frame's ID and opcode, as the server received them. */
  requests: { id: number; opcode: number; payloadLength: number }[]
  peers: { nodeId?: string; region?: string; country?: string }[]
  protocols: string[]
  ciphers: string[]
  /** Destroys every open connection, leaving the server listening. */
  dropConnections(): void
  /** Stops reading every open connection: the server goes silent but keeps them open. */
  muteConnections(): void
  close(): Promise<void>
}

export interface StartOptions extends Partial<Omit<ServeOptions, 'peer'>> {
  port?: number
  handler?: OperationHandler
}

export async function startServer(pki: TestPki, o: StartOptions = {}): Promise<TestServer> {
  const sockets = new Set<Socket>()
  const tlsSockets = new Set<tls.TLSSocket>()
  const events: ServeEvent[] = []
  const requests: TestServer['requests'] = []
  const peers: TestServer['peers'] = []
  const protocols: string[] = []
  const ciphers: string[] = []
  const handler = o.handler ?? signingHandler([])
  const server = tls.createServer(
    {
      ca: pki.ca.certPem,
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (socket) => {
      tlsSockets.add(socket)
      socket.on('close', () => tlsSockets.delete(socket))
      const id = nodeIdentityFromCert(socket.getPeerX509Certificate())
      peers.push(id ?? {})
      protocols.push(socket.getProtocol() ?? '')
      ciphers.push(socket.getCipher().standardName)
      const tap = new Deframer()
      socket.on('data', (chunk: Uint8Array) => {
        try {
          for (const f of tap.push(chunk)) {
            const h = decodeHeader(f)
            requests.push({
              id: h.id,
              opcode: f[11] ?? -1,
              payloadLength: f[12] === 0x12 ? ((f[13] ?? 0) << 8) | (f[14] ?? 0) : -1,
            })
          }
        } catch {
          // the server under test reports framing errors itself
        }
      })
      serveConnection(socket, handler, {
        peer: { remoteAddress: socket.remoteAddress ?? '', ...(id ?? {}) },
        onEvent: (e) => events.push(e),
        ...o,
      })
    },
  )
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('tlsClientError', () => undefined)
  server.listen(o.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    events,
    requests,
    peers,
    protocols,
    ciphers,
    dropConnections() {
      for (const s of sockets) s.destroy()
    },
    muteConnections() {
      for (const s of tlsSockets) s.pause()
    },
    async close() {
      if (!server.listening) return
      const closed = new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const net = await import('node:net')
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) =>
    s.close(() => {
      r()
    }),
  )
  return port
}

export function clientCredentials(pki: TestPki): { ca: string; cert: string; key: Uint8Array } {
  return { ca: pki.ca.certPem, cert: pki.node.certPem, key: new Uint8Array(pki.node.keyPem) }
}

export function ecdsaKey(): SigningKey {
  return signingKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)
}

export function ed25519Key(): SigningKey {
  return signingKey(generateKeyPairSync('ed25519').privateKey)
}

export type { Operation }
