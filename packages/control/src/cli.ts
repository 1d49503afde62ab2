/**
 * `outpost control run|init` (the service) and `outpost ctl ...` (the API from
 * the command line; URL and token from --url/--token or OUTPOST_CONTROL_URL /
 * OUTPOST_CONTROL_TOKEN).
 */
import { UsageError, str, type Command, untilSignal } from '@outpost/command'
import { loadControlConfig } from './config.ts'
import { startControlPlane } from './server.ts'
import { createToken } from './app.ts'
import { group, leaf, p0 } from './ctl-api.ts'
import { protectionCtlCommands } from './protection-cli.ts'

export { fieldsToBody } from './ctl-api.ts'

const configOption = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  description: 'Control plane config (control.yaml)',
} as const

const run: Command = {
  name: 'run',
  summary: 'Run the control plane until SIGINT/SIGTERM',
  options: { config: configOption },
  async run(a) {
    const config = loadControlConfig(str(a, 'config'))
    const cp = await startControlPlane(config, { bootstrapToken: false })
    a.out.write(`control plane: ${cp.url} (nodes: ${cp.nodeUrl})\n`)
    await untilSignal()
    await cp.close()
    return 0
  },
}

const init: Command = {
  name: 'init',
  summary: 'Create the first admin token and print it once',
  description:
    'Refuses when the database already has a token. Only the SHA-256 of the token is stored.',
  options: { config: configOption },
  async run(a) {
    const config = loadControlConfig(str(a, 'config'))
    // Storage only: no listeners are needed to create a token.
    const cp = await startControlPlane(
      { ...config, listen: '127.0.0.1:0', nodeListen: '127.0.0.1:0' },
      { bootstrapToken: false, log: () => undefined },
    )
    try {
      if ((await cp.app.store.listTokens()).length > 0) {
        throw new UsageError(
          'Cannot initialise: the database already has tokens (use `outpost ctl tokens create`)',
        )
      }
      const { id, token } = await createToken(cp.app, 'init', 'first admin', ['admin'])
      a.err.write(`Admin token ${id} (shown once; store it in a password manager):\n`)
      a.out.write(token)
      a.out.write('\n')
      token.fill(0)
    } finally {
      await cp.close()
    }
    return 0
  },
}

export const controlCommand: Command = {
  name: 'control',
  summary: 'Run the control plane',
  subcommands: [run, init],
}

// ---- ctl ----

export const ctlCommand: Command = {
  name: 'ctl',
  summary: 'Use the control-plane API from the command line',
  description:
    'Body fields are key=value; values that parse as JSON (numbers, true, ["a","b"]) are sent as JSON.',
  subcommands: [
    group('orgs', 'Organisations', [
      { name: 'list', summary: 'List organisations', method: 'GET', path: () => '/v1/orgs' },
      {
        name: 'create',
        summary: 'Sign up an organisation (screened)',
        args: 'id=.. name=.. country=CC region=.. [plan=..]',
        method: 'POST',
        path: () => '/v1/orgs',
        fields: true,
      },
      {
        name: 'update',
        summary: 'Change plan/name/status',
        args: 'ID [plan=..] [status=..] [reason=..]',
        method: 'PATCH',
        path: (p) => `/v1/orgs/${p0(p)}`,
        fields: true,
        ids: 1,
      },
    ]),
    group('zones', 'Zones', [
      { name: 'list', summary: 'List zones', method: 'GET', path: () => '/v1/zones' },
      {
        name: 'create',
        summary: 'Create a zone',
        args: 'id=.. orgId=.. hostnames=[..] origin=..',
        method: 'POST',
        path: () => '/v1/zones',
        fields: true,
      },
      {
        name: 'delete',
        summary: 'Delete a zone',
        args: 'ID',
        method: 'DELETE',
        path: (p) => `/v1/zones/${p0(p)}`,
        ids: 1,
      },
    ]),
    group('policies', 'Key policies', [
      { name: 'list', summary: 'List key policies', method: 'GET', path: () => '/v1/policies' },
      {
        name: 'put',
        summary: 'Create or replace a key policy',
        args: 'ID name=.. [denyCountries=[..]] ...',
        method: 'PUT',
        path: (p) => `/v1/policies/${p0(p)}`,
        fields: true,
        ids: 1,
      },
      {
        name: 'fleet',
        summary: 'Which active nodes could use keys under this policy',
        args: 'ID',
        method: 'GET',
        path: (p) => `/v1/policies/${p0(p)}/fleet`,
        ids: 1,
      },
    ]),
    group('regions', 'Regions and their rules', [
      { name: 'list', summary: 'List regions', method: 'GET', path: () => '/v1/regions' },
      {
        name: 'put',
        summary: 'Create or replace a region',
        args: 'ID name=.. country=CC [risk=..] [noNewPaidPlans=true] ...',
        method: 'PUT',
        path: (p) => `/v1/regions/${p0(p)}`,
        fields: true,
        ids: 1,
      },
    ]),
    group('nodes', 'Edge nodes', [
      { name: 'list', summary: 'List nodes', method: 'GET', path: () => '/v1/nodes' },
      {
        name: 'enrol',
        summary: 'Register a node; prints its one-time enrolment token',
        args: 'id=.. region=..',
        method: 'POST',
        path: () => '/v1/nodes',
        fields: true,
      },
      {
        name: 'revoke',
        summary: 'Revoke a node (pushed to key servers)',
        args: 'ID',
        method: 'POST',
        path: (p) => `/v1/nodes/${p0(p)}/revoke`,
        ids: 1,
      },
      {
        name: 'kill',
        summary: 'Kill a node: revoke, and its agent wipes and bricks',
        args: 'ID',
        method: 'POST',
        path: (p) => `/v1/nodes/${p0(p)}/kill`,
        ids: 1,
      },
      {
        name: 'readmit',
        summary: 'Approve one boot unlock of a node (regions with rebootNeedsReadmission)',
        args: 'ID',
        method: 'POST',
        path: (p) => `/v1/nodes/${p0(p)}/readmit`,
        ids: 1,
      },
    ]),
    group('tokens', 'API tokens', [
      { name: 'list', summary: 'List tokens', method: 'GET', path: () => '/v1/tokens' },
      {
        name: 'create',
        summary: 'Create a token (printed once)',
        args: 'name=.. scopes=["read"]',
        method: 'POST',
        path: () => '/v1/tokens',
        fields: true,
      },
      {
        name: 'revoke',
        summary: 'Revoke a token',
        args: 'ID',
        method: 'DELETE',
        path: (p) => `/v1/tokens/${p0(p)}`,
        ids: 1,
      },
    ]),
    group('audit', 'The audit log', [
      { name: 'list', summary: 'Audit entries', method: 'GET', path: () => '/v1/audit' },
      {
        name: 'verify',
        summary: 'Verify the hash chain',
        method: 'GET',
        path: () => '/v1/audit/verify',
      },
    ]),
    group('reviews', 'Screening review queue', [
      {
        name: 'list',
        summary: 'Open and decided reviews',
        method: 'GET',
        path: () => '/v1/reviews',
      },
      {
        name: 'confirm',
        summary: 'Confirm a match (blocks the organisation)',
        args: 'ID',
        method: 'POST',
        path: (p) => `/v1/reviews/${p0(p)}/confirm`,
        ids: 1,
      },
      {
        name: 'dismiss',
        summary: 'Dismiss a false positive',
        args: 'ID',
        method: 'POST',
        path: (p) => `/v1/reviews/${p0(p)}/dismiss`,
        ids: 1,
      },
    ]),
    ...protectionCtlCommands(),
    leaf({
      name: 'screen',
      summary: 'Screen a name',
      args: 'name=.. type=person|organization [country=CC] [dob=YYYY]',
      method: 'POST',
      path: () => '/v1/screen',
      fields: true,
    }),
  ],
}
