/** Polling helpers. They never assert durations: a timeout only bounds how long a test may hang. */

const NOT_YET: unique symbol = Symbol("notYet")

/** Returned by a waitFor probe to say "not yet"; `observed` is shown if the wait times out. */
export interface NotYet {
  readonly [NOT_YET]: true
  readonly observed: unknown
}

export const notYet = (observed?: unknown): NotYet => ({ [NOT_YET]: true, observed })

const isNotYet = (value: unknown): value is NotYet => typeof value === "object" && value !== null && NOT_YET in value

export interface WaitOptions {
  /** Upper bound before failing (default 45 s). Not an assertion about speed. */
  readonly timeoutMs?: number
  /** Delay between probes (default 250 ms). */
  readonly intervalMs?: number
}

/**
 * Polls `probe` until it returns something other than `notYet(...)`, and returns that value.
 * Errors thrown by the probe are retried too (the last one is reported on timeout).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | NotYet> | T | NotYet,
  options: WaitOptions = {}
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 45_000
  const intervalMs = options.intervalMs ?? 250
  const deadline = Date.now() + timeoutMs
  let last: unknown = "(not probed yet)"
  for (;;) {
    try {
      const value = await probe()
      if (!isNotYet(value)) return value
      last = value.observed
    } catch (error) {
      last = error instanceof Error ? `${error.name}: ${error.message}` : error
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last observed: ${describe(last)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}
