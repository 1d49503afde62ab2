/**
 * Every secret the edge holds in memory is registered here, so one call wipes them all.
 * The data path registers its identity key, STEKs, cache key and keyless client
 * credentials as Buffers/Uint8Arrays (never strings, which cannot be zeroised), plus
 * close hooks (close listeners, end the data path, exit). `wipe()` zeroises first,
 * synchronously, then runs the hooks: the secrets are gone even if a hook hangs.
 */

export type CloseHook = () => void | Promise<void>

/**
 * @example
 * ```ts
 * const secrets = new SecretRegistry()
 * const stek = secrets.register('stek:2026-11-25T02', randomBytes(32))
 * secrets.onWipe(() => new Promise((r) => server.close(() => r())))
 * await secrets.wipe() // stek is all zeros, server closed
 * ```
 */
export class SecretRegistry {
  readonly #secrets = new Map<string, Uint8Array>()
  readonly #hooks: { name: string; fn: CloseHook }[] = []
  #wiped = false

  get wiped(): boolean {
    return this.#wiped
  }

  /**
   * Registers `buf` under `name` and returns it. A later registration with the same
   * name zeroises the previous buffer (rotation). After a wipe, `buf` is zeroised and
   * the call throws: a bricked node takes no new secrets.
   */
  register<T extends Uint8Array>(name: string, buf: T): T {
    if (this.#wiped) {
      buf.fill(0)
      throw new Error(`Cannot register secret ${name}: the registry has been wiped`)
    }
    const old = this.#secrets.get(name)
    if (old !== undefined && old !== buf) old.fill(0)
    this.#secrets.set(name, buf)
    return buf
  }

  /** Zeroises and forgets one secret (its life ended normally, e.g. a retired STEK). */
  release(name: string): void {
    this.#secrets.get(name)?.fill(0)
    this.#secrets.delete(name)
  }

  get(name: string): Uint8Array | undefined {
    return this.#secrets.get(name)
  }

  /** Names of the registered secrets (for status and tests; never the bytes). */
  names(): string[] {
    return [...this.#secrets.keys()]
  }

  /** Registers a hook run after the zeroisation on wipe (close listeners, end data path). */
  onWipe(name: string, fn: CloseHook): void {
    this.#hooks.push({ name, fn })
  }

  /**
   * Zeroises every secret now (synchronously, before returning the promise), then runs
   * every hook, each isolated from the others' failures. Resolves to the hook errors.
   */
  wipe(): Promise<{ name: string; error: unknown }[]> {
    this.#wiped = true
    for (const buf of this.#secrets.values()) buf.fill(0)
    return this.#runHooks()
  }

  async #runHooks(): Promise<{ name: string; error: unknown }[]> {
    const errors: { name: string; error: unknown }[] = []
    await Promise.all(
      this.#hooks.map(async (h) => {
        try {
          await h.fn()
        } catch (error) {
          errors.push({ name: h.name, error })
        }
      }),
    )
    return errors
  }

  /** Makes the registry usable again after an operator re-admission. */
  reset(): void {
    for (const buf of this.#secrets.values()) buf.fill(0)
    this.#secrets.clear()
    this.#wiped = false
  }
}
