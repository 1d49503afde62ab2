/**
 * `outpost edge ...`: run an edge, and administer a running one through its
 * admin API (reload, purge). Client commands take the admin address from
 * --admin or from the config's admin.listen, and the bearer token from
 * --token-file or the OUTPOST_EDGE_ADMIN_TOKEN environment variable.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UsageError, str, type Command, type RunArgs, untilSignal } from '@outpost/command'
import { request } from 'undici'
import { loadEdgeConfig } from './config.ts'
import { startEdge } from './start.ts'

const configOption = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  description: 'Edge config (edge.yaml)',
} as const
const adminOptions = {
  config: configOption,
  admin: {
    type: 'string',
    value: 'HOST:PORT',
    description: 'Admin API address (default: admin.listen from --config)',
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    description: 'File holding the admin bearer token (default: $OUTPOST_EDGE_ADMIN_TOKEN)',
  },
} as const

function adminAddress(a: RunArgs): string {
  const direct = str(a, 'admin')
  if (direct !== undefined) return direct
  const file = str(a, 'config')
  if (file === undefined) throw new UsageError('Missing --admin HOST:PORT or --config FILE')
  const admin = loadEdgeConfig(file).admin
  if (admin === undefined) throw new UsageError(`Cannot find admin.listen in ${file}`)
  return admin.listen
}

function token(a: RunArgs): Buffer {
  const file = str(a, 'token-file')
  if (file !== undefined) {
    const raw = readFileSync(file)
    // Trim trailing newline bytes without making a string of the token.
    let end = raw.length
    while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20))
      end--
    const t = Buffer.from(raw.subarray(0, end))
    raw.fill(0)
    return t
  }
  const env = process.env['OUTPOST_EDGE_ADMIN_TOKEN']
  if (env === undefined || env === '') {
    throw new UsageError('Missing admin token: pass --token-file or set OUTPOST_EDGE_ADMIN_TOKEN')
  }
  return Buffer.from(env, 'utf8')
}

async function callAdmin(a: RunArgs, path: string, body: unknown): Promise<unknown> {
  const address = adminAddress(a)
  const t = token(a)
  try {
    const auth = Buffer.concat([Buffer.from('Bearer '), t])
    const r = await request(`http://${address}${path}`, {
      method: 'POST',
      headers: { authorization: auth.toString('latin1'), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).catch((e: unknown) => {
      throw new UsageError(`Cannot reach the edge admin API at ${address}: ${(e as Error).message}`)
    })
    auth.fill(0)
    const json = (await r.body.json()) as { error?: { title?: string; detail?: string } }
    if (r.statusCode !== 200) {
      throw new UsageError(
        `Edge admin API answered ${r.statusCode}: ${json.error?.detail ?? json.error?.title ?? ''}`,
      )
    }
    return json
  } finally {
    t.fill(0)
  }
}

const run: Command = {
  name: 'run',
  summary: 'Run an edge: TLS (keyless) reverse proxy with an encrypted cache',
  description: `
SIGHUP reloads the config file (sites, certificates, key-server pools) without
dropping connections; SIGINT/SIGTERM stop gracefully and zeroise every key.`,
  options: { config: { ...configOption, description: 'Edge config (required)' } },
  async run(a) {
    const file = str(a, 'config', true)
    const edge = await startEdge(loadEdgeConfig(file), {
      configFile: file,
      onError: (e, what) => {
        if (what === 'cache-write' || what === 'background-refresh' || what === 'request') {
          a.err.write(`edge: ${what}: ${(e as Error).message}\n`)
        }
      },
    })
    a.out.write(
      `edge listening on ${edge.address} (${edge.config.plaintext ? 'plaintext' : 'TLS'})` +
        (edge.adminAddress !== undefined ? `, admin ${edge.adminAddress}` : '') +
        (edge.metricsAddress !== undefined ? `, metrics ${edge.metricsAddress}` : '') +
        '\n',
    )
    const onHup = (): void => {
      edge.reload().then(
        () => a.out.write('edge: reloaded\n'),
        (e: unknown) =>
          a.err.write(`edge: reload failed, keeping the old config: ${(e as Error).message}\n`),
      )
    }
    process.on('SIGHUP', onHup)
    await untilSignal()
    process.off('SIGHUP', onHup)
    await edge.close()
    return 0
  },
}

const reload: Command = {
  name: 'reload',
  summary: 'Reload a running edge (config file, certificates, key-server pools)',
  options: adminOptions,
  async run(a) {
    await callAdmin(a, '/reload', {})
    a.out.write('reloaded\n')
    return 0
  },
}

const purge: Command = {
  name: 'purge',
  summary: 'Purge cached responses by URL, URL prefix, host or Cache-Tag',
  options: {
    ...adminOptions,
    url: { type: 'string', value: 'URL', description: 'One URL, e.g. https://example.com/a?b' },
    prefix: { type: 'string', value: 'URL', description: 'Every URL starting with this' },
    host: { type: 'string', value: 'HOST', description: 'Every URL of this host' },
    tag: { type: 'string', value: 'TAG', description: 'Every response whose Cache-Tag lists TAG' },
  },
  async run(a) {
    const given = (['url', 'prefix', 'host', 'tag'] as const).filter((k) => str(a, k) !== undefined)
    const which = given[0]
    if (given.length !== 1 || which === undefined) {
      throw new UsageError('Pass exactly one of --url, --prefix, --host, --tag')
    }
    const res = (await callAdmin(a, '/purge', { [which]: str(a, which) })) as { purged: number }
    a.out.write(`purged ${res.purged}\n`)
    return 0
  },
}

const tokenHash: Command = {
  name: 'token-hash',
  summary: 'Print the SHA-256 of an admin token read from standard input (for admin.tokenSha256)',
  description: `
Generate a token with e.g. 'openssl rand -hex 32 > token', keep it where the
operators' tools read it, and put the output of
'outpost edge token-hash < token' in the edge config.`,
  async run(a) {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks)
    let end = raw.length
    while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--
    if (end === 0) throw new UsageError('Expected the token on standard input')
    a.out.write(createHash('sha256').update(raw.subarray(0, end)).digest('hex') + '\n')
    raw.fill(0)
    for (const c of chunks) c.fill(0)
    return 0
  },
}

export const edgeCommand: Command = {
  name: 'edge',
  summary: 'Run and administer an edge node',
  subcommands: [run, reload, purge, tokenHash],
}
