/**
 * Runs the key server in its own process for the benchmark (started with
 * child_process.fork), so that its CPU time can be measured whole: event loop,
 * libuv threadpool (audit writes), GC helper threads. Reports CPU time and
 * event-loop utilisation between 'mark' and 'measure'.
 */
import {
  PerformanceObserver,
  constants,
  performance,
  type NodeGCPerformanceDetail,
} from 'node:perf_hooks'
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
// Major (mark-compact) GCs between 'mark' and 'measure': V8 sometimes runs
// them back to back for seconds (see docs/keyserver.md, Benchmark), which
// the cell's CPU per operation then includes.
let majorGcs = 0
let majorGcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    // GC entries carry a NodeGCPerformanceDetail (kind, flags) in `detail`.
    const kind = (e as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      majorGcs++
      majorGcMs += e.duration
    }
  }
}).observe({ entryTypes: ['gc'] })
let elu = performance.eventLoopUtilization()
let cpu = process.cpuUsage()
let threadCpu = process.threadCpuUsage()
process.on('message', (m: string) => {
  if (m === 'mark') {
    elu = performance.eventLoopUtilization()
    cpu = process.cpuUsage()
    threadCpu = process.threadCpuUsage()
    majorGcs = 0
    majorGcMs = 0
    send({ kind: 'marked' })
  } else if (m === 'measure') {
    send({
      kind: 'measured',
      elu: performance.eventLoopUtilization(elu).utilization,
      cpu: process.cpuUsage(cpu),
      threadCpu: process.threadCpuUsage(threadCpu),
      majorGcs,
      majorGcMs,
    })
  } else if (m === 'close') {
    void server.close().then(() => {
      process.disconnect()
    })
  }
})
send({ kind: 'ready', port: server.address.port })
