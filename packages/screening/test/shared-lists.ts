/** Where CI puts the shared list files: `<repo>/../shared/data/sanctions`. */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const sharedLists = fileURLToPath(
  new URL('../../../../shared/data/sanctions', import.meta.url),
)
export const hasSharedLists = existsSync(sharedLists)
