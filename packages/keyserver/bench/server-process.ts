/**
 * Runs the key server in its own worker thread for the benchmark, so that it
 * has one core (one event loop) to itself and the load generator runs beside
 * it. Reports its event-loop utilisation and its thread's CPU time on request.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { startKeyServer, type KeyServerConfigInput } from '@outpost/keyserver'

const { config, share, keys } = workerData as {
  config: KeyServerConfigInput
  share: string
  keys: Uint8Array[]
}
const server = await startKeyServer(config, {
  logger: pino({ level: 'silent' }),
  handleSighup: false,
  warn: () => undefined,
  env: {},
})
server.unseal(share)
for (const k of keys) server.importKey(k)
let elu = performance.eventLoopUtilization()
let cpu = process.threadCpuUsage()
parentPort?.on('message', (m: string) => {
  if (m === 'mark') {
    elu = performance.eventLoopUtilization()
    cpu = process.threadCpuUsage()
    parentPort?.postMessage({ kind: 'marked' })
  } else if (m === 'measure') {
    const u = performance.eventLoopUtilization(elu)
    parentPort?.postMessage({
      kind: 'measured',
      elu: u.utilization,
      cpu: process.threadCpuUsage(cpu),
    })
  } else if (m === 'close') {
    void server.close().then(() => parentPort?.close())
  }
})
parentPort?.postMessage({ kind: 'ready', port: server.address.port })
