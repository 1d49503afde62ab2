/**
 * Starts Debian's nginx in the foreground with a throw-away prefix and config on a
 * loopback port, for parity tests and the benchmark. Killed by PID on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const NGINX = '/usr/sbin/nginx'
export const hasNginx = (): boolean => existsSync(NGINX)

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => {
        resolve(port)
      })
    })
  })
}

export interface Nginx {
  readonly port: number
  stop(): Promise<void>
}

/**
 * `limit`: the `limit_req` arguments, e.g. "burst=20 nodelay" with rate 10r/s, or
 * undefined for no limit. `proxyTo`: proxy to this origin port instead of a static file.
 */
export async function startNginx(o: {
  rate: string
  limit?: string
  proxyTo?: number
  /** Pin to this CPU list with taskset (benchmarks). */
  cpu?: string
}): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-nginx-'))
  mkdirSync(join(dir, 'www'))
  mkdirSync(join(dir, 'logs'))
  writeFileSync(join(dir, 'www', 'index.html'), 'ok\n')
  const port = await freePort()
  const lr = o.limit === undefined ? '' : `limit_req zone=z ${o.limit}; limit_req_status 429;`
  const body =
    o.proxyTo === undefined
      ? `root ${dir}/www; index index.html;`
      : `proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";`
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  limit_req_zone $binary_remote_addr zone=z:1m rate=${o.rate};
  ${o.proxyTo === undefined ? '' : `upstream up { server 127.0.0.1:${o.proxyTo}; keepalive 64; }`}
  server { listen 127.0.0.1:${port}; location = /warm { return 204; } location / { ${lr} add_header X-Msec $msec always; ${body} } }
}
`,
  )
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf')]
  const child: ChildProcess = spawn(
    o.cpu === undefined ? NGINX : 'taskset',
    o.cpu === undefined ? args : ['-c', o.cpu, NGINX, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}`)
    const up = await fetch(`http://127.0.0.1:${port}/warm`).then(
      () => true,
      () => false,
    )
    if (up) break
    await sleep(50)
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        const done = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await done
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
