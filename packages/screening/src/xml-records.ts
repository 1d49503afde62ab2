/**
 * Streaming XML (saxes) cut into small element trees, one per record element
 * (`INDIVIDUAL`, `sanctionEntity`...), so a list file is never held whole.
 */
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { SaxesParser } from 'saxes'
import { ListParseError } from './errors.ts'

export interface XNode {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
  text: string
  readonly children: XNode[]
}

function local(name: string): string {
  const i = name.indexOf(':')
  return i >= 0 ? name.slice(i + 1) : name
}

/** First child with this name. */
export function child(n: XNode, name: string): XNode | undefined {
  return n.children.find((c) => c.name === name)
}

/** All children with this name. */
export function children(n: XNode, name: string): XNode[] {
  return n.children.filter((c) => c.name === name)
}

/** Trimmed text of the first child with this name, '' when absent. */
export function textOf(n: XNode, name: string): string {
  return (child(n, name)?.text ?? '').trim()
}

export interface XmlStream {
  /** Attributes of the document element, once seen. */
  root?: XNode
  readonly records: AsyncGenerator<{ node: XNode; line: number }>
}

/**
 * @example
 * ```ts
 * for await (const { node } of xmlRecords(createReadStream(f), new Set(['INDIVIDUAL']), 'UN list').records)
 *   console.log(textOf(node, 'REFERENCE_NUMBER'))
 * ```
 */
export function xmlRecords(
  input: Readable,
  recordNames: ReadonlySet<string>,
  what: string,
): XmlStream {
  const state: XmlStream = { records: gen() }
  async function* gen(): AsyncGenerator<{ node: XNode; line: number }> {
    const parser = new SaxesParser({ xmlns: false, position: true })
    const stack: XNode[] = []
    const done: { node: XNode; line: number }[] = []
    let failure: Error | undefined
    let depth = 0
    parser.on('error', (e) => {
      failure ??= e
    })
    parser.on('opentag', (tag) => {
      depth++
      const attrs: Record<string, string> = {}
      for (const [k, v] of Object.entries(tag.attributes)) attrs[local(k)] = v
      const node: XNode = { name: local(tag.name), attrs, text: '', children: [] }
      if (depth === 1) state.root = node
      const parent = stack.at(-1)
      if (parent) parent.children.push(node)
      else if (!recordNames.has(node.name)) return
      stack.push(node)
    })
    parser.on('text', (t) => {
      const top = stack.at(-1)
      if (top) top.text += t
    })
    parser.on('cdata', (t) => {
      const top = stack.at(-1)
      if (top) top.text += t
    })
    parser.on('closetag', () => {
      depth--
      const node = stack.pop()
      if (node && stack.length === 0) done.push({ node, line: parser.line })
    })
    const decoder = new StringDecoder('utf8')
    const feed = (s: string) => {
      try {
        parser.write(s)
      } catch (e) {
        failure ??= e as Error
      }
      if (failure) {
        throw new ListParseError(`Cannot parse ${what}: ${failure.message}`, { cause: failure })
      }
    }
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      feed(typeof chunk === 'string' ? chunk : decoder.write(chunk))
      yield* done.splice(0)
    }
    feed(decoder.end())
    try {
      parser.close()
    } catch (e) {
      failure ??= e as Error
    }
    if (failure)
      throw new ListParseError(`Cannot parse ${what}: ${failure.message}`, { cause: failure })
    if (!state.root) throw new ListParseError(`Cannot parse ${what}: no document element`)
    yield* done.splice(0)
  }
  return state
}
