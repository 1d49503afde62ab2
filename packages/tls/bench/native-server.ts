/**
 * The benchmark's baseline: Node's native TLS (`tls.createServer`, OpenSSL) with the same
 * command line and the same HTTP behaviour as `outpost tls-demo`, so both sides of every
 * comparison see the same load generator, certificate and responses.
 *
 *   node packages/tls/bench/native-server.ts --listen 127.0.0.1:0 --cert CHAIN --key KEY
 *        [--connection-close] [--tickets N] [--echo]
 *
 * Prints `listening 127.0.0.1:<port>` once bound; exits 0 on SIGTERM/SIGINT.
 * HTTP/1.x: every request gets a 200 with a small HTML page; with --connection-close the
 * connection is closed after each response (one full handshake per request for h2load).
 * --echo writes every byte read back (bulk throughput, tlsfuzzer's lengths script).
 */
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:0' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'connection-close': { type: 'boolean', default: false },
    tickets: { type: 'string', default: '2' },
    echo: { type: 'boolean', default: false },
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
const tickets = Number(values.tickets)
const closeEach = values['connection-close']

const key = readFileSync(values.key)
const server = tls.createServer({
  cert: readFileSync(values.cert),
  key,
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  // Node (OpenSSL) sends 2 tickets by default; 0 turns stateless tickets off.
  ...(tickets === 0 ? { sessionTimeout: 0 } : {}),
})
key.fill(0)

const body = Buffer.from(
  '<!DOCTYPE html><html><head><title>outpost</title></head><body><p>It works.</p></body></html>\n',
)

server.on('secureConnection', (sock) => {
  sock.on('error', () => {
    sock.destroy()
  })
  if (values.echo) {
    sock.pipe(sock)
    return
  }
  let buf: Buffer = Buffer.alloc(0)
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    for (;;) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (buf.length > 65536) sock.destroy()
        return
      }
      const head = buf.subarray(0, end).toString('latin1')
      buf = buf.subarray(end + 4)
      const http10 = /^[^\r\n]* HTTP\/1\.0(\r|$)/.test(head)
      const wantsClose =
        closeEach ||
        /\r\nconnection:\s*close/i.test(head) ||
        (http10 && !/\r\nconnection:\s*keep-alive/i.test(head))
      sock.write(
        `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n` +
          `Connection: ${wantsClose ? 'close' : 'keep-alive'}\r\n\r\n`,
      )
      sock.write(body)
      if (wantsClose) {
        sock.end()
        return
      }
    }
  })
})
server.on('tlsClientError', () => {
  // counted by the client side; nothing to log in a benchmark
})

server.listen(port, '127.0.0.1', () => {
  const a = server.address()
  const p = typeof a === 'object' && a !== null ? a.port : port
  process.stdout.write(`listening 127.0.0.1:${p} (node ${process.version} native tls)\n`)
})

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    server.close()
    process.exit(0)
  })
}
