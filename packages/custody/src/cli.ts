/** `outpost custody ...`: seal the node identity to Tang, report custody state, run a dev Tang server. */
import { readFileSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { UsageError, flag, str, type Command } from '@outpost/command'
import { readStateFile, DEFAULT_STATE_FILE } from './state-file.ts'
import { clevisDecrypt, clevisEncryptTang, type TangPinConfig } from './tang/clevis.ts'
import { TangServer } from './tang/server.ts'
import type { CustodyState } from './state.ts'

/** Exit codes of `outpost custody status`, one per state (scripts and health checks). */
export const STATUS_EXIT = {
  serving: 0,
  sealed: 10,
  unlocked: 11,
  bricked: 20,
} as const satisfies Record<CustodyState, number>

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const stateFileOption = {
  type: 'string',
  value: 'FILE',
  description: 'Custody state file written by the agent',
  default: DEFAULT_STATE_FILE,
} as const

const tangDirOption = {
  type: 'string',
  value: 'DIR',
  description: 'Tang key directory (one sub-directory per node)',
  default: '.outpost/tang',
} as const

export const custodyCommand: Command = {
  name: 'custody',
  summary: 'Edge custody: Tang unlock, lease, brick',
  subcommands: [
    {
      name: 'seal-identity',
      summary: 'Encrypt the node identity key to a Tang server (Clevis JWE)',
      description: `
Writes KEY as a Clevis-compatible JWE (tang pin) that only the Tang service can help
decrypt; 'clevis decrypt' opens it too. Afterwards the plaintext KEY file is yours to
destroy (shred -u KEY.pem): the node must keep only the JWE on disk.
Trust in the Tang advert: --thp (signing key thumbprint), --adv (saved advert), or
--trust-first-use.`,
      options: {
        tang: { type: 'string', value: 'URL', description: 'Tang URL for this node (required)' },
        key: { type: 'string', value: 'KEY.pem', description: 'Identity key file (required)' },
        out: { type: 'string', value: 'FILE', description: 'Output JWE file (required)' },
        thp: { type: 'string', value: 'THP', description: 'Pinned signing-key thumbprint' },
        adv: { type: 'string', value: 'FILE', description: 'Advert (JWS) saved from GET /adv' },
        'trust-first-use': { type: 'boolean', description: 'Accept the served advert (TOFU)' },
      },
      run: async (a) => {
        const thp = str(a, 'thp')
        const adv = str(a, 'adv')
        const cfg: TangPinConfig = {
          url: str(a, 'tang', true),
          ...(thp !== undefined ? { thp } : {}),
          ...(adv !== undefined ? { adv: readFileSync(adv, 'utf8') } : {}),
          ...(flag(a, 'trust-first-use') ? { trustFirstUse: true } : {}),
        }
        if (thp === undefined && adv === undefined && !flag(a, 'trust-first-use')) {
          throw new UsageError('Pass --thp, --adv or --trust-first-use to trust the Tang advert')
        }
        const out = str(a, 'out', true)
        const key = readFileSync(str(a, 'key', true))
        try {
          const jwe = await clevisEncryptTang(key, cfg)
          writeFileSync(out, jwe, { mode: 0o600 })
        } finally {
          key.fill(0)
        }
        a.out.write(`${out}\nNow destroy the plaintext key file (e.g. shred -u).\n`)
        return 0
      },
    },
    {
      name: 'check-unlock',
      summary: 'Decrypt a Clevis JWE through Tang and print only a fingerprint of the result',
      args: 'FILE.jwe',
      run: async (a) => {
        const file = a.positionals[0]
        if (file === undefined) throw new UsageError('Missing FILE.jwe')
        const pt = await clevisDecrypt(readFileSync(file, 'ascii'))
        const fp = createHash('sha256').update(pt).digest('hex').slice(0, 16)
        pt.fill(0)
        a.out.write(`ok: ${pt.length} bytes, sha256 ${fp}…\n`)
        return 0
      },
    },
    {
      name: 'status',
      summary: 'Show the custody state (exit 0 serving, 10 sealed, 11 unlocked, 20 bricked)',
      options: {
        'state-file': stateFileOption,
        json: { type: 'boolean', description: 'Print JSON' },
      },
      run: (a) => printStatus(str(a, 'state-file') ?? DEFAULT_STATE_FILE, flag(a, 'json'), a),
    },
    {
      name: 'tang-serve',
      summary: 'Run a Tang-compatible server on 127.0.0.1 (development; URL per node: BASE/NODE)',
      options: {
        dir: tangDirOption,
        port: { type: 'string', value: 'PORT', description: 'Port', default: '7500' },
      },
      run: async (a) => {
        const port = Number(str(a, 'port') ?? '7500')
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new UsageError('Invalid --port')
        }
        const server = new TangServer({ dir: str(a, 'dir') ?? '.outpost/tang' })
        const url = await server.listen(port)
        a.out.write(`tang: ${url}/<node-id>\n`)
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            resolve()
          }
          process.once('SIGINT', stop)
          process.once('SIGTERM', stop)
        })
        await server.close()
        return 0
      },
    },
    {
      name: 'tang-rotate',
      summary: "Rotate a node's Tang keys (old keys hidden, still serve recovery)",
      options: {
        dir: tangDirOption,
        node: { type: 'string', value: 'ID', description: 'Node id (required)' },
      },
      run: (a) => {
        const server = new TangServer({ dir: str(a, 'dir') ?? '.outpost/tang' })
        for (const k of server.keys.rotate(str(a, 'node', true)))
          a.out.write(`${k.kind} ${k.thp}\n`)
        server.keys.close()
        return 0
      },
    },
    {
      name: 'tang-shred',
      summary: "Delete all of a node's Tang keys: its JWEs can never be decrypted again",
      options: {
        dir: tangDirOption,
        node: { type: 'string', value: 'ID', description: 'Node id (required)' },
      },
      run: (a) => {
        const server = new TangServer({ dir: str(a, 'dir') ?? '.outpost/tang' })
        server.keys.deleteNode(str(a, 'node', true))
        a.out.write('shredded\n')
        return 0
      },
    },
  ],
}

/**
 * Prints the state file (`--json`: the document plus `agentRunning`) and returns the
 * state's exit code ({@link STATUS_EXIT}), 1 when the file cannot be read.
 * `outpost custody status` and `outpost edge status` both use it.
 */
export function printStatus(
  file: string,
  json: boolean,
  a: { out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): number {
  let read
  try {
    read = readStateFile(file)
  } catch (e) {
    a.err.write(`status: Cannot read ${file}: ${(e as Error).message}\n`)
    return 1
  }
  const { status, doc } = read
  // A serving/unlocked record whose agent is gone is stale: say so, keep the exit code
  // of the recorded state (the next boot turns it into bricked/power_loss).
  const alive = isRunning(doc.pid)
  if (json) a.out.write(JSON.stringify({ ...doc, agentRunning: alive }) + '\n')
  else {
    const lines = [`state: ${status.state}`, `since: ${doc.since}`]
    if (status.state === 'bricked') {
      lines.push(`reason: ${status.reason}`)
      if (status.seconds !== undefined) lines.push(`seconds: ${status.seconds}`)
      if (status.detail !== undefined) lines.push(`detail: ${status.detail}`)
    }
    if (doc.leaseExpiresAt !== undefined) lines.push(`lease expires: ${doc.leaseExpiresAt}`)
    lines.push(`agent pid: ${doc.pid}${alive ? '' : ' (not running)'}, updated ${doc.updatedAt}`)
    a.out.write(lines.join('\n') + '\n')
  }
  return STATUS_EXIT[status.state]
}
