/**
 * The custody state file: how `outpost custody status` learns the agent's state.
 *
 * Chosen over a local admin socket because it answers even when the agent is dead
 * (a crash or power cut leaves the last state on disk, which is what an operator and
 * the next boot need to see), needs no listener, and carries no secret. The agent
 * rewrites it atomically (temp file + rename) on every transition. It lives on
 * persistent storage (default `.outpost/custody/state.json`; in production
 * `/var/lib/outpost/custody/state.json`), not tmpfs, so that the next boot can tell a
 * clean shutdown (`sealed`) from a power loss (`unlocked`/`serving` left behind).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { BRICK_REASONS, CUSTODY_STATES, type BrickReason, type CustodyStatus } from './state.ts'

export const DEFAULT_STATE_FILE = '.outpost/custody/state.json'

/** The JSON document, times as ISO 8601 strings. */
export interface StateDocument {
  readonly state: CustodyStatus['state']
  readonly since: string
  readonly reason?: BrickReason
  readonly seconds?: number
  readonly detail?: string
  readonly leaseExpiresAt?: string
  readonly pid: number
  readonly updatedAt: string
}

export function toDocument(s: CustodyStatus, now = Date.now()): StateDocument {
  const base = { state: s.state, since: new Date(s.since).toISOString() }
  const extra =
    s.state === 'serving'
      ? { leaseExpiresAt: new Date(s.leaseExpiresAt).toISOString() }
      : s.state === 'bricked'
        ? {
            reason: s.reason,
            ...(s.seconds !== undefined ? { seconds: s.seconds } : {}),
            ...(s.detail !== undefined ? { detail: s.detail } : {}),
          }
        : {}
  return { ...base, ...extra, pid: process.pid, updatedAt: new Date(now).toISOString() }
}

export function writeStateFile(file: string, s: CustodyStatus): void {
  mkdirSync(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(toDocument(s)) + '\n', { mode: 0o644 })
  renameSync(tmp, file)
}

function isoTime(v: unknown, field: string): number {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) {
    throw new Error(`Cannot read custody state file: ${field} is not an ISO time`)
  }
  return Date.parse(v)
}

/** Reads and validates a state file back into a status. Throws on a malformed file. */
export function readStateFile(file: string): { status: CustodyStatus; doc: StateDocument } {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown
  if (typeof raw !== 'object' || raw === null) {
    throw new Error('Cannot read custody state file: not an object')
  }
  const d = raw as Record<string, unknown>
  const state = d['state']
  if (!(CUSTODY_STATES as readonly unknown[]).includes(state)) {
    throw new Error(`Cannot read custody state file: unknown state ${JSON.stringify(state)}`)
  }
  const since = isoTime(d['since'], 'since')
  let status: CustodyStatus
  if (state === 'serving') {
    status = { state, since, leaseExpiresAt: isoTime(d['leaseExpiresAt'], 'leaseExpiresAt') }
  } else if (state === 'bricked') {
    const reason = d['reason']
    if (!(BRICK_REASONS as readonly unknown[]).includes(reason)) {
      throw new Error(`Cannot read custody state file: unknown reason ${JSON.stringify(reason)}`)
    }
    const seconds = d['seconds']
    const detail = d['detail']
    status = {
      state,
      since,
      reason: reason as BrickReason,
      ...(typeof seconds === 'number' ? { seconds } : {}),
      ...(typeof detail === 'string' ? { detail } : {}),
    }
  } else status = { state: state as 'sealed' | 'unlocked', since }
  return { status, doc: raw as StateDocument }
}
