/**
 * `outpost screen` and `outpost lists` (show, update).
 */
import { flag, list, str, UsageError, type Command } from '@outpost/command'
import { loadLists } from './lists.ts'
import { ScreeningIndex } from './matcher.ts'
import { ListId } from './model.ts'
import { screenLines } from './screen-stream.ts'
import { sources, updateLists } from './update.ts'

const listIds = Object.values(ListId) as string[]

function parseListIds(values: readonly string[]): ListId[] {
  for (const v of values) {
    if (!listIds.includes(v))
      throw new UsageError(`Unknown list '${v}' (one of: ${listIds.join(', ')})`)
  }
  return values as ListId[]
}

export const screenCommand: Command = {
  name: 'screen',
  summary: 'Screen names against sanctions lists',
  description: `
Reads one JSON query per line on stdin:
  {"name": "...", "type": "person" | "organization", "country"?: "RU", "dob"?: "1970-01-31" | "1970"}
and writes one line per query, in order:
  {"matches": [{"id": "us-ofac-sdn:17018", "name": "...", "score": 0.97, "decision": "match" | "review"}]}
A line that is not a valid query yields {"error": {"code": ..., "message": ...}}.`,
  options: {
    lists: {
      type: 'string',
      value: 'DIR',
      description: 'Directory of list files (as written by lists update)',
    },
    format: {
      type: 'string',
      value: 'FORMAT',
      description: 'Input and output format',
      default: 'jsonl',
    },
    explain: { type: 'boolean', description: 'Include the evidence for each match' },
    limit: { type: 'string', value: 'N', description: 'At most N matches per query' },
    list: {
      type: 'string',
      multiple: true,
      value: 'ID',
      description: 'Only these lists (repeatable)',
    },
    cache: {
      type: 'string',
      value: 'DIR',
      description: 'Cache parsed lists in DIR, keyed by their SHA-256 (faster start)',
    },
  },
  run: async (args) => {
    const dir = str(args, 'lists', true)
    if (str(args, 'format') !== 'jsonl') throw new UsageError('Only --format jsonl is supported')
    const limitText = str(args, 'limit')
    const limit = limitText !== undefined ? Number(limitText) : undefined
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
      throw new UsageError('--limit must be a positive integer')
    }
    const only = list(args, 'list')
    const cacheDir = str(args, 'cache')
    const lists = await loadLists(
      dir,
      only.length > 0 ? parseListIds(only) : undefined,
      cacheDir !== undefined ? { cacheDir } : {},
    )
    if (lists.length === 0) throw new UsageError(`No list files found in '${dir}'`)
    const index = ScreeningIndex.fromLists(lists)
    await screenLines(index, process.stdin, args.out, {
      explain: flag(args, 'explain'),
      ...(limit !== undefined ? { limit } : {}),
    })
    return 0
  },
}

const showCommand: Command = {
  name: 'show',
  summary: 'Print the version (date, SHA-256) and entry counts of each list',
  options: {
    lists: { type: 'string', value: 'DIR', description: 'Directory of list files' },
  },
  run: async (args) => {
    const dir = str(args, 'lists', true)
    const lists = await loadLists(dir)
    if (lists.length === 0) throw new UsageError(`No list files found in '${dir}'`)
    for (const l of lists) {
      const v = l.version
      const byType: Record<string, number> = {}
      for (const e of l.entities) byType[e.type] = (byType[e.type] ?? 0) + 1
      const types = Object.entries(byType)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')
      args.out.write(
        `${v.list.padEnd(13)} ${v.date}  sha256:${v.sha256}  ${v.entityCount} entries (${types})` +
          `${l.skipped.length > 0 ? `, ${l.skipped.length} rows skipped` : ''}\n`,
      )
    }
    return 0
  },
}

const updateCommand: Command = {
  name: 'update',
  summary: 'Fetch the lists from their publishers into DIR (atomically) and print each version',
  description: `Sources: ${sources.map((s) => `${s.list} (${s.baseUrl})`).join(', ')}.`,
  options: {
    dir: { type: 'string', value: 'DIR', description: 'Directory to write the lists into' },
    source: {
      type: 'string',
      multiple: true,
      value: 'ID',
      description: `Only this list (repeatable): ${listIds.join(', ')}`,
    },
    'base-url': {
      type: 'string',
      value: 'URL',
      description: 'Fetch every file from URL/<file> instead (a mirror)',
    },
    'source-url': {
      type: 'string',
      multiple: true,
      value: 'ID=URL',
      description: 'Per-list base URL override (repeatable)',
    },
  },
  run: async (args) => {
    const dir = str(args, 'dir', true)
    const only = list(args, 'source')
    const sourceUrls: Partial<Record<ListId, string>> = {}
    for (const kv of list(args, 'source-url')) {
      const i = kv.indexOf('=')
      if (i <= 0) throw new UsageError(`--source-url takes ID=URL, got '${kv}'`)
      const [id] = parseListIds([kv.slice(0, i)])
      if (id) sourceUrls[id] = kv.slice(i + 1)
    }
    const baseUrl = str(args, 'base-url')
    const versions = await updateLists({
      dir,
      ...(only.length > 0 ? { only: parseListIds(only) } : {}),
      ...(baseUrl !== undefined ? { baseUrl } : {}),
      sourceUrls,
    })
    for (const v of versions) {
      args.out.write(
        `${v.list.padEnd(13)} ${v.date}  sha256:${v.sha256}  ${v.entityCount} entries\n`,
      )
    }
    return 0
  },
}

export const listsCommand: Command = {
  name: 'lists',
  summary: 'Fetch and inspect sanctions lists',
  subcommands: [showCommand, updateCommand],
}
