/**
 * Parses byte vectors written the way docs/protocol/keyless.md and the wire-format
 * notes write them: hex bytes, `|` separators, `<N x HH>` runs, and `# comments`
 * to the end of a line (Go key_schedule_test.go `parseVector`, in 10 lines).
 */
import fc from 'fast-check'
import { fromHex } from '@outpost/wire'
import type { Operation } from '../src/index.ts'

export function parseVector(text: string): Uint8Array {
  const expanded = text
    .replace(/#[^\n]*/g, '')
    .replace(/<(\d+) x ([0-9a-f]{2})>/gi, (_m, n: string, b: string) => b.repeat(Number(n)))
    .replace(/\|/g, ' ')
  return fromHex(expanded)
}

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const text = fc.string({ unit: 'grapheme', maxLength: 40 })

/** Random operations whose every field is valid for the encoder. */
export const arbOperation: fc.Arbitrary<Operation> = fc.record(
  {
    opcode: fc.integer({ min: 0, max: 255 }),
    payload: fc.uint8Array({ maxLength: 1200 }),
    ski: bytes(20),
    digest: bytes(32),
    serverName: text,
    clientIp: fc.oneof(bytes(4), bytes(16)),
    serverIp: fc.oneof(bytes(4), bytes(16)),
    certId: text,
    customFuncName: text,
    extra: fc.uint8Array({ maxLength: 64 }),
    requestContext: fc.uint8Array({ maxLength: 64 }),
    complianceRegion: fc.integer({ min: 0, max: 255 }),
    signatureScheme: fc.integer({ min: 0, max: 0xffff }),
  },
  { requiredKeys: ['opcode'], noNullPrototype: true },
)
