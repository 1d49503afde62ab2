/**
 * glibc's malloc_trim(0) on the native addon (ADR 0013): every whole free page of the C
 * heap goes back to the kernel (MADV_DONTNEED; a later use gets zero pages). Freed buffers
 * that held secrets and that nobody cleared (node's HTTP and stream read buffers, for
 * example) are then gone rather than merely free. Undefined without the addon or glibc.
 */
import { native } from './native.ts'

const trim = native?.mallocTrim

export const trimNativeHeap: (() => boolean) | undefined =
  trim === undefined ? undefined : () => trim()
