/**
 * Two control-plane instances on one database: a decision made on one wakes a
 * long-poll parked on the other within the 1 s counter poll (no in-process
 * notification crosses instances). On a shared node:sqlite file and PostgreSQL.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { App } from '../src/app.ts'
import type { Ctx } from '../src/http/router.ts'
import { decisionFeed, setUnderAttack } from '../src/protection.ts'
import { Store } from '../src/store/store.ts'
import { BACKENDS, stopPostgres } from './protection-helpers.ts'

after(() => stopPostgres())

/** The parts of App the decision functions use. */
function instance(store: Store): App {
  return {
    store,
    now: () => new Date(),
    bundleKey: generateKeyPairSync('ed25519'),
  } as unknown as App
}

/** A request context whose socket stays open. */
function openCtx(): Ctx {
  return {
    req: { socket: Object.assign(new EventEmitter(), { destroyed: false }) },
  } as unknown as Ctx
}

for (const be of BACKENDS) {
  test(
    `decision feed across instances (${be.name}): a poll on B wakes within ~1 s of a change on A`,
    { skip: be.skip ?? false, timeout: 30_000 },
    async (t) => {
      let database = await be.database(t)
      if ('path' in database) {
        const dir = mkdtempSync(join(tmpdir(), 'protect-inst-'))
        t.after(() => {
          rmSync(dir, { recursive: true, force: true })
        })
        database = { path: join(dir, 'control.db') }
      }
      const a = instance(await Store.open(database))
      const b = instance(await Store.open(database))
      t.after(async () => {
        await a.store.close()
        await b.store.close()
      })
      await a.store.mutate({
        actor: 'test',
        action: 'zone.create',
        kind: 'zone',
        id: 'z1',
        apply: () => ({
          id: 'z1',
          orgId: 'o',
          hostnames: ['z1.example'],
          origin: 'https://o.example',
          certificateChain: '',
          createdAt: '',
        }),
      })
      const v0 = (await decisionFeed(b, -1, 0)).version
      for (const delay of [30, 400]) {
        const before = (await decisionFeed(b, -1, 0)).version
        const poll = decisionFeed(b, before, 10_000, openCtx())
        await new Promise((r) => setTimeout(r, delay))
        const t0 = performance.now()
        await setUnderAttack(a, 'test', 'z1', { ttlSeconds: 60 })
        const got = await poll
        const ms = performance.now() - t0
        console.log(
          `# ${be.name}: change on A (poll open ${delay} ms) → poll on B answered in ${ms.toFixed(0)} ms`,
        )
        assert.equal(got.changed, true)
        assert.ok(got.version > before && got.version > v0)
        assert.equal(got.decisions?.[0]?.type, 'under-attack')
        assert.ok(ms < 2000, `took ${ms} ms`)
      }
    },
  )
}
