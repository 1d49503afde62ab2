/**
 * `outpost keyserver ...` and `outpost audit ...`. The administrative commands
 * talk to a running key server over its admin Unix socket (see admin.ts); only
 * `run`, `init` and `keys test-sign` do anything else.
 */
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { UsageError, flag, str, type Command, type RunArgs, untilSignal } from '@outpost/command'
import { parseConfigText } from '@outpost/config'
import { fromHex } from '@outpost/wire'
import { KeylessClient, KeylessError, Op, type Operation } from './_keyless.ts'
import { adminRequest, sealedAdminRequest } from './admin.ts'
import { verifyAuditFile } from './audit.ts'
import { loadKeyServerConfig } from './config.ts'
import { KeyServerError } from './errors.ts'
import { initKeystore } from './sealed-keystore.ts'
import { startKeyServer } from './server.ts'

const DEFAULT_SOCKET = '.outpost/keyserver/admin.sock'

const configOption = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  description: 'Key server config (keyserver.yaml)',
} as const
const socketOption = {
  type: 'string',
  value: 'PATH',
  description: `Admin socket (default: adminSocket from --config, else ${DEFAULT_SOCKET})`,
} as const
const adminOptions = { config: configOption, socket: socketOption }

function socketPath(a: RunArgs): string {
  const s = str(a, 'socket')
  if (s !== undefined) return s
  const c = str(a, 'config')
  if (c !== undefined) return loadKeyServerConfig(c).adminSocket
  return DEFAULT_SOCKET
}

async function admin(
  a: RunArgs,
  method: string,
  path: string,
  body?: Uint8Array,
  headers?: Record<string, string>,
  secret = false,
): Promise<unknown> {
  const sock = socketPath(a)
  let res
  try {
    res =
      secret && body !== undefined
        ? await sealedAdminRequest(sock, method, path, body, headers)
        : await adminRequest(sock, method, path, body, headers)
  } catch (e) {
    throw new UsageError(
      `Cannot reach the key server's admin socket ${sock}: ${(e as Error).message}`,
    )
  }
  if (res.status !== 200) {
    const err = (res.body as { error?: { message?: string } } | undefined)?.error
    throw new UsageError(err?.message ?? `admin API answered ${res.status}`)
  }
  return res.body
}

function json(a: RunArgs, v: unknown): void {
  a.out.write(JSON.stringify(v, null, 2) + '\n')
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

function positiveInt(a: RunArgs, name: string, fallback: number): number {
  const v = str(a, name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 255)
    throw new UsageError(`Invalid --${name} "${v}": expected 1..255`)
  return n
}

const runCmd: Command = {
  name: 'run',
  summary: 'Run the key server (mTLS keyless listener, metrics, admin socket)',
  options: { config: configOption },
  run: async (a) => {
    const config = loadKeyServerConfig(str(a, 'config', true))
    const server = await startKeyServer(config)
    const st = server.status()
    a.err.write(
      `keyserver listening on ${server.address.host}:${server.address.port}` +
        (st.sealed ? ` (SEALED: run 'outpost keyserver unseal' ${st.threshold} times)` : '') +
        '\n',
    )
    await untilSignal()
    await server.close()
    return 0
  },
}

const initCmd: Command = {
  name: 'init',
  summary: 'Create the sealed keystore and print its unseal shares (once)',
  description: `
Creates a random root key, splits it into N Shamir shares of which K unseal the
keystore, and prints the shares. They are shown only this once: hand one to each
key custodian. --dev also stores K shares in the keystore directory so that
dev.autoUnseal can unseal at start (never in production).`,
  options: {
    config: configOption,
    dir: {
      type: 'string',
      value: 'DIR',
      description: 'Keystore directory (default: keystore.dir from --config)',
    },
    shares: { type: 'string', value: 'N', description: 'Number of shares', default: '3' },
    threshold: { type: 'string', value: 'K', description: 'Shares needed to unseal', default: '2' },
    dev: { type: 'boolean', description: 'Keep shares in the keystore dir for dev.autoUnseal' },
  },
  run: (a) => {
    let dir = str(a, 'dir')
    let dev = flag(a, 'dev')
    const c = str(a, 'config')
    if (c !== undefined) {
      const cfg = loadKeyServerConfig(c)
      if (cfg.keystore.type !== 'directory')
        throw new UsageError('Cannot init: the configured keystore is not a directory keystore')
      dir ??= cfg.keystore.dir
      dev ||= cfg.dev.autoUnseal
    }
    if (dir === undefined) throw new UsageError('Missing --dir or --config')
    const n = positiveInt(a, 'shares', 3)
    const k = positiveInt(a, 'threshold', 2)
    if (k > n) throw new UsageError(`Invalid --threshold ${k}: more than --shares ${n}`)
    let shares: string[]
    try {
      shares = initKeystore(dir, { shares: n, threshold: k, keepSharesForDev: dev })
    } catch (e) {
      if (e instanceof KeyServerError) throw new UsageError(e.message)
      throw e
    }
    a.out.write(
      `Keystore created in ${dir}. Unseal shares (${k} of ${n} needed). They are shown ONLY NOW:\n\n` +
        shares.map((s, i) => `  share ${i + 1}: ${s}\n`).join('') +
        '\n',
    )
    if (dev)
      a.err.write(
        'WARNING: --dev kept unseal shares in the keystore directory; it is not protected at rest.\n',
      )
    return 0
  },
}

const unsealCmd: Command = {
  name: 'unseal',
  summary: 'Give the running key server one unseal share; prints progress, e.g. 2/3',
  args: '[SHARE]',
  description:
    "Reads the share from standard input when SHARE is omitted or '-' (keeps it out of shell history).",
  options: adminOptions,
  run: async (a) => {
    const arg = a.positionals[0]
    const share = arg === undefined || arg === '-' ? await readStdin() : Buffer.from(arg)
    try {
      const r = (await admin(a, 'POST', '/v1/unseal', share, {}, true)) as {
        sealed: boolean
        progress: number
        threshold: number
      }
      a.out.write(r.sealed ? `${r.progress}/${r.threshold}\n` : 'unsealed\n')
      return 0
    } finally {
      share.fill(0)
    }
  },
}

const sealCmd: Command = {
  name: 'seal',
  summary: "Wipe every key from the running key server's memory",
  options: adminOptions,
  run: async (a) => {
    await admin(a, 'POST', '/v1/seal')
    a.out.write('sealed\n')
    return 0
  },
}

const statusCmd: Command = {
  name: 'status',
  summary: 'Show seal state, unseal progress, keys and connections',
  options: adminOptions,
  run: async (a) => {
    json(a, await admin(a, 'GET', '/v1/status'))
    return 0
  },
}

const SIGN_SCHEMES = {
  'ecdsa-sha256': { opcode: Op.EcdsaSignSha256, hash: 'sha256' },
  'ecdsa-sha384': { opcode: Op.EcdsaSignSha384, hash: 'sha384' },
  'rsa-pkcs1-sha256': { opcode: Op.RsaSignSha256, hash: 'sha256' },
  'rsa-pss-sha256': { opcode: Op.RsaPssSignSha256, hash: 'sha256' },
  ed25519: { opcode: Op.Ed25519Sign, hash: undefined },
} as const

const keysCmd: Command = {
  name: 'keys',
  summary: 'Import, list and test keys',
  subcommands: [
    {
      name: 'import',
      summary: 'Seal a private key into the running, unsealed key server',
      options: {
        ...adminOptions,
        key: {
          type: 'string',
          value: 'KEY.pem',
          description: 'Private key (PEM or PKCS#8 DER), required',
        },
        policy: {
          type: 'string',
          value: 'FILE|JSON',
          description: 'Key policy: a YAML/JSON file or inline JSON, e.g. {"denyCountries":["RU"]}',
        },
      },
      run: async (a) => {
        const keyBytes = readFileSync(str(a, 'key', true))
        const p = str(a, 'policy')
        let policy: unknown = {}
        if (p !== undefined)
          policy = p.trimStart().startsWith('{')
            ? JSON.parse(p)
            : parseConfigText(readFileSync(p, 'utf8'), p)
        try {
          json(
            a,
            await admin(
              a,
              'POST',
              '/v1/keys',
              keyBytes,
              { 'x-outpost-policy': JSON.stringify(policy) },
              true,
            ),
          )
        } finally {
          keyBytes.fill(0)
        }
        return 0
      },
    },
    {
      name: 'list',
      summary: 'List keys: SKI, type, policy',
      options: adminOptions,
      run: async (a) => {
        const keys = (await admin(a, 'GET', '/v1/keys')) as {
          ski: string
          type: string
          policy: unknown
        }[]
        for (const k of keys)
          a.out.write(`${k.ski}  ${k.type.padEnd(10)}  ${JSON.stringify(k.policy)}\n`)
        if (keys.length === 0) a.out.write('(no keys; is the key server sealed?)\n')
        return 0
      },
    },
    {
      name: 'test-sign',
      summary: 'Sign a message through a key server over mTLS, as an edge would',
      description: `
Hashes --message locally (except for ed25519), sends the keyless operation with
--ski over mutual TLS, and writes the signature (DER for ECDSA) to --out, so that
e.g. 'openssl dgst -sha256 -verify pub.pem -signature SIG.der MSG' accepts it.
Schemes: ${Object.keys(SIGN_SCHEMES).join(', ')}.`,
      options: {
        server: { type: 'string', value: 'HOST:PORT', description: 'Key server (required)' },
        servername: {
          type: 'string',
          value: 'NAME',
          description: 'Name to verify the key server certificate against (default: HOST)',
        },
        ca: {
          type: 'string',
          value: 'CA.pem',
          description: 'CA of the key server certificate (required)',
        },
        cert: {
          type: 'string',
          value: 'NODE.pem',
          description: 'Node client certificate (required)',
        },
        key: { type: 'string', value: 'NODE-KEY.pem', description: 'Node client key (required)' },
        ski: {
          type: 'string',
          value: 'HEX',
          description: 'SKI of the key to sign with (required)',
        },
        message: { type: 'string', value: 'TEXT', description: 'Message to sign (required)' },
        out: {
          type: 'string',
          value: 'SIG.der',
          description: 'Where to write the signature (required)',
        },
        scheme: {
          type: 'string',
          value: 'SCHEME',
          description: 'Signature scheme',
          default: 'ecdsa-sha256',
        },
        sni: { type: 'string', value: 'NAME', description: 'SNI to send for policy checks' },
      },
      run: async (a) => {
        const server = str(a, 'server', true)
        const i = server.lastIndexOf(':')
        const host = server.slice(0, i)
        const port = Number(server.slice(i + 1))
        if (i <= 0 || !Number.isInteger(port))
          throw new UsageError(`Invalid --server "${server}": expected HOST:PORT`)
        const schemeName = str(a, 'scheme') ?? 'ecdsa-sha256'
        if (!Object.hasOwn(SIGN_SCHEMES, schemeName)) {
          throw new UsageError(
            `Invalid --scheme "${schemeName}": expected one of ${Object.keys(SIGN_SCHEMES).join(', ')}`,
          )
        }
        const scheme = SIGN_SCHEMES[schemeName as keyof typeof SIGN_SCHEMES]
        const ski = fromHex(str(a, 'ski', true))
        if (ski.length !== 20) throw new UsageError('Invalid --ski: expected 40 hex digits')
        const message = Buffer.from(str(a, 'message', true))
        const keyBytes = readFileSync(str(a, 'key', true))
        const client = new KeylessClient({
          servers: [{ host, port, servername: str(a, 'servername') ?? host }],
          ca: readFileSync(str(a, 'ca', true)),
          cert: readFileSync(str(a, 'cert', true)),
          key: keyBytes,
          operationTimeoutMs: 10_000,
        })
        const sni = str(a, 'sni')
        const op: Operation = {
          opcode: scheme.opcode,
          ski,
          payload:
            scheme.hash === undefined ? message : createHash(scheme.hash).update(message).digest(),
          ...(sni !== undefined ? { serverName: sni } : {}),
        }
        try {
          const answer = await client.execute(op)
          const sig = answer.payload ?? new Uint8Array(0)
          writeFileSync(str(a, 'out', true), sig)
          a.out.write(
            `wrote ${sig.length}-byte ${schemeName} signature to ${str(a, 'out', true)}\n`,
          )
          return 0
        } catch (e) {
          // A refusal (KeylessRemoteError) or a closed connection (e.g. a revoked node).
          if (e instanceof KeylessError) {
            a.err.write(`${e.message}\n`)
            return 1
          }
          throw e
        } finally {
          keyBytes.fill(0)
          await client.close()
        }
      },
    },
  ],
}

const revocationsCmd: Command = {
  name: 'revocations',
  summary: 'Show or replace the revoked node ids of the running key server',
  subcommands: [
    {
      name: 'list',
      summary: 'List revoked node ids',
      options: adminOptions,
      run: async (a) => {
        const r = (await admin(a, 'GET', '/v1/revocations')) as { nodeIds: string[] }
        for (const id of r.nodeIds) a.out.write(`${id}\n`)
        return 0
      },
    },
    {
      name: 'replace',
      summary: 'Replace the list; revoked nodes are refused and disconnected at once',
      args: '[NODE_ID...]',
      options: {
        ...adminOptions,
        file: {
          type: 'string',
          value: 'FILE',
          description: 'Read node ids from FILE (one per line, # comments)',
        },
      },
      run: async (a) => {
        const file = str(a, 'file')
        const ids = [...a.positionals]
        if (file !== undefined) {
          for (const line of readFileSync(file, 'utf8').split('\n')) {
            const id = line.replace(/#.*/, '').trim()
            if (id !== '') ids.push(id)
          }
        }
        const r = (await admin(a, 'PUT', '/v1/revocations', Buffer.from(JSON.stringify(ids)))) as {
          nodeIds: string[]
        }
        a.out.write(`${r.nodeIds.length} node(s) revoked\n`)
        return 0
      },
    },
  ],
}

export const keyserverCommand: Command = {
  name: 'keyserver',
  summary: 'Run and administer the key server',
  subcommands: [runCmd, initCmd, unsealCmd, sealCmd, statusCmd, keysCmd, revocationsCmd],
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Work with hash-chained audit logs',
  subcommands: [
    {
      name: 'verify',
      summary: 'Check the hash chain of an audit log; exit 1 at the first broken line',
      args: 'FILE',
      run: async (a) => {
        const file = a.positionals[0]
        if (file === undefined) throw new UsageError('Missing FILE')
        const v = await verifyAuditFile(file)
        if (v.ok) {
          a.out.write(`${file}: ${v.count} records, chain intact\n`)
          return 0
        }
        a.out.write(`${file}: line ${v.line}: ${v.reason} (${v.count} records before it verify)\n`)
        return 1
      },
    },
  ],
}
