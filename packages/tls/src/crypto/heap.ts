/**
 * Making dropped secrets gone, not merely unreferenced (the key server's `seal`, the edge's
 * brick):
 * - KeyObjects and TLS contexts are freed, and OpenSSL clears their keys, only when V8
 *   collects them, which an idle process might not do for hours. So: full collections, a
 *   turn and 50 ms apart (a TLS context goes only after the sockets that used it, whose
 *   native parts are freed in the weak callbacks of an earlier collection).
 * - Node's I/O read buffers are freed without being cleared. glibc's malloc_trim(0), on
 *   the native addon (ADR 0013), returns every whole free page of the C heap to the kernel
 *   (MADV_DONTNEED; a later use gets zero pages), which drops their contents.
 *
 * The collector is node's `gc`, exposed at run time for a fresh context only (the
 * caller's own context never gets a global `gc`).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { native } from './native.ts'

/** glibc malloc_trim(0) on the addon; undefined without the addon or glibc. */
export const trimNativeHeap: (() => boolean) | undefined = native?.mallocTrim

let collect: (() => void) | undefined

function collector(): () => void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc')
    collect = runInNewContext('gc') as () => void
    setFlagsFromString('--no-expose-gc')
  }
  return collect
}

/**
 * Collects garbage three times (now, after a turn, 50 ms later) and trims the C heap.
 * Resolves to whether pages went back to the kernel.
 */
export async function releaseDroppedSecrets(): Promise<boolean> {
  const gc = collector()
  gc()
  await new Promise((r) => setImmediate(r))
  gc()
  await new Promise((r) => setTimeout(r, 50))
  gc()
  return trimNativeHeap?.() ?? false
}
