/**
 * Test-only TCP forwarder for the partition tests: listens on LISTEN_HOST at each PORT and
 * pipes every connection to the same PORT on TARGET_HOST. Prints "ready" once listening.
 * argv: LISTEN_HOST TARGET_HOST PORT...
 */
import { connect, createServer, type Socket } from 'node:net'

const [listenHost = '127.0.0.1', targetHost = '127.0.0.1', ...ports] = process.argv.slice(2)
const sockets = new Set<Socket>()
const servers = ports.map((p) =>
  createServer((c) => {
    const u = connect(Number(p), targetHost)
    for (const s of [c, u]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        c.destroy()
        u.destroy()
      })
    }
    c.pipe(u).pipe(c)
  }),
)
let pending = servers.length
for (const [i, s] of servers.entries()) {
  s.listen(Number(ports[i]), listenHost, () => {
    if (--pending === 0) process.stdout.write('ready\n')
  })
}
process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy()
  for (const s of servers) s.close()
})
