/**
 * `outpost lists update`: fetches each list from its publisher, checks that it
 * parses, and only then moves it into place (write to a temporary name in the
 * same directory, then rename), so a failed or truncated download never
 * replaces a good list. Files land in the layout `findLists` reads.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ScreeningError } from './errors.ts'
import { loadList, type ListFiles } from './lists.ts'
import type { ListId, ListVersion } from './model.ts'

interface SourceFile {
  readonly role: 'primary' | 'alt' | 'add' | 'comments'
  /** The publisher's file name, also used under --base-url. */
  readonly remote: string
  /** Local name; `{date}` is replaced with the list date. */
  readonly local: string
}

export interface Source {
  readonly list: ListId
  readonly dir: string
  /** The official address the files are published under. */
  readonly baseUrl: string
  readonly files: readonly SourceFile[]
}

const ofacBase = 'https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/'

/** The publishers' addresses (checked 2026-11). */
export const sources: readonly Source[] = [
  {
    list: 'us-ofac-sdn',
    dir: 'us-ofac-sdn',
    baseUrl: ofacBase,
    files: [
      { role: 'primary', remote: 'SDN.CSV', local: 'sdn_{date}.csv' },
      { role: 'alt', remote: 'ALT.CSV', local: 'alt_{date}.csv' },
      { role: 'add', remote: 'ADD.CSV', local: 'add_{date}.csv' },
      { role: 'comments', remote: 'SDN_COMMENTS.CSV', local: 'sdn_comments_{date}.csv' },
    ],
  },
  {
    list: 'us-ofac-cons',
    dir: 'us-ofac-nonsdn',
    baseUrl: ofacBase,
    files: [
      { role: 'primary', remote: 'CONS_PRIM.CSV', local: 'cons_prim_{date}.csv' },
      { role: 'alt', remote: 'CONS_ALT.CSV', local: 'cons_alt_{date}.csv' },
      { role: 'add', remote: 'CONS_ADD.CSV', local: 'cons_add_{date}.csv' },
      { role: 'comments', remote: 'CONS_COMMENTS.CSV', local: 'cons_comments_{date}.csv' },
    ],
  },
  {
    list: 'un-sc',
    dir: 'un-sc',
    baseUrl: 'https://scsanctions.un.org/resources/xml/en/',
    files: [{ role: 'primary', remote: 'consolidated.xml', local: 'consolidated_{date}.xml' }],
  },
  {
    list: 'eu-fsf',
    dir: 'eu-fsf',
    baseUrl: 'https://webgate.ec.europa.eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/',
    files: [
      { role: 'primary', remote: 'content?token=dG9rZW4tMjAxNw', local: 'eu-fsf_{date}.xml' },
    ],
  },
  {
    list: 'uk',
    dir: 'uk',
    baseUrl: 'https://sanctionslist.fcdo.gov.uk/docs/',
    files: [
      { role: 'primary', remote: 'UK-Sanctions-List.csv', local: 'UK-Sanctions-List_{date}.csv' },
    ],
  },
]

export interface UpdateOptions {
  readonly dir: string
  /** Only these lists (default: all). */
  readonly only?: readonly ListId[]
  /** Replaces every source's base address (mirrors, tests). */
  readonly baseUrl?: string
  /** Per-list base address overrides. */
  readonly sourceUrls?: Readonly<Partial<Record<ListId, string>>>
  readonly timeoutMs?: number
  readonly now?: () => Date
}

function join2(base: string, file: string): string {
  return base.endsWith('/') ? base + file : `${base}/${file}`
}

async function download(url: string, to: string, timeoutMs: number): Promise<void> {
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' })
  } catch (e) {
    throw new ScreeningError(
      'ERR_SCREENING_FETCH',
      `Cannot fetch ${url}: ${(e as Error).message}`,
      { cause: e },
    )
  }
  if (!res.ok || !res.body) {
    throw new ScreeningError('ERR_SCREENING_FETCH', `Cannot fetch ${url}: HTTP ${res.status}`)
  }
  await pipeline(Readable.fromWeb(res.body), createWriteStream(to))
}

/**
 * Fetches, validates and installs the lists; returns each list's new version.
 *
 * @example
 * ```ts
 * for (const v of await updateLists({ dir: '/srv/lists' })) console.log(v.list, v.date, v.sha256)
 * ```
 */
export async function updateLists(opts: UpdateOptions): Promise<ListVersion[]> {
  const timeoutMs = opts.timeoutMs ?? 120_000
  const now = opts.now ?? (() => new Date())
  const out: ListVersion[] = []
  for (const src of sources) {
    if (opts.only && !opts.only.includes(src.list)) continue
    const base = opts.sourceUrls?.[src.list] ?? opts.baseUrl ?? src.baseUrl
    const dir = join(opts.dir, src.dir)
    await mkdir(dir, { recursive: true })
    const stamp = `${process.pid}-${Date.now()}`
    const temps = src.files.map((f) => ({
      ...f,
      tmp: join(dir, `.${f.local.replace('{date}', 'download')}.${stamp}.tmp`),
    }))
    try {
      for (const f of temps) await download(join2(base, f.remote), f.tmp, timeoutMs)
      const spec: ListFiles = {
        list: src.list,
        files: temps.map((f) => ({ role: f.role, path: f.tmp })),
      }
      const loaded = await loadList(spec)
      if (loaded.entities.length === 0) {
        throw new ScreeningError(
          'ERR_SCREENING_FETCH',
          `Cannot update ${src.list}: the download holds no entries`,
        )
      }
      // UN, EU and UK files carry their own date; OFAC's CSVs do not, so they get today's (UTC).
      const date = src.list.startsWith('us-ofac')
        ? now().toISOString().slice(0, 10)
        : loaded.version.date
      const finals: string[] = []
      for (const f of temps) {
        const final = join(dir, f.local.replace('{date}', date))
        await rename(f.tmp, final)
        finals.push(final)
      }
      out.push({ ...loaded.version, date, files: finals })
    } finally {
      for (const f of temps) await rm(f.tmp, { force: true })
    }
  }
  return out
}
