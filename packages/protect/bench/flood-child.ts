/**
 * A flood client from one loopback source address: `concurrency` keep-alive requests in
 * flight for `ms` milliseconds (bounded), counting 2xx and 429 per 100 ms bucket.
 * argv: url host localAddress ms concurrency. Prints one JSON line.
 */
import { Agent, request } from 'node:http'

const [url = '', host = '', localAddress = '127.0.0.2', msArg = '3000', concArg = '32'] =
  process.argv.slice(2)
const ms = Number(msArg)
const u = new URL(url)
const agent = new Agent({ keepAlive: true, localAddress, maxSockets: Number(concArg) })
const t0 = performance.now()
const buckets: { ok: number; rejected: number; other: number }[] = []
let stop = false
setTimeout(() => (stop = true), ms)

function one(): Promise<void> {
  return new Promise((resolve) => {
    const r = request(
      { host: u.hostname, port: u.port, path: '/flood', agent, headers: { host } },
      (res) => {
        res.resume()
        res.on('end', () => {
          const b = Math.floor((performance.now() - t0) / 100)
          while (buckets.length <= b) buckets.push({ ok: 0, rejected: 0, other: 0 })
          const s = res.statusCode ?? 0
          const x = buckets[b]
          if (x !== undefined) {
            if (s >= 200 && s < 300) x.ok++
            else if (s === 429) x.rejected++
            else x.other++
          }
          resolve()
        })
      },
    )
    r.on('error', () => {
      resolve()
    })
    r.end()
  })
}

await Promise.all(
  Array.from({ length: Number(concArg) }, async () => {
    while (!stop) await one()
  }),
)
agent.destroy()
process.stdout.write(JSON.stringify({ buckets }) + '\n')
