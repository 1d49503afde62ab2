/**
 * `outpost keyless ...`: operator checks of the edge ↔ key-server link.
 *
 *   ping       round trips to each key server over mutual TLS, with their states
 *   sign-test  asks for a context-bound signature for a certificate's key and verifies it
 *   decode     prints the fields of a keyless frame given in hex (for packet captures)
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UsageError, flag, list, str, type Command, type RunArgs } from '@outpost/command'
import { SignatureScheme, nameOfSignatureScheme } from '@outpost/tls/constants'
import { concat, fromHex, toHex } from '@outpost/wire'
import { KeylessClient, type KeylessServerAddress } from './client.ts'
import { nameOfErrorCode, nameOfOp, Op } from './codec/constants.ts'
import { decodeFrame } from './codec/frame.ts'
import { skiOf } from './key-id.ts'
import { RemoteSigner } from './signer.ts'

const connectOptions = {
  server: {
    type: 'string',
    multiple: true,
    value: 'HOST:PORT',
    description: 'Key server, repeat for several (default: 127.0.0.1:2407)',
  },
  servername: {
    type: 'string',
    value: 'NAME',
    description: 'Name the key-server certificate must carry',
  },
  ca: { type: 'string', value: 'FILE', description: "PEM CA of the key servers' certificates" },
  cert: { type: 'string', value: 'FILE', description: 'PEM client (node) certificate' },
  key: { type: 'string', value: 'FILE', description: 'PEM client (node) private key' },
  tls12: { type: 'boolean', description: 'Use TLS 1.2 (for key servers capped at 1.2)' },
  'timeout-ms': { type: 'string', value: 'MS', description: 'Operation deadline', default: '5000' },
} as const

/** Parses "host:port" or "[v6]:port". */
export function parseServer(s: string, servername?: string): KeylessServerAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(s)
  const port = Number(m?.[3])
  const host = m?.[1] ?? m?.[2]
  if (host === undefined || !(port > 0 && port <= 65535)) {
    throw new UsageError(`Invalid --server "${s}": expected HOST:PORT, e.g. 127.0.0.1:2407`)
  }
  return servername === undefined ? { host, port } : { host, port, servername }
}

function clientFrom(a: RunArgs): KeylessClient {
  const servers = list(a, 'server').map((s) => parseServer(s, str(a, 'servername')))
  const key = readFileSync(str(a, 'key', true))
  try {
    return new KeylessClient({
      servers: servers.length > 0 ? servers : [parseServer('127.0.0.1:2407')],
      ca: readFileSync(str(a, 'ca', true)),
      cert: readFileSync(str(a, 'cert', true)),
      key,
      operationTimeoutMs: Number(str(a, 'timeout-ms') ?? 5000),
      ...(flag(a, 'tls12') ? { tlsMaxVersion: 'TLSv1.2' as const } : {}),
    })
  } finally {
    key.fill(0)
  }
}

const ping: Command = {
  name: 'ping',
  summary: 'Round-trip pings to the key servers over mutual TLS',
  options: {
    ...connectOptions,
    count: { type: 'string', value: 'N', description: 'Pings to send', default: '3' },
  },
  run: async (a) => {
    const client = clientFrom(a)
    let failed = 0
    try {
      const n = Number(str(a, 'count') ?? 3)
      for (let i = 0; i < n; i++) {
        try {
          a.out.write(`ping ${i + 1}: ${(await client.ping()).toFixed(2)} ms\n`)
        } catch (e) {
          failed++
          a.out.write(`ping ${i + 1}: ${(e as Error).message}\n`)
        }
      }
      for (const s of client.status()) a.out.write(`${s.server}: ${s.state}\n`)
    } finally {
      await client.close()
    }
    return failed === 0 ? 0 : 1
  },
}

const signTest: Command = {
  name: 'sign-test',
  summary: "Get a context-bound TLS 1.3 signature for a certificate's key and verify it",
  options: {
    ...connectOptions,
    'site-cert': {
      type: 'string',
      value: 'FILE',
      description: 'PEM certificate whose key the key server holds',
    },
    digest: { type: 'boolean', description: "Use 'digest' mode (v1 opcodes) instead of SignTls13" },
    sni: { type: 'string', value: 'NAME', description: 'Server name to send for policy checks' },
  },
  run: async (a) => {
    const cert = new X509Certificate(readFileSync(str(a, 'site-cert', true)))
    const key = cert.publicKey
    const scheme =
      key.asymmetricKeyType === 'ed25519'
        ? SignatureScheme.ed25519
        : key.asymmetricKeyType === 'rsa'
          ? SignatureScheme.rsa_pss_rsae_sha256
          : key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
            ? SignatureScheme.ecdsa_secp384r1_sha384
            : SignatureScheme.ecdsa_secp256r1_sha256
    const client = clientFrom(a)
    try {
      const signer = new RemoteSigner({
        client,
        ski: skiOf(key),
        schemes: [scheme],
        mode: flag(a, 'digest') ? 'digest' : 'context',
        publicKey: key,
      })
      const hashLength = scheme === SignatureScheme.ecdsa_secp384r1_sha384 ? 48 : 32
      const content = concat(
        new Uint8Array(64).fill(0x20),
        new TextEncoder().encode('TLS 1.3, server CertificateVerify'),
        Uint8Array.of(0),
        createHash('sha512').update('outpost keyless sign-test').digest().subarray(0, hashLength),
      )
      const sni = str(a, 'sni')
      const t0 = performance.now()
      const sig = await signer.sign(scheme, content, sni === undefined ? {} : { serverName: sni })
      // RemoteSigner already verified it against publicKey; say so plainly.
      a.out.write(
        `${nameOfSignatureScheme(scheme)} signature of ${sig.length} bytes in ${(performance.now() - t0).toFixed(1)} ms: verified\n`,
      )
      return 0
    } finally {
      await client.close()
    }
  },
}

const decode: Command = {
  name: 'decode',
  summary: 'Print the fields of a keyless frame given in hex',
  args: 'HEX',
  run: (a) => {
    const hex = a.positionals.join('')
    if (hex === '') throw new UsageError('Give the frame as hex, e.g. 010003f8000000011100 01f1...')
    const { major, minor, id, op } = decodeFrame(fromHex(hex))
    a.out.write(`version ${major}.${minor}, id ${id}, opcode ${nameOfOp(op.opcode)}\n`)
    for (const [k, v] of Object.entries(op)) {
      if (k === 'opcode') continue
      const shown = v instanceof Uint8Array ? toHex(v) : String(v)
      a.out.write(`  ${k}: ${shown}\n`)
    }
    if (op.opcode === Op.Error && op.payload?.length === 1) {
      a.out.write(`  error: ${nameOfErrorCode(op.payload[0] ?? 0)}\n`)
    }
    return 0
  },
}

export const keylessCommand: Command = {
  name: 'keyless',
  summary: 'Check the keyless link to key servers (ping, sign-test, decode)',
  subcommands: [ping, signTest, decode],
}
