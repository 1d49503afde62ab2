/**
 * Node lifecycle beyond enrolment (issues #5/#6, docs/node-lifecycle.md):
 *
 * - the per-node Tang server mounted at `/tang/<nodeId>` on the operator listener
 *   (tang(8) HTTP API, so Debian's clevis and our custody client both bind to it),
 *   gated by the node registry: recovery (`POST /rec`) only for active nodes and, in
 *   regions with `rebootNeedsReadmission`, only once per operator approval;
 * - `POST /v1/nodes/:id/readmit`: that single-use approval;
 * - crypto-shred of a killed node's Tang keys;
 * - `GET /node/v1/watch`: the node's long-poll for kills and bundle changes;
 * - `GET /node/v1/revocations`: the key servers' long-poll for the revocation list
 *   (ADR 0009), any client certificate from the node CA.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { ControlError } from './errors.ts'
import type { Ctx, Route } from './http/router.ts'
import { NodeView, type Node, type Region } from './model.ts'
import type { App } from './app.ts'

/** How often a long-poll re-reads the store (bounds kill and revocation latency). */
export const WATCH_POLL_MS = 100
const MAX_WAIT_MS = 25_000

function actorOf(c: Ctx): string {
  const p = c.principal
  return p === undefined ? 'anonymous' : `${p.tokenId}(${p.name})`
}

/** The sorted revocation list and its version (SHA-256 of the list). */
export async function revocationState(app: App): Promise<{ version: string; nodeIds: string[] }> {
  const nodeIds = (await app.store.list<Node>('node'))
    .filter((n) => n.state === 'revoked' || n.state === 'bricked')
    .map((n) => n.id)
    .sort()
  return {
    version: createHash('sha256').update(JSON.stringify(nodeIds)).digest('hex'),
    nodeIds,
  }
}

function waitMsOf(c: Ctx): number {
  const raw = c.url.searchParams.get('waitMs')
  if (raw === null) return MAX_WAIT_MS
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    throw new ControlError('ERR_CONTROL_BAD_REQUEST', 'Cannot wait: waitMs must be an integer ≥ 0')
  }
  return Math.min(n, MAX_WAIT_MS)
}

/** Polls `check` every WATCH_POLL_MS until it returns a value, the wait ends or the client goes. */
async function longPoll<T>(
  c: Ctx,
  waitMs: number,
  check: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const until = Date.now() + waitMs
  const client = { gone: false }
  const onClose = (): void => {
    client.gone = true
  }
  c.req.socket.once('close', onClose)
  try {
    for (;;) {
      const v = await check()
      if (v !== undefined || client.gone || Date.now() >= until) return v
      await new Promise((r) => setTimeout(r, Math.min(WATCH_POLL_MS, until - Date.now())))
    }
  } finally {
    c.req.socket.off('close', onClose)
  }
}

/** Crypto-shreds a node's Tang keys (audited). Its JWE can never be opened again. */
export async function shredNodeTang(app: App, who: string, id: string): Promise<void> {
  if (app.tang === undefined) return
  app.tang.keys.deleteNode(id)
  await app.store.mutate<Node>({
    actor: who,
    action: 'node.tang-shred',
    kind: 'node',
    id,
    apply: (n) => n,
  })
}

/** Approves one boot unlock of an active node (audited `node.readmit`); the API and the dashboard call it. */
export async function readmitNode(
  app: App,
  who: string,
  id: string,
): Promise<Omit<Node, 'enrolTokenHash'>> {
  const node = await app.store.get<Node>('node', id)
  if (node === undefined)
    throw new ControlError('ERR_CONTROL_NOT_FOUND', `Cannot find node "${id}"`)
  if (node.state !== 'active') {
    throw new ControlError(
      'ERR_CONTROL_CONFLICT',
      `Cannot re-admit node "${id}": it is ${node.state} (only active nodes; a killed node must be enrolled again)`,
    )
  }
  const after = await app.store.mutate<Node>({
    actor: who,
    action: 'node.readmit',
    kind: 'node',
    id,
    apply: (n) => (n === undefined ? undefined : { ...n, unlockApproved: true }),
  })
  const { enrolTokenHash: _t, ...view } = after as Node
  return view
}

/** Operator routes: the single-use re-admission approval. */
export function lifecycleOperatorRoutes(app: App): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/nodes/:id/readmit',
      tag: 'nodes',
      summary:
        'Approve one boot unlock of a node (regions with rebootNeedsReadmission); single use',
      scope: 'nodes:write',
      response: z.object({ node: NodeView }),
      handler: async (c) => ({ node: await readmitNode(app, actorOf(c), c.params['id'] ?? '') }),
    },
  ]
}

/** Node-listener routes (mTLS): the node's watch and the key servers' revocation feed. */
export function lifecycleNodeRoutes(
  app: App,
  nodeOf: (c: Ctx) => Promise<{ node: Node }>,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/node/v1/watch',
      tag: 'node',
      summary:
        'Long-poll (≤ 25 s): answers when the bundle version exceeds ?bundleVersion=N; 410 when the node is killed',
      scope: 'public',
      response: z.object({ bundleVersion: z.number() }),
      handler: async (c) => {
        await nodeOf(c)
        const seen = Number(c.url.searchParams.get('bundleVersion') ?? '-1')
        const v = await longPoll(c, waitMsOf(c), async () => {
          await nodeOf(c) // throws 410 / 403 as soon as the node is killed or revoked
          const version = await app.store.counter('bundle_version')
          return version > seen ? version : undefined
        })
        return { bundleVersion: v ?? (await app.store.counter('bundle_version')) }
      },
    },
    {
      method: 'GET',
      path: '/node/v1/revocations',
      tag: 'node',
      summary:
        'Key servers: the revoked node ids; long-polls (≤ 25 s) while the version equals ?after=VERSION',
      scope: 'public',
      response: z.object({ version: z.string(), nodeIds: z.array(z.string()) }),
      handler: async (c) => {
        if (c.peerCert === undefined) {
          throw new ControlError('ERR_CONTROL_NODE_UNKNOWN', 'Cannot serve: no client certificate')
        }
        const after = c.url.searchParams.get('after') ?? ''
        const changed = await longPoll(c, waitMsOf(c), async () => {
          const s = await revocationState(app)
          return s.version !== after ? s : undefined
        })
        return changed ?? (await revocationState(app))
      },
    },
  ]
}

function deny(res: ServerResponse, status: number, message: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(message + '\n')
  return true
}

/**
 * Serves `/tang/<nodeId>/...` through the per-node Tang server, gated by the registry.
 * Resolves false when the path is not a Tang path.
 */
export async function handleTang(
  app: App,
  req: IncomingMessage,
  res: ServerResponse,
  log: (line: Record<string, unknown>) => void,
): Promise<boolean> {
  const tang = app.tang
  const path = new URL(req.url ?? '/', 'http://x').pathname
  if (tang === undefined || !path.startsWith('/tang/')) return false
  const [nodeId = '', op = ''] = path.slice('/tang/'.length).split('/')
  const node = await app.store.get<Node>('node', nodeId)
  if (node === undefined) return deny(res, 404, 'unknown node')
  if (op === 'rec') {
    if (node.state !== 'active') return deny(res, 403, `node is ${node.state}`)
    const region = await app.store.get<Region>('region', node.region)
    const needsApproval = region?.rebootNeedsReadmission ?? true
    if (needsApproval && node.unlockApproved !== true) {
      log({ level: 'warn', msg: 'tang recovery refused: re-admission required', nodeId })
      return deny(res, 403, 'operator re-admission required (outpost ctl nodes readmit)')
    }
    await tang.handle(req, res)
    if (res.statusCode === 200) {
      await app.store.mutate<Node>({
        actor: `node:${nodeId}`,
        action: needsApproval ? 'node.unlock (approval used)' : 'node.unlock',
        kind: 'node',
        id: nodeId,
        apply: (n) => (n === undefined ? undefined : { ...n, unlockApproved: false }),
      })
    }
    return true
  }
  if (node.state !== 'active' && node.state !== 'pending') {
    return deny(res, 403, `node is ${node.state}`)
  }
  return tang.handle(req, res)
}
