/**
 * The benchmark's baseline: Node's native TLS (OpenSSL) behind the SAME HTTP stack as
 * `outpost tls-demo` (node:http's parser and response writer; `https.createServer` is
 * node:http over `tls.Server`), with the same command line and responses, so both sides
 * of a comparison differ only in the TLS implementation.
 *
 *   node packages/tls/bench/native-server.ts --listen 127.0.0.1:0 --cert CHAIN --key KEY
 *        [--connection-close] [--echo-port PORT] [--tickets 0]
 *
 * Prints `listening on https://127.0.0.1:<port>/` (and `echo on 127.0.0.1:<port>`) once
 * bound; exits 0 on SIGTERM/SIGINT (so --cpu-prof and reports get written).
 * --connection-close answers with `Connection: close` (one full handshake per request
 * for h2load). --echo-port also runs a `tls.createServer` that writes every byte back.
 * Node (OpenSSL) always sends 2 session tickets after a full handshake, as tls-demo does
 * by default.
 */
import https from 'node:https'
import tls from 'node:tls'
import type { Server } from 'node:net'
import { readFileSync } from 'node:fs'
import { constants } from 'node:crypto'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:0' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'connection-close': { type: 'boolean', default: false },
    'echo-port': { type: 'string' },
    tickets: { type: 'string', default: '2' },
  },
  strict: true,
})

if (values.cert === undefined || values.key === undefined) {
  process.stderr.write('native-server: --cert and --key are required\n')
  process.exit(2)
}
const m = /^(.*):(\d+)$/.exec(values.listen)
if (m?.[1] !== '127.0.0.1') {
  process.stderr.write('native-server: --listen must be 127.0.0.1:PORT\n')
  process.exit(2)
}
const port = Number(m[2])
const closeEach = values['connection-close']

const key = readFileSync(values.key)
const tlsOptions: tls.TlsOptions = {
  cert: readFileSync(values.cert),
  key,
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ALPNProtocols: ['http/1.1'],
  // --tickets 0: no client can resume. SSL_OP_NO_TICKET makes OpenSSL issue stateful
  // TLS 1.3 tickets, which Node's server (no internal session cache, no resumeSession
  // handler) never finds again, so every connection is a full handshake.
  ...(values.tickets === '0' ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
}

const server = https.createServer(tlsOptions, (req, res) => {
  const sock = req.socket
  let body = 'Node native TLS\n'
  if (sock instanceof tls.TLSSocket) {
    const k = sock.getEphemeralKeyInfo()
    const group = k !== null && 'name' in k ? k.name : '?'
    body += [
      `version=${sock.getProtocol() ?? '?'} suite=${sock.getCipher().standardName} group=${String(group)}`,
      `alpn=${String(sock.alpnProtocol)} resumed=${String(sock.isSessionReused())} http=${req.httpVersion}`,
      '',
    ].join('\n')
  }
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(closeEach ? { connection: 'close' } : {}),
  })
  res.end(body)
})
server.keepAliveTimeout = 5000
server.on('tlsClientError', () => {
  // counted by the client side; nothing to log in a benchmark
})

let echo: Server | undefined
if (values['echo-port'] !== undefined) {
  echo = tls.createServer(tlsOptions, (sock) => {
    sock.on('error', () => {
      sock.destroy()
    })
    sock.pipe(sock)
  })
  echo.on('tlsClientError', () => undefined)
}
key.fill(0)

function listen(s: Server, p: number): Promise<number> {
  return new Promise((resolve, reject) => {
    s.once('error', reject)
    s.listen(p, '127.0.0.1', () => {
      const a = s.address()
      resolve(typeof a === 'object' && a !== null ? a.port : p)
    })
  })
}

const p = await listen(server, port)
process.stdout.write(
  `native-server listening on https://127.0.0.1:${p}/ (node ${process.version})\n`,
)
if (echo !== undefined) {
  const ep = await listen(echo, Number(values['echo-port']))
  process.stdout.write(`native-server echo on 127.0.0.1:${ep}\n`)
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    server.close()
    echo?.close()
    process.exit(0)
  })
}
