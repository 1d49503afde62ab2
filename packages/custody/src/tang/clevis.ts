/**
 * Clevis-compatible JWE (clevis-encrypt-tang(1), clevis-encrypt-sss(1)) over our Tang
 * client. A `tang` JWE is compact, five parts, with an empty encrypted-key part:
 *
 *   protected = {"alg":"ECDH-ES","clevis":{"pin":"tang","tang":{"adv":{keys},"url":U}},
 *                "enc":"A256GCM","epk":c,"kid":thp(S)}
 *
 * Provisioning (McCallum–Relyea): random C, epk c = C·G, K = C·S for the server's
 * exchange key S; the content key is ConcatKDF(Z = K.x, "A256GCM", 256) (RFC 7518
 * §4.6.2) and the AAD is the ASCII protected header (RFC 7516 §5.1 step 14).
 * Recovery: random E, POST x = c + E·G to /rec/{kid}, receive y = x·s, K = y − E·S.
 * The Tang server sees only a blinded point and learns nothing about K.
 *
 * An `sss` JWE (alg "dir") holds its own A256GCM key split with Shamir over the
 * prime field `p`; each share (x‖y, each |p| bytes) is itself a Clevis JWE. Any `t`
 * shares give the key by Lagrange interpolation at 0.
 *
 * Secrets (plaintext, C, E, Z, content keys) are Uint8Arrays, zeroised when done.
 * Scalars and points also pass through @noble/curves as bigints, which JS cannot
 * zeroise; they are short-lived locals.
 */
import { generatePrimeSync, randomBytes } from 'node:crypto'
import { p521 } from '@noble/curves/nist.js'
import { JoseError, TangError } from '../errors.ts'
import { exchangeKeys, parseKeySet, verifyAdvert } from './advert.ts'
import {
  a256gcmDecrypt,
  a256gcmEncrypt,
  b64uDecode,
  b64uEncode,
  bigintToBytes,
  bytesToBigint,
  concatKdf,
  isRecord,
  jwkToPoint,
  matchesKid,
  P521_BYTES,
  parseEcJwk,
  parseJson,
  pointToJwk,
  randomScalar,
  scalarOf,
  thumbprint,
  type EcJwk,
  type Point,
} from './jose.ts'

/** Configuration of the `tang` pin, as clevis takes it. */
export interface TangPinConfig {
  /** Base URL of the Tang server; `/adv` and `/rec/{kid}` are appended. */
  readonly url: string
  /** Pinned thumbprint of the advert's ES512 signing key (S256 or S1). */
  readonly thp?: string
  /** An advert (JWS, object or JSON text) to use instead of fetching one. */
  readonly adv?: unknown
  /** Accept whatever signed advert the server serves (clevis `-y`). Off by default. */
  readonly trustFirstUse?: boolean
}

export interface FetchOptions {
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number
}

/** Keys sorted like jose(1) writes JSON, so our headers look like clevis's. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path
}

async function httpJson(
  url: string,
  init: RequestInit,
  what: string,
  opts: FetchOptions,
): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) })
  } catch (e) {
    throw new TangError(
      `Cannot reach Tang server for ${what}: ${(e as Error).message}`,
      undefined,
      {
        cause: e,
      },
    )
  }
  const text = await res.text()
  if (res.status !== 200) {
    throw new TangError(`Tang server answered ${res.status} to ${what}`, res.status)
  }
  return parseJson(text, `Tang ${what} answer`)
}

/** Fetches and verifies a Tang advert (`GET /adv`). */
export async function fetchAdvert(
  cfg: TangPinConfig,
  opts: FetchOptions = {},
): Promise<{ keys: EcJwk[]; signer: EcJwk }> {
  if (cfg.thp === undefined && cfg.adv === undefined && cfg.trustFirstUse !== true) {
    throw new TangError(
      'Cannot trust Tang advert: pass thp (signing key thumbprint), adv, or trustFirstUse',
    )
  }
  let jws = cfg.adv
  if (jws === undefined) jws = await httpJson(joinUrl(cfg.url, '/adv'), {}, 'advert', opts)
  const v = verifyAdvert(jws, cfg.thp !== undefined ? { thp: cfg.thp } : {})
  return { keys: [...v.keys], signer: v.signer }
}

/** Splits a compact JWE (RFC 7516 §7.1) and decodes its protected header. */
export function parseCompactJwe(jwe: string): {
  header: Record<string, unknown>
  protectedB64: string
  iv: Buffer
  ciphertext: Buffer
  tag: Buffer
} {
  const parts = jwe.trim().split('.')
  if (parts.length !== 5)
    throw new JoseError(`Cannot decode JWE: ${parts.length} parts, expected 5`)
  const [protectedB64, ek, ivB, ctB, tagB] = parts as [string, string, string, string, string]
  if (ek !== '') throw new JoseError('Cannot decode JWE: encrypted key must be empty')
  const header = parseJson(b64uDecode(protectedB64, 'JWE header').toString('utf8'), 'JWE header')
  if (!isRecord(header)) throw new JoseError('Cannot decode JWE header: not an object')
  if (header['enc'] !== 'A256GCM') throw new JoseError('Cannot decode JWE: enc is not A256GCM')
  const iv = b64uDecode(ivB, 'JWE iv')
  if (iv.length !== 12) throw new JoseError('Cannot decode JWE: iv is not 12 bytes')
  return {
    header,
    protectedB64,
    iv,
    ciphertext: b64uDecode(ctB, 'JWE ciphertext'),
    tag: b64uDecode(tagB, 'JWE tag'),
  }
}

function sealCompact(header: unknown, key: Uint8Array, plaintext: Uint8Array): string {
  const protectedB64 = b64uEncode(Buffer.from(canonicalJson(header), 'utf8'))
  const g = a256gcmEncrypt(key, plaintext, Buffer.from(protectedB64, 'ascii'), randomBytes(12))
  return [protectedB64, '', b64uEncode(g.iv), b64uEncode(g.ciphertext), b64uEncode(g.tag)].join('.')
}

function zOf(k: Point): Buffer {
  return bigintToBytes(k.toAffine().x, P521_BYTES)
}

/**
 * Encrypts `plaintext` to a Tang server, as `clevis encrypt tang CFG` does.
 *
 * @example
 * ```ts
 * const jwe = await clevisEncryptTang(secret, { url: 'http://127.0.0.1:7500', thp })
 * secret.fill(0)
 * ```
 */
export async function clevisEncryptTang(
  plaintext: Uint8Array,
  cfg: TangPinConfig,
  opts: FetchOptions = {},
): Promise<string> {
  const { keys } = await fetchAdvert(cfg, opts)
  const server = exchangeKeys(keys)[0]
  if (server === undefined) throw new TangError('Cannot encrypt: advert has no ECMR exchange key')
  const S = jwkToPoint(server, 'exchange key')
  const c = randomScalar()
  const z = zOf(S.multiply(scalarOf(c)))
  const epk = pointToJwk(p521.Point.BASE.multiply(scalarOf(c)))
  c.fill(0)
  const cek = concatKdf(z, 'A256GCM', 256)
  z.fill(0)
  const header = {
    alg: 'ECDH-ES',
    enc: 'A256GCM',
    kid: thumbprint(server),
    epk: { kty: epk.kty, crv: epk.crv, x: epk.x, y: epk.y },
    clevis: { pin: 'tang', tang: { url: cfg.url, adv: { keys } } },
  }
  try {
    return sealCompact(header, cek, plaintext)
  } finally {
    cek.fill(0)
  }
}

async function recoverTang(header: Record<string, unknown>, opts: FetchOptions): Promise<Buffer> {
  if (header['alg'] !== 'ECDH-ES') throw new JoseError('Cannot decode tang JWE: alg is not ECDH-ES')
  const clevis = header['clevis']
  const tang = isRecord(clevis) ? clevis['tang'] : undefined
  if (!isRecord(tang) || typeof tang['url'] !== 'string') {
    throw new JoseError('Cannot decode tang JWE: missing clevis.tang.url')
  }
  const kid = header['kid']
  if (typeof kid !== 'string') throw new JoseError('Cannot decode tang JWE: missing kid')
  const epk = jwkToPoint(parseEcJwk(header['epk'], 'JWE epk'), 'JWE epk')
  const server = parseKeySet(tang['adv']).find((k) => k.alg === 'ECMR' && matchesKid(k, kid))
  if (server === undefined)
    throw new JoseError('Cannot decode tang JWE: kid not in clevis.tang.adv')
  const S = jwkToPoint(server, 'exchange key')
  const e = randomScalar()
  const eScalar = scalarOf(e)
  e.fill(0)
  const x = epk.add(p521.Point.BASE.multiply(eScalar))
  const body = canonicalJson({ ...pointToJwk(x), alg: 'ECMR' })
  const reply = await httpJson(
    joinUrl(tang['url'], `/rec/${encodeURIComponent(kid)}`),
    { method: 'POST', headers: { 'content-type': 'application/jwk+json' }, body },
    'recovery',
    opts,
  )
  const y = jwkToPoint(parseEcJwk(reply, 'recovery answer'), 'recovery answer')
  const k = y.subtract(S.multiply(eScalar))
  const z = zOf(k)
  const cek = concatKdf(z, 'A256GCM', 256)
  z.fill(0)
  return cek
}

interface SssHeader {
  readonly t: number
  readonly p: bigint
  readonly pLen: number
  readonly jwe: readonly string[]
}

function parseSss(header: Record<string, unknown>): SssHeader {
  if (header['alg'] !== 'dir') throw new JoseError('Cannot decode sss JWE: alg is not dir')
  const clevis = header['clevis']
  const sss = isRecord(clevis) ? clevis['sss'] : undefined
  if (!isRecord(sss)) throw new JoseError('Cannot decode sss JWE: missing clevis.sss')
  const { t, p, jwe } = sss
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) {
    throw new JoseError('Cannot decode sss JWE: t is not a positive integer')
  }
  if (typeof p !== 'string') throw new JoseError('Cannot decode sss JWE: missing p')
  if (!Array.isArray(jwe) || !jwe.every((j) => typeof j === 'string')) {
    throw new JoseError('Cannot decode sss JWE: jwe is not a list of strings')
  }
  if (jwe.length < t) throw new JoseError(`Cannot decode sss JWE: ${jwe.length} shares, t = ${t}`)
  const pBytes = b64uDecode(p, 'sss p')
  if (pBytes.length < 32) throw new JoseError('Cannot decode sss JWE: p is shorter than 32 bytes')
  return { t, p: bytesToBigint(pBytes), pLen: pBytes.length, jwe: jwe }
}

function mod(a: bigint, p: bigint): bigint {
  const r = a % p
  return r < 0n ? r + p : r
}

function modInverse(a: bigint, p: bigint): bigint {
  // Fermat: p is prime.
  let result = 1n
  let base = mod(a, p)
  let e = p - 2n
  while (e > 0n) {
    if (e & 1n) result = (result * base) % p
    base = (base * base) % p
    e >>= 1n
  }
  return result
}

/** Lagrange interpolation at x = 0 over GF(p). */
function interpolateAtZero(points: readonly (readonly [bigint, bigint])[], p: bigint): bigint {
  let acc = 0n
  for (let i = 0; i < points.length; i++) {
    const [xi, yi] = points[i] as readonly [bigint, bigint]
    let num = 1n
    let den = 1n
    for (let j = 0; j < points.length; j++) {
      if (j === i) continue
      const xj = (points[j] as readonly [bigint, bigint])[0]
      num = mod(num * -xj, p)
      den = mod(den * (xi - xj), p)
    }
    acc = mod(acc + yi * num * modInverse(den, p), p)
  }
  return acc
}

async function recoverSss(h: SssHeader, opts: FetchOptions): Promise<Buffer> {
  const points: [bigint, bigint][] = []
  const errors: unknown[] = []
  await Promise.all(
    h.jwe.map(async (child) => {
      try {
        const pt = await clevisDecrypt(child, opts)
        if (pt.length !== 2 * h.pLen) {
          pt.fill(0)
          throw new JoseError(`Cannot decode sss share: ${pt.length} bytes, expected ${2 * h.pLen}`)
        }
        points.push([bytesToBigint(pt.subarray(0, h.pLen)), bytesToBigint(pt.subarray(h.pLen))])
        pt.fill(0)
      } catch (e) {
        errors.push(e)
      }
    }),
  )
  if (points.length < h.t) {
    throw new TangError(
      `Cannot decrypt sss JWE: ${points.length} of ${h.t} required shares recovered`,
      undefined,
      { cause: errors[0] },
    )
  }
  const unique = new Map(points.map((pt) => [pt[0], pt]))
  const k = interpolateAtZero([...unique.values()].slice(0, h.t), h.p)
  return bigintToBytes(k, h.pLen).subarray(-32)
}

/**
 * Decrypts a Clevis JWE (`tang` or `sss` pin, nested freely), as `clevis decrypt` does.
 * The result is the caller's to zeroise.
 *
 * @example
 * ```ts
 * const key = await clevisDecrypt(readFileSync('identity.jwe', 'ascii'))
 * try { use(key) } finally { key.fill(0) }
 * ```
 */
export async function clevisDecrypt(jwe: string, opts: FetchOptions = {}): Promise<Buffer> {
  const parsed = parseCompactJwe(jwe)
  const clevis = parsed.header['clevis']
  const pin = isRecord(clevis) ? clevis['pin'] : undefined
  let cek: Buffer
  if (pin === 'tang') cek = await recoverTang(parsed.header, opts)
  else if (pin === 'sss') cek = await recoverSss(parseSss(parsed.header), opts)
  else throw new JoseError(`Cannot decrypt JWE: unsupported clevis pin ${JSON.stringify(pin)}`)
  try {
    return await a256gcmDecrypt(cek, parsed, Buffer.from(parsed.protectedB64, 'ascii'))
  } finally {
    cek.fill(0)
  }
}

/** A pin configuration for {@link clevisEncryptSss}: `{"t":N,"pins":{"tang":[...]}}`. */
export interface SssConfig {
  readonly t: number
  readonly pins: { readonly tang?: readonly TangPinConfig[]; readonly sss?: readonly SssConfig[] }
}

/**
 * Splits a fresh A256GCM key with Shamir (threshold `t`) and encrypts each share with
 * a child pin, as `clevis encrypt sss CFG` does.
 */
export async function clevisEncryptSss(
  plaintext: Uint8Array,
  cfg: SssConfig,
  opts: FetchOptions = {},
): Promise<string> {
  const children = [
    ...(cfg.pins.tang ?? []).map((c) => ({ kind: 'tang' as const, c })),
    ...(cfg.pins.sss ?? []).map((c) => ({ kind: 'sss' as const, c })),
  ]
  if (!Number.isInteger(cfg.t) || cfg.t < 1 || cfg.t > children.length) {
    throw new JoseError(`Cannot encrypt sss: t = ${cfg.t} with ${children.length} pins`)
  }
  const pLen = 32
  const p = generatePrimeSync(pLen * 8, { bigint: true, safe: false })
  const rand = (): bigint => mod(bytesToBigint(randomBytes(pLen + 16)), p)
  const coeffs: bigint[] = []
  for (let i = 0; i < cfg.t; i++) coeffs.push(rand())
  const key = bigintToBytes(coeffs[0] as bigint, pLen)
  const xs = new Set<bigint>()
  const jwes: string[] = []
  try {
    for (const child of children) {
      let x = rand()
      while (x === 0n || xs.has(x)) x = rand()
      xs.add(x)
      let y = 0n
      for (let i = coeffs.length - 1; i >= 0; i--) y = mod(y * x + (coeffs[i] as bigint), p)
      const share = Buffer.concat([bigintToBytes(x, pLen), bigintToBytes(y, pLen)])
      try {
        jwes.push(
          child.kind === 'tang'
            ? await clevisEncryptTang(share, child.c, opts)
            : await clevisEncryptSss(share, child.c, opts),
        )
      } finally {
        share.fill(0)
      }
    }
    const header = {
      alg: 'dir',
      enc: 'A256GCM',
      clevis: { pin: 'sss', sss: { t: cfg.t, p: b64uEncode(bigintToBytes(p, pLen)), jwe: jwes } },
    }
    return sealCompact(header, key, plaintext)
  } finally {
    key.fill(0)
  }
}
