/** What the request handler needs from a keystore, whichever kind it is. */
import type { KeyType } from './keys.ts'
import type { KeyBackend } from './ops.ts'
import type { KeyPolicy } from './policy.ts'

export interface KeystoreKey {
  readonly skiHex: string
  readonly type: KeyType
  readonly policy: KeyPolicy
  readonly backend: KeyBackend
}

export interface KeyListing {
  readonly ski: string
  readonly type: KeyType
  readonly policy: KeyPolicy
}

export interface SealStatus {
  readonly kind: 'directory' | 'pkcs11'
  readonly sealed: boolean
  /** Shares given so far while sealed. */
  readonly progress: number
  readonly threshold: number
  readonly shares: number
  readonly keys: number
}

export interface Keystore {
  readonly kind: 'directory' | 'pkcs11'
  isSealed(): boolean
  find(skiHex: string): KeystoreKey | undefined
  list(): KeyListing[]
  status(): SealStatus
  close(): Promise<void>
}
