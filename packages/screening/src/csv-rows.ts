/**
 * Streaming CSV rows (csv-parse) with their line numbers; a malformed file
 * becomes a ListParseError naming the file and line.
 */
import type { Readable } from 'node:stream'
import { parse } from 'csv-parse'
import { ListParseError } from './errors.ts'

export interface CsvRow {
  readonly fields: string[]
  readonly line: number
}

export async function* csvRows(input: Readable, what: string): AsyncGenerator<CsvRow> {
  const parser = input.pipe(
    parse({
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      info: true,
    }),
  )
  input.on('error', (e) => parser.destroy(e))
  try {
    for await (const item of parser as AsyncIterable<{
      record: string[]
      info: { lines: number }
    }>) {
      yield { fields: item.record, line: item.info.lines }
    }
  } catch (e) {
    if (e instanceof ListParseError) throw e
    const line = (e as { lines?: number }).lines
    throw new ListParseError(
      `Cannot parse ${what}: ${(e as Error).message}${line !== undefined ? ` (line ${line})` : ''}`,
      { cause: e },
    )
  }
}
