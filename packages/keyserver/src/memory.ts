/**
 * After `seal`, what held keys must be gone from the process, not only unreferenced:
 * - KeyObjects are freed (and OpenSSL clears their keys) only when V8 collects them, which
 *   an idle sealed server might not do for hours. So seal runs a full collection, twice,
 *   with a turn between for the weak callbacks that free the native keys.
 * - Node's I/O read buffers (the admin API's HTTP parser reads imported keys into them)
 *   are freed without being cleared. glibc's malloc_trim(0) then returns every whole free
 *   page to the kernel, which drops its contents (@outpost/tls trimNativeHeap).
 *
 * The collector is node's `gc`, exposed at run time for a fresh context only (the key
 * server's own context never gets a global `gc`).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { trimNativeHeap } from '@outpost/tls'

let collect: (() => void) | undefined

function collector(): () => void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc')
    collect = runInNewContext('gc') as () => void
    setFlagsFromString('--no-expose-gc')
  }
  return collect
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Collects what the keystore dropped and trims the C heap; true if pages were returned. */
export async function releaseDroppedKeys(): Promise<boolean> {
  const gc = collector()
  gc()
  await turn()
  gc()
  await turn()
  return trimNativeHeap?.() ?? false
}
