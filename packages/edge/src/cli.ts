/**
 * `outpost edge ...`: run an edge, and administer a running one through its
 * admin API (reload, purge). Client commands take the admin address from
 * --admin or from the config's admin.listen, and the bearer token from
 * --token-file or the OUTPOST_EDGE_ADMIN_TOKEN environment variable.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UsageError, flag, str, type Command, type RunArgs, untilSignal } from '@outpost/command'
import { request } from 'undici'
import { hardenProcess, printStatus, STATUS_EXIT } from '@outpost/custody'
import { loadEdgeConfig } from './config.ts'
import { startEdge } from './start.ts'
import { enrolNode } from './node/enrol.ts'
import { NODE_FILES } from './node/node-file.ts'
import { startNode } from './node/run-node.ts'
import { join } from 'node:path'

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
  options: {
    config: { ...configOption, description: 'Edge config (static mode)' },
    dir: {
      type: 'string',
      value: 'DIR',
      description: 'Node directory from `outpost edge enrol` (node mode: control plane)',
    },
    control: {
      type: 'string',
      value: 'URL',
      description: 'Node mode: the control plane (must match the enrolment; informational)',
    },
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'Node mode: visitor listener (default 127.0.0.1:8443)',
    },
    'grace-seconds': {
      type: 'string',
      value: 'N',
      description: "Node mode: override the region's lease grace (tests)",
    },
  },
  async run(a) {
    if (str(a, 'dir') !== undefined) return runNode(a)
    const file = str(a, 'config')
    if (file === undefined) throw new UsageError('Pass --config FILE (static) or --dir DIR (node)')
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

/** `edge run --dir DIR`: the enrolled node (custody agent, lease, bundle). */
async function runNode(a: RunArgs): Promise<number> {
  const dir = str(a, 'dir', true)
  // Test-only: keep the process dumpable so a test can take a core image (gcore).
  if (process.env['OUTPOST_TEST_ALLOW_CORE'] !== '1') hardenProcess()
  const grace = str(a, 'grace-seconds')
  let last = ''
  const node = startNode({
    dir,
    ...(str(a, 'listen') !== undefined ? { listen: str(a, 'listen', true) } : {}),
    ...(grace !== undefined ? { graceMs: Number(grace) * 1000 } : {}),
    onState: (s) => {
      if (s.state === last) return // a renewal re-enters serving: print changes only
      last = s.state
      a.out.write(
        `state: ${s.state}${s.state === 'bricked' ? ` (${s.reason}${s.detail !== undefined ? `: ${s.detail}` : ''})` : ''}\n`,
      )
    },
  })
  node.ready.then(
    (edge) => a.out.write(`edge listening on ${edge.address} (node ${node.nodeId})\n`),
    (e: unknown) => a.err.write(`edge: ${(e as Error).message}\n`),
  )
  const outcome = await Promise.race([
    untilSignal().then(() => 'signal' as const),
    node.bricked.then(() => 'bricked' as const),
    node.ready.then(
      () => new Promise<never>(() => undefined),
      () => 'failed' as const,
    ),
  ])
  if (outcome === 'signal') {
    await node.close()
    return 0
  }
  if (outcome === 'bricked' && process.env['OUTPOST_TEST_ALLOW_CORE'] === '1') {
    // Test mode: stay up for the core image (a timer keeps the event loop alive).
    const keep = setInterval(() => undefined, 60_000)
    await untilSignal()
    clearInterval(keep)
  }
  return outcome === 'bricked' ? STATUS_EXIT.bricked : 1
}

const enrol: Command = {
  name: 'enrol',
  summary: 'Enrol this machine as a node of a control plane (identity sealed to its Tang)',
  description: `
Generates the node's identity key and a CSR, enrols with the one-time token from
'outpost ctl nodes enrol', and seals the key as a Clevis JWE to the control plane's
Tang endpoint for this node: the key is never written in the clear. Then run the
node with 'outpost edge run --dir DIR'.`,
  options: {
    control: { type: 'string', value: 'URL', description: 'Control plane URL (operator API)' },
    'node-id': { type: 'string', value: 'ID', description: 'Node id registered by the operator' },
    token: { type: 'string', value: 'TOKEN', description: 'One-time enrolment token' },
    dir: { type: 'string', value: 'DIR', description: 'Node directory to create' },
    'key-server': {
      type: 'string',
      value: 'HOST:PORT[,HOST:PORT]',
      description: 'Key servers (keyless signing) the node uses',
    },
    'key-server-ca': {
      type: 'string',
      value: 'FILE',
      description: "CA of the key servers' certificates (PEM)",
    },
  },
  async run(a) {
    const ks = str(a, 'key-server')
    const ksCa = str(a, 'key-server-ca')
    if ((ks === undefined) !== (ksCa === undefined)) {
      throw new UsageError('Pass --key-server and --key-server-ca together')
    }
    const n = await enrolNode({
      control: str(a, 'control', true),
      nodeId: str(a, 'node-id', true),
      token: str(a, 'token', true),
      dir: str(a, 'dir', true),
      ...(ks !== undefined && ksCa !== undefined
        ? { keyServers: { servers: ks.split(','), caFile: ksCa } }
        : {}),
    })
    a.out.write(`enrolled ${n.nodeId}: identity sealed to ${n.tangUrl}\n`)
    return 0
  },
}

const status: Command = {
  name: 'status',
  summary: `Custody state of the node (exit ${STATUS_EXIT.serving} serving, ${STATUS_EXIT.sealed} sealed, ${STATUS_EXIT.unlocked} unlocked, ${STATUS_EXIT.bricked} bricked, 1 unreadable)`,
  options: {
    dir: { type: 'string', value: 'DIR', description: 'Node directory' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  run: (a) => printStatus(join(str(a, 'dir', true), NODE_FILES.state), flag(a, 'json'), a),
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
  subcommands: [run, enrol, status, reload, purge, tokenHash],
}
