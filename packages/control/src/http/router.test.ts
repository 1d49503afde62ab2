import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ControlError } from '../errors.ts'
import { compose, Router, type Ctx, type Route } from './router.ts'

const r = (method: Route['method'], path: string): Route => ({
  method,
  path,
  summary: '',
  tag: 't',
  scope: 'public',
  handler: () => undefined,
})

test('Router.match() extracts params and distinguishes 404 from 405', () => {
  const router = new Router().add(r('GET', '/v1/orgs/:id'), r('POST', '/v1/nodes/:id/revoke'))
  assert.deepEqual(router.match('GET', '/v1/orgs/acme%20co').params, { id: 'acme co' })
  assert.equal(router.match('HEAD', '/v1/orgs/x').route.method, 'GET')
  const code = (f: () => unknown): string => {
    try {
      f()
      return 'matched'
    } catch (e) {
      assert.ok(e instanceof ControlError)
      return e.code
    }
  }
  assert.equal(
    code(() => router.match('DELETE', '/v1/orgs/x')),
    'ERR_CONTROL_METHOD_NOT_ALLOWED',
  )
  assert.equal(
    code(() => router.match('GET', '/v1/orgs/x/y')),
    'ERR_CONTROL_NOT_FOUND',
  )
  assert.equal(
    code(() => router.match('GET', '/v1/orgs/%E0%A4%A')),
    'ERR_CONTROL_BAD_REQUEST',
  )
  assert.throws(() => router.add(r('GET', '/v1/orgs/:id')), /already registered/)
})

test('Router.match() never throws anything but ControlError on arbitrary paths', () => {
  const router = new Router().add(r('GET', '/v1/orgs/:id'), r('GET', '/v1/a.b'))
  fc.assert(
    fc.property(fc.string(), (p) => {
      try {
        const m = router.match('GET', p)
        assert.equal(m.route.path.startsWith('/v1/'), true)
      } catch (e) {
        assert.ok(e instanceof ControlError)
      }
    }),
  )
  // A dot in a literal segment is not a wildcard.
  assert.throws(() => router.match('GET', '/v1/aXb'))
})

test('compose() runs middleware in order and refuses next() twice', async () => {
  const order: number[] = []
  const run = compose([
    async (_c, next) => {
      order.push(1)
      await next()
      order.push(4)
    },
    async (_c, next) => {
      order.push(2)
      await next()
    },
  ])
  await run({} as Ctx, () => {
    order.push(3)
    return Promise.resolve()
  })
  assert.deepEqual(order, [1, 2, 3, 4])
  const twice = compose([
    async (_c, next) => {
      await next()
      await next()
    },
  ])
  await assert.rejects(
    twice({} as Ctx, () => Promise.resolve()),
    /multiple times/,
  )
})
