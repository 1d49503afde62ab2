/**
 * Runs the key server in its own process for the benchmark (started with
 * child_process.fork), so that its CPU time can be measured whole: event loop,
 * libuv threadpool (audit writes), GC helper threads. Reports CPU time and
 * event-loop utilisation between 'mark' and 'measure'.
 */
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { startKeyServer, type KeyServerConfigInput } from '@outpost/keyserver'

interface Setup {
  kind: 'setup'
  config: KeyServerConfigInput
  share: string
  keys: Uint8Array[]
}

const send = (m: unknown): void => {
  process.send?.(m)
}

const setup = await new Promise<Setup>((resolve) => {
  process.once('message', (m: Setup) => {
    resolve(m)
  })
})
const server = await startKeyServer(setup.config, {
  logger: pino({ level: 'silent' }),
  handleSighup: false,
  warn: () => undefined,
  env: {},
})
server.unseal(setup.share)
for (const k of setup.keys) {
  server.importKey(k)
  k.fill(0)
}
let elu = performance.eventLoopUtilization()
let cpu = process.cpuUsage()
let threadCpu = process.threadCpuUsage()
process.on('message', (m: string) => {
  if (m === 'mark') {
    elu = performance.eventLoopUtilization()
    cpu = process.cpuUsage()
    threadCpu = process.threadCpuUsage()
    send({ kind: 'marked' })
  } else if (m === 'measure') {
    send({
      kind: 'measured',
      elu: performance.eventLoopUtilization(elu).utilization,
      cpu: process.cpuUsage(cpu),
      threadCpu: process.threadCpuUsage(threadCpu),
    })
  } else if (m === 'close') {
    void server.close().then(() => {
      process.disconnect()
    })
  }
})
send({ kind: 'ready', port: server.address.port })
