/**
 * Reads the closing line both shared runners print (run-clients.sh and run-tlsfuzzer.sh):
 * "N passed, M failed" with ", K skipped" appended when K > 0.
 */

export interface RunSummary {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

const lineRe = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/

/**
 * The summary from a runner's output: the LAST line of that form (a client's own output
 * quoted earlier cannot shadow it). Undefined when there is none, e.g. the runner crashed.
 *
 * @example
 * ```ts
 * parseSummary('ok   curl\n25 passed, 0 failed, 1 skipped\n') // { passed: 25, failed: 0, skipped: 1 }
 * ```
 */
export function parseSummary(output: string): RunSummary | undefined {
  const lines = output.split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = lineRe.exec(lines[i] ?? '')
    if (m === null) continue
    return {
      passed: Number(m[1]),
      failed: Number(m[2]),
      skipped: m[3] === undefined ? 0 : Number(m[3]),
    }
  }
  return undefined
}

/** The inverse of {@link parseSummary}, in the runners' format. */
export function formatSummary(s: RunSummary): string {
  const base = `${s.passed} passed, ${s.failed} failed`
  return s.skipped > 0 ? `${base}, ${s.skipped} skipped` : base
}

/** The check lines of run-clients.sh that failed ("FAIL <name>: <why>"). */
export function failedChecks(output: string): string[] {
  return output
    .split(/\r?\n/)
    .filter((l) => l.startsWith('FAIL '))
    .map((l) => l.slice(5))
}
