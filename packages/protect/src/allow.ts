/**
 * Allow-lists: who is never challenged or banned.
 *
 * Verified classes (cannot be spoofed by a header alone) also skip rate-limit rules:
 * CIDRs, API tokens (SHA-256 of the bearer token), and crawlers whose UA matches *and*
 * whose address is in the bundled published ranges (data/crawlers.json). UA classes
 * (feed readers, uptime monitors, link previews, git) skip challenges, bans and
 * "under attack" but stay subject to rate-limit rules, because a UA is easy to fake.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Allow } from './schema.ts'
import type { AllowClass, Headers } from './types.ts'
import { CidrSet } from './ip.ts'

/** UA substrings (lower case) per class; from the fetchers' documented UAs. */
export const UA_CLASSES: Readonly<
  Record<'feed' | 'monitor' | 'preview' | 'git', readonly string[]>
> = {
  feed: [
    'miniflux',
    'freshrss',
    'feedbin',
    'feedly',
    'newsblur',
    'inoreader',
    'tiny tiny rss',
    'netnewswire',
    'theoldreader',
    'feedfetcher',
  ],
  monitor: ['uptime-kuma', 'uptimerobot', 'pingdom', 'statuscake', 'betteruptime', 'updown.io'],
  preview: [
    'telegrambot',
    'twitterbot',
    'slackbot-linkexpanding',
    'discordbot',
    'whatsapp',
    'mastodon/',
  ],
  git: ['git/'],
}

interface CrawlerData {
  readonly crawlers: readonly { name: string; userAgent: string; cidrs: string[] }[]
}

const crawlers = (
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../data/crawlers.json'), 'utf8'),
  ) as CrawlerData
).crawlers.map((c) => ({ ua: c.userAgent.toLowerCase(), nets: new CidrSet(c.cidrs) }))

export interface AllowMatch {
  readonly cls: AllowClass
  /** True for classes an attacker cannot claim with a header alone. */
  readonly verified: boolean
}

export class AllowList {
  readonly #cidrs: CidrSet
  readonly #tokenHeader: string
  readonly #tokens: Set<string>
  readonly #ua: { sub: string; cls: AllowClass }[] = []
  readonly #crawlers: boolean
  /**
   * Every UA substring this list looks for (crawlers and classes) in one regular
   * expression: a UA that contains none of them, which is most of a flood, is
   * dismissed with one scan instead of one includes() per substring.
   */
  readonly #anyUa: RegExp

  constructor(a: Allow) {
    this.#cidrs = new CidrSet(a.cidrs)
    this.#tokenHeader = a.tokens.header
    this.#tokens = new Set(a.tokens.sha256)
    this.#crawlers = a.verifiedCrawlers
    const add = (on: boolean, cls: AllowClass, subs: readonly string[]): void => {
      if (on) for (const sub of subs) this.#ua.push({ sub: sub.toLowerCase(), cls })
    }
    add(a.feedReaders, 'feed', UA_CLASSES.feed)
    add(a.monitors, 'monitor', UA_CLASSES.monitor)
    add(a.previews, 'preview', UA_CLASSES.preview)
    add(a.git, 'git', UA_CLASSES.git)
    add(true, 'user-agent', a.userAgents)
    const subs = [...crawlers.map((c) => c.ua), ...this.#ua.map((u) => u.sub)].filter(
      (x) => x !== '',
    )
    this.#anyUa = new RegExp(subs.map((x) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'))
  }

  match(ip: string, ua: string, headers: Headers): AllowMatch | undefined {
    if (this.#cidrs.has(ip)) return { cls: 'cidr', verified: true }
    if (this.#tokens.size > 0) {
      const v = headers[this.#tokenHeader]
      const raw = typeof v === 'string' ? v : undefined
      if (raw !== undefined) {
        const t = raw.toLowerCase().startsWith('bearer ') ? raw.slice(7).trim() : raw.trim()
        if (this.#tokens.has(createHash('sha256').update(t).digest('hex')))
          return { cls: 'token', verified: true }
      }
    }
    if (ua === '') return undefined
    const low = ua.toLowerCase()
    if (!this.#anyUa.test(low)) return undefined
    if (this.#crawlers) {
      for (const c of crawlers)
        if (low.includes(c.ua) && c.nets.has(ip)) return { cls: 'crawler', verified: true }
    }
    // A crawler UA from outside its published ranges is not allow-listed by UA either.
    for (const c of crawlers) if (low.includes(c.ua)) return undefined
    for (const u of this.#ua) if (low.includes(u.sub)) return { cls: u.cls, verified: false }
    return undefined
  }
}
