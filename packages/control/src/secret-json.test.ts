import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { secretJson, secretSlot } from './secret-json.ts'

test('secretJson() splices each secret as hex in place of its slot', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 48 }), { maxLength: 5 }),
      fc.string(),
      (secrets, other) => {
        const doc = { other, keys: secrets.map((_s, i) => ({ i, key: secretSlot(i) })) }
        const parsed = JSON.parse(secretJson(doc, secrets).toString('utf8')) as typeof doc
        assert.equal(parsed.other, other)
        parsed.keys.forEach((k, i) => {
          assert.equal(k.key, Buffer.from(secrets[i] ?? []).toString('hex'))
        })
      },
    ),
  )
  assert.throws(() => secretJson({ k: secretSlot(1) }, []), /no secret 1/)
})
