/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, listen on a
 * Unix socket only (listen_addresses=''), as the `postgres` user when we run
 * as root (postgres refuses to run as root). `undefined` with a reason when
 * the binaries are missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PgServer {
  readonly url: string
  stop(): Promise<void>
}

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const d = join(base, v, 'bin')
    if (existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres'))) return d
  }
  return undefined
}

export function postgresMissing(): string | undefined {
  if (binDir() === undefined)
    return 'PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install -y postgresql)'
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0) {
    return 'running as root and there is no "postgres" user to run the server as'
  }
  return undefined
}

export async function startPostgres(): Promise<PgServer> {
  const bin = binDir()
  if (bin === undefined) throw new Error('Cannot start PostgreSQL: binaries not found')
  const dir = mkdtempSync(join(tmpdir(), 'control-pg-'))
  chmodSync(dir, 0o777)
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]
  const [c1, a1] = wrap(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ])
  const init = spawnSync(c1, a1, { encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`Cannot run initdb: ${init.stderr}`)
  const port = 20000 + Math.floor(Math.random() * 20000)
  const [c2, a2] = wrap(join(bin, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=',
    '-c',
    'fsync=off',
  ])
  const child: ChildProcess = spawn(c2, a2, { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (d: Buffer) => (log += d.toString('utf8')))
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 30_000
    const poll = (): void => {
      if (log.includes('ready to accept connections')) resolve()
      else if (child.exitCode !== null || Date.now() > deadline) {
        reject(new Error(`Cannot start postgres: ${log}`))
      } else setTimeout(poll, 100)
    }
    poll()
  })
  // If a test dies before stop(), do not leave a postmaster behind.
  const postmasterPid = (): number =>
    Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  const pid = postmasterPid()
  const onExit = (): void => {
    try {
      process.kill(pid, 'SIGINT')
    } catch {
      // already gone
    }
  }
  process.once('exit', onExit)
  return {
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        // runuser does not forward signals: stop the postmaster by its pid file.
        process.off('exit', onExit)
        process.kill(pid, 'SIGINT')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
