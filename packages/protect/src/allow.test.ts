import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { AllowList, UA_CLASSES } from './allow.ts'
import { AllowSchema } from './schema.ts'

const list = new AllowList(AllowSchema.parse({ userAgents: ['Acme.Probe (v1)', 'a|b*c'] }))
const match = (ua: string, ip = '198.51.100.7') => list.match(ip, ua, {})

test('AllowList UA classes: a substring anywhere, in any case, picks its class', () => {
  const classOf = { feed: 'feed', monitor: 'monitor', preview: 'preview', git: 'git' } as const
  const entries = Object.entries(UA_CLASSES).flatMap(([k, subs]) =>
    subs.map((sub) => [classOf[k as keyof typeof classOf], sub] as const),
  )
  fc.assert(
    fc.property(
      fc.constantFrom(...entries),
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      fc.boolean(),
      ([cls, sub], pre, post, upper) => {
        const ua = pre + (upper ? sub.toUpperCase() : sub) + post
        const m = match(ua)
        // An earlier class's substring in the random part may win; never "no match".
        assert.ok(m !== undefined, ua)
        if (!/[a-z]/i.test(pre + post)) assert.equal(m.cls, cls)
        assert.equal(m.verified, false)
      },
    ),
  )
})

test('AllowList: configured UA substrings are literal (regex characters are not special)', () => {
  assert.equal(match('x ACME.PROBE (V1) y')?.cls, 'user-agent')
  assert.equal(match('acmexprobe (v1)'), undefined)
  assert.equal(match('A|B*C')?.cls, 'user-agent')
  assert.equal(match('abbbc'), undefined)
})

test('AllowList: UAs without any listed substring are not allow-listed (property)', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9 ;()_=]{0,40}$/), (ua) => {
      assert.equal(match(ua), undefined)
    }),
  )
  assert.equal(
    match('Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'),
    undefined,
  )
  assert.equal(match('h2load nghttp2/1.52.0'), undefined)
  // A crawler UA from outside its published ranges is not allow-listed at all.
  assert.equal(match('Mozilla/5.0 (compatible; Googlebot/2.1) miniflux'), undefined)
})
