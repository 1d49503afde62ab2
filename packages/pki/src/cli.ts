/** `outpost pki ...`: a development PKI. */
import { readFileSync } from 'node:fs'
import { UsageError, str, list, type Command, type RunArgs } from '@outpost/command'
import { KEY_TYPES, parseCertificates, type KeyType } from './certs.ts'
import { writeDevPki, writeNodeCert, writeServerCert } from './dev-pki.ts'
import { nodeIdentityFromCert } from './identity.ts'

const dirOption = {
  type: 'string',
  value: 'DIR',
  description: 'PKI directory',
  default: '.outpost/pki',
} as const
const keyTypeOption = {
  type: 'string',
  value: 'TYPE',
  description: `Key type: ${KEY_TYPES.join(', ')}`,
  default: 'ecdsa-p256',
} as const

function keyType(a: RunArgs): KeyType {
  const t = str(a, 'key-type') ?? 'ecdsa-p256'
  if (!(KEY_TYPES as readonly string[]).includes(t)) {
    throw new UsageError(`Invalid --key-type "${t}": expected one of ${KEY_TYPES.join(', ')}`)
  }
  return t as KeyType
}

export const pkiCommand: Command = {
  name: 'pki',
  summary: 'Create a development PKI: CA, server and node certificates',
  description: `
Node certificates carry the node's identity as subjectAltName URIs that the key
server reads: urn:outpost:node:<id>, urn:outpost:region:<region>, urn:outpost:country:<CC>.
Key files are written with mode 0600. For development and tests only.`,
  subcommands: [
    {
      name: 'init',
      summary: 'Create the CA (if absent) and a key-server certificate for localhost',
      options: { dir: dirOption, 'key-type': keyTypeOption },
      run: async (a) => {
        const dir = str(a, 'dir') ?? '.outpost/pki'
        const pki = await writeDevPki(dir, keyType(a))
        const ks = await writeServerCert(pki, 'keyserver', {
          dnsNames: ['localhost'],
          ipAddresses: ['127.0.0.1'],
          keyType: keyType(a),
        })
        a.out.write(`ca: ${pki.caFile}\nkeyserver: ${ks.certFile} ${ks.keyFile}\n`)
        return 0
      },
    },
    {
      name: 'issue-server',
      summary: 'Issue a TLS server certificate signed by the dev CA',
      options: {
        dir: dirOption,
        name: {
          type: 'string',
          value: 'NAME',
          description: 'File name and common name (required)',
        },
        dns: {
          type: 'string',
          multiple: true,
          value: 'NAME',
          description: 'DNS subjectAltName (repeatable)',
        },
        ip: {
          type: 'string',
          multiple: true,
          value: 'ADDR',
          description: 'IP subjectAltName (repeatable)',
        },
        'key-type': keyTypeOption,
      },
      run: async (a) => {
        const pki = await writeDevPki(str(a, 'dir') ?? '.outpost/pki')
        const r = await writeServerCert(pki, str(a, 'name', true), {
          dnsNames: list(a, 'dns'),
          ipAddresses: list(a, 'ip'),
          keyType: keyType(a),
        })
        a.out.write(`${r.certFile}\n${r.keyFile}\n`)
        return 0
      },
    },
    {
      name: 'issue-node',
      summary: 'Issue a node client certificate with its id, region and country',
      options: {
        dir: dirOption,
        'node-id': { type: 'string', value: 'ID', description: 'Node id (required)' },
        region: { type: 'string', value: 'REGION', description: 'Region, e.g. eu-east (required)' },
        country: {
          type: 'string',
          value: 'CC',
          description: 'ISO 3166-1 alpha-2 country (required)',
        },
        'key-type': keyTypeOption,
      },
      run: async (a) => {
        const pki = await writeDevPki(str(a, 'dir') ?? '.outpost/pki')
        const r = await writeNodeCert(pki, {
          nodeId: str(a, 'node-id', true),
          region: str(a, 'region', true),
          country: str(a, 'country', true).toUpperCase(),
          keyType: keyType(a),
        })
        a.out.write(`${r.certFile}\n${r.keyFile}\n`)
        return 0
      },
    },
    {
      name: 'show',
      summary: 'Print the subject, SANs, validity and node identity of certificates',
      args: 'CERT.pem',
      run: (a) => {
        const file = a.positionals[0]
        if (file === undefined) throw new UsageError('Missing CERT.pem')
        for (const c of parseCertificates(readFileSync(file))) {
          const id = nodeIdentityFromCert(c)
          a.out.write(
            `subject: ${c.subject.replace(/\n/g, ', ')}\nissuer: ${c.issuer.replace(/\n/g, ', ')}\n` +
              `san: ${c.subjectAltName ?? '-'}\nvalid: ${c.validFrom} .. ${c.validTo}\n` +
              `node: ${id ? `${id.nodeId} region=${id.region} country=${id.country}` : '-'}\n\n`,
          )
        }
        return 0
      },
    },
  ],
}
