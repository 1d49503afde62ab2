/**
 * The SQL driver seam: the one small interface the store is written against,
 * with two implementations, node:sqlite (embedded default) and PostgreSQL
 * (`pg`). SQL is written once with `?` placeholders; the pg driver renumbers
 * them to `$n`. Transactions are serialised: in-process by a queue, and on
 * PostgreSQL additionally by an advisory transaction lock, so the audit hash
 * chain cannot fork between control-plane instances.
 */
export type Row = Record<string, unknown>
export type Param = string | number | null

export interface SqlExecutor {
  all(sql: string, params?: readonly Param[]): Promise<Row[]>
  run(sql: string, params?: readonly Param[]): Promise<number>
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A FIFO mutex: one transaction at a time per driver. */
export class Queue {
  #tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn)
    this.#tail = next.catch(() => undefined)
    return next
  }
}
