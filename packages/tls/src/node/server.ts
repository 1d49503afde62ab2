/** `createTlsServer()`: a net.Server whose connections are TLS 1.3 (the convenience over `accept`). */
import { createServer, type Server, type Socket } from 'node:net'
import { resolveConfig, type TlsServerConfig } from '../server/config.ts'
import { TlsConnection } from './connection.ts'

/**
 * A net.Server that runs our TLS on each connection and calls
 * `onSecureConnection` once the handshake completes. Failed handshakes are
 * reported as 'tlsClientError' (error, connection) on the server.
 *
 * @example
 * ```ts
 * const httpServer = http.createServer((req, res) => res.end('hello'))
 * const server = createTlsServer(config, (conn) => httpServer.emit('connection', conn))
 * server.listen(8443, '127.0.0.1')
 * ```
 */
export function createTlsServer(
  config: TlsServerConfig,
  onSecureConnection: (conn: TlsConnection) => void,
  options: {
    /**
     * Asked for each accepted TCP connection before any TLS work; false destroys
     * the socket at once (e.g. a per-address connection cap).
     */
    readonly admitSocket?: (socket: Socket) => boolean
  } = {},
): Server {
  const resolved = resolveConfig(config)
  const admitSocket = options.admitSocket
  const server = createServer({ noDelay: true }, (socket) => {
    if (admitSocket !== undefined && !admitSocket(socket)) {
      socket.destroy()
      return
    }
    const conn = new TlsConnection(socket, resolved)
    conn.once('secure', () => {
      onSecureConnection(conn)
    })
    conn.on('tlsError', (err: unknown) => {
      server.emit('tlsClientError', err, conn)
    })
  })
  return server
}
