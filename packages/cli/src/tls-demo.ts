/**
 * `outpost tls-demo`: a small HTTPS server on Outpost's TLS, for people and for
 * the conformance runs (real clients, tlsfuzzer, h2load). HTTP/1.1 through
 * node:http and HTTP/2 through node:http2 (chosen by ALPN); `GET /` answers 200
 * with the negotiated parameters. With `--key-server` the private key stays on
 * a key server and signatures go over keyless. It lives in the CLI package, the
 * composition root, so that @outpost/tls never depends on @outpost/keyless.
 */
import { readFileSync } from 'node:fs'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2'
import type { Server } from 'node:net'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import {
  UsageError,
  flag,
  list,
  str,
  type Command,
  type RunArgs,
  untilSignal,
} from '@outpost/command'
import {
  StaticCertificateSource,
  certificatesFromPem,
  LocalSigner,
  schemesForKey,
  createTlsServer,
  type TlsConnection,
  type TlsServerConfig,
  type Signer,
} from '@outpost/tls'
import { KeylessClient, RemoteSigner, skiOf } from '@outpost/keyless'

function hostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  const port = Number(s.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`Invalid --${what} '${s}': expected HOST:PORT`)
  }
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port }
}

function remoteSigners(args: RunArgs, chains: Uint8Array[][]): Signer[] {
  const ks = hostPort(str(args, 'key-server', true), 'key-server')
  const caFile = str(args, 'key-server-ca', true)
  const certFile = str(args, 'client-cert', true)
  const keyFile = str(args, 'client-key', true)
  const key = readFileSync(keyFile)
  const client = new KeylessClient({
    servers: [{ host: ks.host, port: ks.port }],
    ca: readFileSync(caFile),
    cert: readFileSync(certFile),
    key,
  })
  key.fill(0)
  return chains.map((chain) => {
    const leaf = new X509Certificate(chain[0] as Uint8Array)
    return new RemoteSigner({
      client,
      ski: skiOf(leaf.publicKey),
      schemes: schemesForKey(leaf.publicKey),
    })
  })
}

function page(conn: TlsConnection | undefined, httpVersion: string): string {
  const i = conn?.getInfo()
  return [
    'Outpost TLS demo',
    `version=${i?.version ?? '?'} suite=${i?.cipherSuite ?? '?'} group=${i?.group ?? '?'}`,
    `scheme=${i?.signatureScheme ?? '-'} alpn=${i?.alpnProtocol ?? '-'} sni=${i?.serverName ?? '-'}`,
    `resumed=${String(i?.resumed ?? false)} hrr=${String(i?.helloRetry ?? false)} http=${httpVersion}`,
    '',
  ].join('\n')
}

async function run(args: RunArgs): Promise<number> {
  const listen = hostPort(str(args, 'listen') ?? '127.0.0.1:8443', 'listen')
  const certFiles = list(args, 'cert')
  const keyFiles = list(args, 'key')
  if (certFiles.length === 0) throw new UsageError('Missing required option --cert')
  const chains = certFiles.map((f) => certificatesFromPem(readFileSync(f)))
  chains.forEach((c, i) => {
    if (c.length === 0) throw new UsageError(`No certificate in '${certFiles[i] ?? ''}'`)
  })
  let signers: Signer[]
  if (str(args, 'key-server') !== undefined) {
    signers = remoteSigners(args, chains)
  } else {
    if (keyFiles.length !== certFiles.length) {
      throw new UsageError(
        `Expected one --key per --cert (got ${keyFiles.length} and ${certFiles.length})`,
      )
    }
    signers = keyFiles.map((f) => {
      const pem = readFileSync(f)
      const s = new LocalSigner(createPrivateKey(pem))
      pem.fill(0)
      return s
    })
  }
  const ticketsOpt = str(args, 'tickets')
  const tickets = ticketsOpt === undefined ? 2 : Number(ticketsOpt)
  if (!Number.isInteger(tickets) || tickets < 0 || tickets > 16)
    throw new UsageError(`Invalid --tickets '${ticketsOpt ?? ''}'`)
  const config: TlsServerConfig = {
    certificates: new StaticCertificateSource(
      chains.map((chain, i) => ({ chain, signer: signers[i] as Signer })),
    ),
    alpnProtocols: ['h2', 'http/1.1'],
    ticketsPerHandshake: tickets,
  }
  const connectionClose = flag(args, 'connection-close')

  const http1 = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const body = page(req.socket as unknown as TlsConnection, req.httpVersion)
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(connectionClose ? { connection: 'close' } : {}),
    })
    res.end(body)
  })
  http1.keepAliveTimeout = 5000
  // node:http starts its per-connection bookkeeping (headersTimeout, requestTimeout,
  // keep-alive expiry: the defences against slow clients) on 'listening'. This server
  // never listens itself: connections are handed to it, so it is told once here.
  http1.emit('listening')
  const sessions = new WeakMap<Http2Session, TlsConnection>()
  let arriving: TlsConnection | undefined
  const http2 = createHttp2Server()
  http2.on('session', (s: Http2Session) => {
    if (arriving) sessions.set(s, arriving)
  })
  http2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const body = page(sessions.get(req.stream.session as Http2Session), '2')
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
    res.end(body)
  })

  const server = createTlsServer(config, (conn) => {
    if (conn.getInfo()?.alpnProtocol === 'h2') {
      arriving = conn
      http2.emit('connection', conn)
      arriving = undefined
    } else {
      http1.emit('connection', conn)
    }
  })
  server.on('tlsClientError', () => {
    // Expected under conformance runs; the alert already told the client.
  })
  await listenOn(server, listen.host, listen.port)
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : listen.port
  args.out.write(`outpost tls-demo listening on https://${listen.host}:${port}/\n`)

  const echoOpt = str(args, 'echo-port')
  let echo: Server | undefined
  if (echoOpt !== undefined) {
    echo = createTlsServer(config, (conn) => {
      conn.pipe(conn)
    })
    echo.on('tlsClientError', () => undefined)
    await listenOn(echo, listen.host, Number(echoOpt))
    const ea = echo.address()
    args.out.write(
      `outpost tls-demo echo on ${listen.host}:${typeof ea === 'object' && ea ? ea.port : echoOpt}\n`,
    )
  }
  await untilSignal()
  server.close()
  echo?.close()
  // Keep-alive and half-open connections must not hold the process after a stop signal.
  http1.closeAllConnections()
  http1.close()
  http2.close()
  return 0
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

export const tlsDemoCommand: Command = {
  name: 'tls-demo',
  summary: 'Serve a small HTTPS page with the Outpost TLS server',
  description: `
Serves GET / over TLS 1.3 (HTTP/1.1 or HTTP/2 by ALPN) and answers with the
negotiated parameters. Give one --cert/--key pair per certificate (e.g. one
ECDSA and one RSA); the server picks by SNI and signature_algorithms. With
--key-server the keys stay on a key server (keyless); --key is then not used.`,
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'Address to listen on',
      default: '127.0.0.1:8443',
    },
    cert: {
      type: 'string',
      multiple: true,
      value: 'CHAIN.pem',
      description: 'Certificate chain (PEM), leaf first',
    },
    key: {
      type: 'string',
      multiple: true,
      value: 'KEY.pem',
      description: 'Private key (PEM) for the matching --cert',
    },
    'key-server': {
      type: 'string',
      value: 'HOST:PORT',
      description: 'Sign on this keyless key server instead of --key',
    },
    'key-server-ca': { type: 'string', value: 'CA.pem', description: 'CA of the key server' },
    'client-cert': {
      type: 'string',
      value: 'NODE.pem',
      description: "This node's certificate for the key server",
    },
    'client-key': {
      type: 'string',
      value: 'NODE-KEY.pem',
      description: "This node's private key for the key server",
    },
    tickets: {
      type: 'string',
      value: 'N',
      description: 'NewSessionTickets per handshake (default 2)',
    },
    'connection-close': {
      type: 'boolean',
      description: 'Answer with Connection: close (handshake benchmarks)',
    },
    'echo-port': {
      type: 'string',
      value: 'PORT',
      description: 'Also run a TLS echo server on this port (tlsfuzzer lengths)',
    },
  },
  run,
}
