/**
 * `outpost ctl` commands for attack protection (decisions, bans, zone reports,
 * alerts) and the programme, built from ctl-api.ts like the rest of `outpost ctl`.
 */
import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UsageError, str, type Command } from '@outpost/command'
import { parseConfigText } from '@outpost/config'
import { api, apiOptions, enc, group, p0 } from './ctl-api.ts'
import { signReferral } from './programme.ts'

/** A partner signs a referral locally with its Ed25519 key (no API call). */
export const signReferralCommand: Command = {
  name: 'sign-referral',
  summary: 'Sign a programme referral as a partner (prints a compact JWS)',
  description:
    'Run by the partner organisation with its own Ed25519 private key (PKCS#8 PEM). Scope it with --application (the id the applicant got) or --org (the organisation name). --aud comes from `outpost ctl programme audience`.',
  options: {
    key: { type: 'string', value: 'FILE', description: 'Partner Ed25519 private key (PKCS#8 PEM)' },
    partner: {
      type: 'string',
      value: 'ID',
      description: 'Partner id registered with the operator',
    },
    aud: { type: 'string', value: 'AUD', description: 'Audience of the control plane' },
    application: { type: 'string', value: 'ID', description: 'Application id (apl_...)' },
    org: { type: 'string', value: 'NAME', description: 'Organisation name' },
    days: { type: 'string', value: 'N', description: 'Validity in days (default 14, max 30)' },
  },
  run(a) {
    const need = (k: string): string => {
      const v = str(a, k)
      if (v === undefined) throw new UsageError(`Missing --${k}`)
      return v
    }
    const sub = str(a, 'application')
    const org = str(a, 'org')
    if (sub === undefined && org === undefined)
      throw new UsageError('Missing --application or --org (what the referral is for)')
    const days = Number(str(a, 'days') ?? '14')
    if (!(days > 0 && days <= 30)) throw new UsageError('Cannot read --days: expected 1..30')
    const pem = readFileSync(need('key'))
    let key
    try {
      key = createPrivateKey({ key: pem, format: 'pem' })
    } catch {
      throw new UsageError('Cannot read --key: not a PEM private key')
    } finally {
      pem.fill(0)
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new UsageError('Cannot use --key: expected an Ed25519 key')
    const iat = Math.floor(Date.now() / 1000)
    a.out.write(
      `${signReferral(
        {
          partner: need('partner'),
          aud: need('aud'),
          iat,
          exp: iat + Math.round(days * 86_400),
          ...(sub !== undefined ? { sub } : {}),
          ...(org !== undefined ? { org } : {}),
        },
        key,
      )}\n`,
    )
    return 0
  },
}

/** Registers a partner from a public-key file (PEM is awkward as key=value). */
function partnerPut(): Command {
  return {
    name: 'partner-put',
    summary: 'Register or replace a referral partner and its Ed25519 public key',
    args: 'ID',
    options: {
      ...apiOptions,
      name: { type: 'string', value: 'NAME', description: 'Partner organisation name' },
      'public-key': { type: 'string', value: 'FILE', description: 'Ed25519 public key (SPKI PEM)' },
    },
    run(a) {
      const id = a.positionals[0]
      const name = str(a, 'name')
      const file = str(a, 'public-key')
      if (id === undefined) throw new UsageError('Missing argument: ID')
      if (name === undefined || file === undefined)
        throw new UsageError('Missing --name or --public-key')
      return api(a, 'PUT', `/v1/programme/partners/${enc(id)}`, {
        name,
        publicKeyPem: readFileSync(file, 'utf8'),
      })
    },
  }
}

/** `protection set ZONE --file rules.yaml`: a YAML/JSON file is the body of PUT /v1/zones/:id/protection. */
function protectionSet(): Command {
  return {
    name: 'set',
    summary: "Set a zone's attack-protection config from a YAML or JSON file",
    description:
      'The file is @outpost/protect config (docs/protect.md): rules, allow, challenge, underAttack, ... It is validated by the control plane, audited, and delivered to every edge in the signed bundle.',
    args: 'ZONE',
    options: {
      ...apiOptions,
      file: { type: 'string', value: 'FILE', description: 'Protection config (YAML or JSON)' },
    },
    run(a) {
      const zone = a.positionals[0]
      const file = str(a, 'file')
      if (zone === undefined) throw new UsageError('Missing argument: ZONE')
      if (file === undefined) throw new UsageError('Missing --file')
      const body = parseConfigText(readFileSync(file, 'utf8'), file)
      return api(a, 'PUT', `/v1/zones/${enc(zone)}/protection`, body)
    },
  }
}

export function protectionCtlCommands(): Command[] {
  const programme = group('programme', 'The protected plan for at-risk organisations (price 0)', [
    {
      name: 'audience',
      summary: 'The audience partners put in referrals',
      method: 'GET',
      path: () => '/v1/programme/audience',
    },
    {
      name: 'apply',
      summary: 'Submit an application',
      args: 'orgId=.. name=.. country=CC region=.. category=news sites=[..] atRisk=.. contact=..',
      method: 'POST',
      path: () => '/v1/programme/applications',
      fields: true,
    },
    {
      name: 'referral',
      summary: 'Hand in a partner referral (JWS)',
      args: 'ID referral=JWS',
      method: 'POST',
      path: (p) => `/v1/programme/applications/${p0(p)}/referral`,
      fields: true,
      ids: 1,
    },
    {
      name: 'list',
      summary: 'Applications with their history',
      method: 'GET',
      path: () => '/v1/programme/applications',
    },
    {
      name: 'show',
      summary: 'One application',
      args: 'ID',
      method: 'GET',
      path: (p) => `/v1/programme/applications/${p0(p)}`,
      ids: 1,
    },
    {
      name: 'screen',
      summary: 'Run sanctions screening again',
      args: 'ID',
      method: 'POST',
      path: (p) => `/v1/programme/applications/${p0(p)}/screen`,
      ids: 1,
    },
    {
      name: 'approve',
      summary: 'Approve and activate (organisation on plan protected)',
      args: 'ID',
      method: 'POST',
      path: (p) => `/v1/programme/applications/${p0(p)}/approve`,
      ids: 1,
    },
    {
      name: 'reject',
      summary: 'Reject with a reason',
      args: 'ID reason=..',
      method: 'POST',
      path: (p) => `/v1/programme/applications/${p0(p)}/reject`,
      fields: true,
      ids: 1,
    },
    {
      name: 'partners',
      summary: 'Registered partners',
      method: 'GET',
      path: () => '/v1/programme/partners',
    },
    {
      name: 'partner-disable',
      summary: 'Disable a partner (its referrals are refused)',
      args: 'ID',
      method: 'DELETE',
      path: (p) => `/v1/programme/partners/${p0(p)}`,
      ids: 1,
    },
  ])
  return [
    {
      ...programme,
      subcommands: [...(programme.subcommands ?? []), partnerPut(), signReferralCommand],
    },
    (() => {
      const g = group('protection', "Zones' attack-protection config (delivered in the bundle)", [
        {
          name: 'show',
          summary: "A zone's protection config",
          args: 'ZONE',
          method: 'GET',
          path: (p) => `/v1/zones/${p0(p)}/protection`,
          ids: 1,
        },
        {
          name: 'delete',
          summary: "Remove a zone's protection config",
          args: 'ZONE',
          method: 'DELETE',
          path: (p) => `/v1/zones/${p0(p)}/protection`,
          ids: 1,
        },
      ])
      return { ...g, subcommands: [protectionSet(), ...(g.subcommands ?? [])] }
    })(),
    group('decisions', 'Decisions every edge receives within 5 s', [
      {
        name: 'list',
        summary: 'Active under-attack switches and bans, with the feed version',
        method: 'GET',
        path: () => '/v1/decisions',
      },
      {
        name: 'under-attack',
        summary: 'Switch "under attack" on for a zone',
        args: 'ZONE [ttlSeconds=3600] [reason=..]',
        method: 'POST',
        path: (p) => `/v1/zones/${p0(p)}/under-attack`,
        fields: true,
        ids: 1,
      },
      {
        name: 'calm',
        summary: 'Switch "under attack" off for a zone',
        args: 'ZONE',
        method: 'DELETE',
        path: (p) => `/v1/zones/${p0(p)}/under-attack`,
        ids: 1,
      },
    ]),
    group('bans', 'IP and prefix bans with a TTL', [
      { name: 'list', summary: 'Active bans', method: 'GET', path: () => '/v1/bans' },
      {
        name: 'add',
        summary: 'Ban an address or prefix',
        args: 'prefix=203.0.113.0/24 [ttlSeconds=3600] [zoneId=..] [reason=..]',
        method: 'POST',
        path: () => '/v1/bans',
        fields: true,
      },
      {
        name: 'delete',
        summary: 'Lift a ban',
        args: 'ID',
        method: 'DELETE',
        path: (p) => `/v1/bans/${p0(p)}`,
        ids: 1,
      },
    ]),
    group('security', 'Zone security reports and alerts', [
      {
        name: 'report',
        summary: 'Timeline, peak rate, top rules, rejected counts',
        args: 'ZONE [HOURS]',
        method: 'GET',
        path: (p) =>
          `/v1/zones/${p0(p)}/security${p[1] !== undefined ? `?hours=${enc(p[1])}` : ''}`,
        ids: 1,
      },
      {
        name: 'alert',
        summary: 'Set the traffic-anomaly webhook',
        args: 'ZONE webhookUrl=.. [zThreshold=3.5] [minRequests=300]',
        method: 'PUT',
        path: (p) => `/v1/zones/${p0(p)}/alert`,
        fields: true,
        ids: 1,
      },
      {
        name: 'alert-delete',
        summary: 'Remove the webhook',
        args: 'ZONE',
        method: 'DELETE',
        path: (p) => `/v1/zones/${p0(p)}/alert`,
        ids: 1,
      },
      {
        name: 'ip-hash',
        summary: 'The keyed hash of an address (to find it among top clients)',
        args: 'ip=..',
        method: 'POST',
        path: () => '/v1/ip-hash',
        fields: true,
      },
    ]),
  ]
}
