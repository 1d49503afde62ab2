/**
 * Re-screening on list changes with the three dated SDN snapshots:
 * 2024-02-20 → 2024-02-23 (the 23 Feb 2024 Russia action adds designations)
 * → 2024-05-03 (some earlier designations removed).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  loadList,
  ScreeningIndex,
  ScreeningService,
  SqliteScreeningStore,
  type ScreeningEvent,
} from '@outpost/screening'
import { hasSharedLists, sharedLists } from './shared-lists.ts'

const skip = hasSharedLists ? false : `no shared lists at ${sharedLists}`

async function snapshot(date: string): Promise<ScreeningIndex> {
  const l = await loadList({
    list: 'us-ofac-sdn',
    files: [{ role: 'primary', path: join(sharedLists, 'us-ofac-sdn', `sdn_${date}.csv`) }],
  })
  return ScreeningIndex.fromLists([l])
}

test(
  'ScreeningService re-screens on each SDN snapshot: additions block, removals clear',
  { skip },
  async () => {
    const [feb20, feb23, may03] = await Promise.all(
      ['2024-02-20', '2024-02-23', '2024-05-03'].map(snapshot),
    )
    assert.ok(feb20 && feb23 && may03)
    const events: ScreeningEvent[] = []
    const store = new SqliteScreeningStore(':memory:')
    const service = new ScreeningService({ store, index: feb20, onEvent: (e) => events.push(e) })
    // ALBATROS OOO (ent_num 45709) is designated on 2024-02-23.
    const added = service.screenOrganisation({
      id: 'added',
      name: 'ООО Альбатрос',
      type: 'organization',
    })
    // ZIMBABWE DEFENCE INDUSTRIES (PVT) LTD. (8181) is removed by 2024-05-03.
    const removed = service.screenOrganisation({
      id: 'removed',
      name: 'Zimbabwe Defence Industries Ltd',
      type: 'organization',
    })
    const clean = service.screenOrganisation({
      id: 'clean',
      name: 'Northwind Traders GmbH',
      type: 'organization',
    })
    assert.deepEqual(
      [added.decision, removed.decision, clean.decision],
      ['clear', 'block', 'clear'],
    )

    const on23 = service.setIndex(feb23)
    assert.deepEqual(
      on23.map((o) => [o.orgId, o.decision]),
      [
        ['added', 'block'],
        ['clean', 'clear'],
        ['removed', 'block'],
      ],
    )
    assert.ok(
      events.some(
        (e) =>
          e.kind === 'blocked' && e.orgId === 'added' && e.entryIds.includes('us-ofac-sdn:45709'),
      ),
    )
    assert.match(
      service.decisionOf('added')?.listVersions[0] ?? '',
      /^us-ofac-sdn@2024-02-23#[0-9a-f]{64}$/,
    )

    const on0503 = service.setIndex(may03)
    assert.deepEqual(
      on0503.map((o) => [o.orgId, o.previous, o.decision]),
      [
        ['added', 'block', 'block'],
        ['clean', 'clear', 'clear'],
        ['removed', 'block', 'clear'],
      ],
    )
    assert.deepEqual(events.at(-1), { kind: 'unblocked', orgId: 'removed' })
    store.close()
  },
)
