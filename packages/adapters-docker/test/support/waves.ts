/**
 * A minimal wave driver over the TargetAdapter contract, so the adapter's own tests can run waves,
 * health gates and rollbacks without the core interpreter (the end-to-end tests use the real one).
 */
import type { AdapterError, Artifact, HealthReport, Revision, Target, TargetAdapterShape } from "@sluice/core"
import { Effect } from "effect"
import { sleep } from "./engine.js"

export const artifactOf = (image: string, config?: Artifact["config"]): Artifact =>
  ({ image: { raw: image }, ...(config ? { config } : {}) }) as Artifact

/** Polls health until healthy or unhealthy (progressing keeps polling); undefined on timeout. */
export const waitHealth = async (
  adapter: TargetAdapterShape,
  target: Target,
  timeoutMs = 60_000
): Promise<HealthReport> => {
  const deadline = Date.now() + timeoutMs
  let last: HealthReport = { status: "progressing", reason: "not polled" }
  while (Date.now() < deadline) {
    last = await Effect.runPromise(adapter.health(target))
    if (last.status !== "progressing") return last
    await sleep(300)
  }
  return { status: "unhealthy", reason: `still progressing after ${timeoutMs}ms: ${last.reason}` }
}

const pool = async <A, B>(
  items: ReadonlyArray<A>,
  concurrency: number,
  fn: (a: A) => Promise<B>
): Promise<Array<B>> => {
  const out: Array<B> = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i] as A)
      }
    })
  )
  return out
}

export interface WaveRun {
  readonly completed: boolean
  readonly failedWave?: number
  readonly reason?: string
  readonly touched: ReadonlyArray<string>
  readonly previous: ReadonlyMap<string, Revision>
  readonly applied: ReadonlyMap<string, Revision>
}

/** Applies wave by wave; a wave must be all healthy before the next; on failure rolls back every touched target. */
export const rollWaves = async (
  adapter: TargetAdapterShape,
  waves: ReadonlyArray<ReadonlyArray<Target>>,
  artifact: Artifact,
  rolloutId: string,
  options: { concurrency?: number; mode?: "replace" | "surge"; healthTimeoutMs?: number } = {}
): Promise<WaveRun> => {
  const previous = new Map<string, Revision>()
  for (const t of waves.flat()) previous.set(t.id, (await Effect.runPromise(adapter.inspect(t))).revision)
  const touched: Array<string> = []
  const applied = new Map<string, Revision>()
  const byId = new Map(waves.flat().map((t) => [t.id, t]))
  for (const [i, wave] of waves.entries()) {
    const results = await pool(wave, options.concurrency ?? 2, async (t) => {
      touched.push(t.id)
      const r = await Effect.runPromiseExit(
        adapter.apply(t, artifact, { rolloutId, wave: i, mode: options.mode ?? "replace" })
      )
      if (r._tag === "Failure") return { t, ok: false, reason: String(r.cause) }
      applied.set(t.id, r.value)
      const h = await waitHealth(adapter, t, options.healthTimeoutMs)
      return { t, ok: h.status === "healthy", reason: h.reason ?? "" }
    })
    const bad = results.find((r) => !r.ok)
    if (bad) {
      for (const id of [...touched].reverse()) {
        const t = byId.get(id) as Target
        await Effect.runPromise(
          adapter.rollback(t, previous.get(id) as Revision, {
            rolloutId,
            ...(applied.has(id) ? { applied: applied.get(id) as Revision } : {})
          }) as Effect.Effect<void, AdapterError>
        )
        const h = await waitHealth(adapter, t)
        if (h.status !== "healthy") throw new Error(`rollback of ${id} is not healthy: ${h.reason}`)
      }
      return { completed: false, failedWave: i, reason: `${bad.t.id}: ${bad.reason}`, touched, previous, applied }
    }
  }
  await Effect.runPromise(adapter.finalize(touched.map((id) => byId.get(id) as Target)))
  return { completed: true, touched, previous, applied }
}
