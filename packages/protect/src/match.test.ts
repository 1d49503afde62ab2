import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compileMatch, globToRegExp } from './match.ts'

const R = { host: 'www.example.org', method: 'POST', path: '/api/v1/login', headers: {} }

test('path globs: * within a segment, ** across', () => {
  assert.equal(globToRegExp('/api/*').test('/api/v1'), true)
  assert.equal(globToRegExp('/api/*').test('/api/v1/login'), false)
  assert.equal(globToRegExp('/api/**').test('/api/v1/login'), true)
  assert.equal(globToRegExp('/*.xml').test('/feed.xml'), true)
  assert.equal(globToRegExp('/a.b').test('/aXb'), false, 'dots are literal')
  fc.assert(
    fc.property(fc.stringMatching(/^\/[a-z0-9/._-]{0,30}$/), (p) => {
      assert.equal(globToRegExp(p).test(p), true)
      assert.equal(globToRegExp('/**').test(p), true)
    }),
  )
})

test('every field must match', () => {
  const m = compileMatch({
    hosts: ['*.example.org'],
    paths: ['/api/**'],
    methods: ['POST'],
    headers: { 'x-debug': false, 'user-agent': '*curl*' },
    contentTypes: ['application/json'],
  })
  const h = { 'user-agent': 'curl/8.5', 'content-type': 'application/json; charset=utf-8' }
  assert.equal(m({ ...R, headers: h }), true)
  assert.equal(m({ ...R, host: 'example.com', headers: h }), false)
  assert.equal(m({ ...R, path: '/static/x', headers: h }), false)
  assert.equal(m({ ...R, method: 'GET', headers: h }), false)
  assert.equal(m({ ...R, headers: { ...h, 'x-debug': '1' } }), false)
  assert.equal(m({ ...R, headers: { ...h, 'user-agent': 'Mozilla' } }), false)
  assert.equal(m({ ...R, headers: { ...h, 'content-type': 'text/plain' } }), false)
  assert.equal(compileMatch({})(R), true, 'empty match matches all')
})
