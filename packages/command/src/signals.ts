/** Waiting for a long-running service's stop signal. */

/**
 * Resolves with the first of SIGINT or SIGTERM to arrive, then stops listening,
 * so a service command can `await untilSignal()` and then close cleanly.
 *
 * @example
 * ```ts
 * const server = await startKeyServer(config)
 * await untilSignal()
 * await server.close()
 * ```
 */
export function untilSignal(
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, stop)
      resolve(signal)
    }
    for (const s of signals) process.on(s, stop)
  })
}
