/**
 * Finds and loads the list files of a directory laid out like
 * shared/data/sanctions (and like `outpost lists update` writes it):
 *
 *   us-ofac-sdn/sdn_<date>.csv, alt_<date>.csv, add_<date>.csv, sdn_comments_<date>.csv
 *   us-ofac-nonsdn/cons_prim.csv, cons_alt.csv, cons_add.csv, cons_comments.csv
 *   un-sc/consolidated_<date>.xml
 *   eu-fsf/eu-fsf_<date>.xml
 *   uk/UK-Sanctions-List_<date>.csv
 *
 * When a directory holds several dated snapshots, the newest is loaded.
 * `eu-oj-transcribed-ccbync/` is never read: it is not an EU FSF file and its
 * licence (CC BY-NC) keeps it out of the product.
 */
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { deserialize, serialize } from 'node:v8'
import { join } from 'node:path'
import { ScreeningError } from './errors.ts'
import { parseEu } from './eu.ts'
import {
  ListId,
  type Entity,
  type ListVersion,
  type ParseResult,
  type SkippedRow,
} from './model.ts'
import { parseOfac } from './ofac.ts'
import { parseUk } from './uk.ts'
import { parseUn } from './un.ts'

/** Which files make up one list. */
export interface ListFiles {
  readonly list: ListId
  /** The main file first; for OFAC: primary, alt, add, comments (absent ones omitted). */
  readonly files: { readonly role: 'primary' | 'alt' | 'add' | 'comments'; readonly path: string }[]
}

export interface LoadedList {
  readonly version: ListVersion
  readonly entities: Entity[]
  readonly skipped: SkippedRow[]
}

const dateRe = /(\d{4}-\d{2}-\d{2})/

function newest(dir: string, re: RegExp): string | undefined {
  if (!existsSync(dir)) return undefined
  const hits = readdirSync(dir).filter((f) => re.test(f))
  hits.sort((a, b) => {
    const da = dateRe.exec(a)?.[1] ?? ''
    const db = dateRe.exec(b)?.[1] ?? ''
    return da === db ? a.localeCompare(b) : da.localeCompare(db)
  })
  const last = hits.at(-1)
  return last === undefined ? undefined : join(dir, last)
}

/** The directory layout: subdirectory and file patterns per list. */
export const listLayout = {
  'us-ofac-sdn': {
    dir: 'us-ofac-sdn',
    primary: /^sdn(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    alt: /^alt(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    add: /^add(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    comments: /^sdn_comments(_\d{4}-\d{2}-\d{2})?\.csv$/i,
  },
  'us-ofac-cons': {
    dir: 'us-ofac-nonsdn',
    primary: /^cons_prim(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    alt: /^cons_alt(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    add: /^cons_add(_\d{4}-\d{2}-\d{2})?\.csv$/i,
    comments: /^cons_comments(_\d{4}-\d{2}-\d{2})?\.csv$/i,
  },
  'un-sc': { dir: 'un-sc', primary: /^consolidated.*\.xml$/i },
  'eu-fsf': { dir: 'eu-fsf', primary: /\.xml$/i },
  uk: { dir: 'uk', primary: /\.csv$/i },
} as const satisfies Record<
  ListId,
  { dir: string; primary: RegExp; alt?: RegExp; add?: RegExp; comments?: RegExp }
>

/**
 * Finds the newest files of every list present in `dir`.
 *
 * @example
 * ```ts
 * findLists('/srv/lists').map((l) => l.list) // ['us-ofac-sdn', 'un-sc', ...]
 * ```
 */
export function findLists(dir: string): ListFiles[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ScreeningError(
      'ERR_SCREENING_LISTS',
      `Cannot load lists: '${dir}' is not a directory`,
    )
  }
  const out: ListFiles[] = []
  for (const list of Object.values(ListId)) {
    const layout = listLayout[list]
    const sub = join(dir, layout.dir)
    const primary = newest(sub, layout.primary)
    if (primary === undefined) continue
    const files: ListFiles['files'] = [{ role: 'primary', path: primary }]
    if ('alt' in layout) {
      for (const role of ['alt', 'add', 'comments'] as const) {
        const p = newest(sub, layout[role])
        if (p !== undefined) files.push({ role, path: p })
      }
    }
    out.push({ list, files })
  }
  return out
}

async function sha256Of(paths: readonly string[]): Promise<string> {
  const h = createHash('sha256')
  for (const p of paths) h.update(await readFile(p))
  return h.digest('hex')
}

function fileDate(path: string): string {
  return (
    dateRe.exec(path.split('/').at(-1) ?? '')?.[1] ??
    statSync(path).mtime.toISOString().slice(0, 10)
  )
}

/** Parses one list and computes its version (date + SHA-256 of its files). */
export async function loadList(spec: ListFiles, options: LoadOptions = {}): Promise<LoadedList> {
  if (options.cacheDir === undefined) return parseList(spec)
  // The cache is keyed by the files' SHA-256 (and the parser version), so a new
  // list file is never served from an old parse.
  const sha = await sha256Of(spec.files.map((f) => f.path))
  const file = join(options.cacheDir, `${spec.list}-${PARSER_VERSION}-${sha}.v8`)
  try {
    const cached = deserialize(await readFile(file)) as LoadedList
    if (cached.version.sha256 === sha) return cached
  } catch {
    // absent or unreadable: parse below
  }
  const loaded = await parseList(spec)
  await mkdir(options.cacheDir, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, serialize(loaded))
  await rename(tmp, file)
  return loaded
}

/** Bumped whenever a parser's output changes, to invalidate cached parses. */
const PARSER_VERSION = 1

export interface LoadOptions {
  /** Keep parsed lists here (v8-serialised, keyed by content hash) to load faster next time. */
  readonly cacheDir?: string
}

async function parseList(spec: ListFiles): Promise<LoadedList> {
  const primary = spec.files.find((f) => f.role === 'primary')
  if (!primary)
    throw new ScreeningError('ERR_SCREENING_LISTS', `Cannot load ${spec.list}: no primary file`)
  const open = (role: string) => {
    const f = spec.files.find((x) => x.role === role)
    return f ? createReadStream(f.path) : undefined
  }
  let result: ParseResult
  switch (spec.list) {
    case 'us-ofac-sdn':
    case 'us-ofac-cons': {
      const alt = open('alt')
      const add = open('add')
      const comments = open('comments')
      result = await parseOfac(spec.list, {
        primary: createReadStream(primary.path),
        ...(alt ? { alt } : {}),
        ...(add ? { add } : {}),
        ...(comments ? { comments } : {}),
      })
      break
    }
    case 'un-sc':
      result = await parseUn(createReadStream(primary.path))
      break
    case 'eu-fsf':
      result = await parseEu(createReadStream(primary.path))
      break
    case 'uk':
      result = await parseUk(createReadStream(primary.path))
      break
  }
  const paths = spec.files.map((f) => f.path)
  return {
    version: {
      list: spec.list,
      date: result.date ?? fileDate(primary.path),
      sha256: await sha256Of(paths),
      files: paths,
      entityCount: result.entities.length,
    },
    entities: result.entities,
    skipped: result.skipped,
  }
}

/**
 * Loads every list found in `dir`, in parallel.
 *
 * @example
 * ```ts
 * const lists = await loadLists('/work/shared/data/sanctions')
 * for (const l of lists) console.log(l.version.list, l.version.date, l.version.entityCount)
 * ```
 */
export async function loadLists(
  dir: string,
  only?: readonly ListId[],
  options: LoadOptions = {},
): Promise<LoadedList[]> {
  const specs = findLists(dir).filter((s) => only === undefined || only.includes(s.list))
  return Promise.all(specs.map((s) => loadList(s, options)))
}
