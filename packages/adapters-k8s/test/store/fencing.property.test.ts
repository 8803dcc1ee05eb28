/**
 * Fencing as a property, on the real apiserver: random takeovers among three stores (the lease made
 * to look expired, as when its holder pauses, then taken by another store), each round followed by
 * concurrent appends from every store, stale holders included. Whatever the schedule, the journal
 * holds exactly the appends that succeeded, and their generations never go down: no writer appended
 * after a newer holder's fence.
 */
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node"
import type { RolloutStoreShape } from "@sluice/core"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { beforeAll, expect, it } from "vitest"
import { describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { event, header, openStore, run } from "./support/store.js"

// Each run is a few dozen requests to a real apiserver: its own knob, not the model tests' 1,000.
const RUNS = Number(process.env.SLUICE_STORE_PROPERTY_RUNS ?? 8)

describeWithCluster("fencing property: stale writers never append after a takeover", () => {
  const namespace = useTestNamespace("sluice-store-fencing")
  let stores: RolloutStoreShape[] = []
  beforeAll(async () => {
    // A long lease: the holders' renewals do not run during a property run.
    stores = await Promise.all(
      [0, 1, 2].map((i) => openStore(namespace(), { identity: `s${i}`, leaseDurationSeconds: 120 }))
    )
  })
  const coordination = () => kube().config.makeApiClient(CoordinationV1Api)

  /** The holder "pauses": its lease now looks long expired to everyone else. */
  const expire = async (rolloutId: string) => {
    const name = `sluice-${rolloutId}`
    const lease = await coordination().readNamespacedLease({ name, namespace: namespace() })
    const past = new V1MicroTime(Date.now() - 3_600_000)
    lease.spec = { ...lease.spec, renewTime: past, acquireTime: past }
    await coordination().replaceNamespacedLease({ name, namespace: namespace(), body: lease })
  }
  const generation = async (rolloutId: string) =>
    (await coordination().readNamespacedLease({ name: `sluice-${rolloutId}`, namespace: namespace() })).spec
      ?.leaseTransitions ?? 0

  let n = 0
  it("the journal holds exactly the appends that succeeded, in non-decreasing generations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            taker: fc.integer({ min: 0, max: 2 }),
            writers: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 })
          }),
          { minLength: 1, maxLength: 5 }
        ),
        async (rounds) => {
          const id = `prop-${n++}`
          await run(stores[0]!.create(header(id)))
          // owner per store of its current (possibly stale) lease, if any
          const owners: Array<string | undefined> = [undefined, undefined, undefined]
          const succeeded: string[] = []
          for (const [r, round] of rounds.entries()) {
            const taker = stores[round.taker]!
            if (owners[round.taker] === undefined || r > 0) {
              // A stale lease of the taker's own (its run failed) is released first, as the
              // interpreter does when a run ends; a release of a taken-over lease changes nothing.
              if (owners[round.taker] !== undefined) await run(taker.release(id, owners[round.taker]!))
              owners[round.taker] = undefined
              if (r > 0) await expire(id)
              await run(taker.read(id))
              await run(taker.acquire(id, `o-${r}`))
              owners[round.taker] = `o-${r}`
            }
            const gen = await generation(id)
            const results = await Promise.all(
              round.writers.map((w, k) =>
                Effect.runPromise(Effect.result(stores[w]!.append(id, [event(r, `${w}:${gen}:${r}:${k}`)])))
              )
            )
            for (const [k, res] of results.entries()) {
              const w = round.writers[k]!
              if (Result.isSuccess(res)) succeeded.push(`${w}:${gen}:${r}:${k}`)
              // Only the store that took the lease this round can write.
              expect(Result.isSuccess(res), `store ${w} in round ${r} (taker ${round.taker})`).toBe(w === round.taker)
            }
          }
          const journal = (await run(stores[1]!.read(id))).entries.map((e) =>
            e.kind === "event" && e.event.type === "ABORT" ? (e.event.reason ?? "") : ""
          )
          expect([...journal].sort()).toEqual([...succeeded].sort())
          const generations = journal.map((l) => Number(l.split(":")[1]))
          for (let i = 1; i < generations.length; i++)
            expect(generations[i]!).toBeGreaterThanOrEqual(generations[i - 1]!)
          for (const [i, o] of owners.entries()) if (o !== undefined) await run(stores[i]!.release(id, o))
        }
      ),
      { numRuns: RUNS }
    )
  }, 300_000)
})
