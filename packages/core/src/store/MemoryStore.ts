import { Effect, Layer } from "effect"
import {
  type ControlRequest,
  type JournalEntry,
  type RolloutHeader,
  RolloutLocked,
  type JournalSnapshot,
  RolloutNotFound,
  RolloutStore,
  type RolloutStoreShape,
  StoreError
} from "./RolloutStore.js"

interface Slot {
  header: RolloutHeader
  /** The journal as written: one JSON array per append, parsed when read. */
  appends: string[]
  snapshot?: JournalSnapshot
  controls: ControlRequest[]
  owner: string | undefined
}

/**
 * In-memory store for tests and embedding. `makeMemoryStore` returns the shape itself so a test
 * can keep one store across a simulated crash and hand it to the resumed interpreter.
 */
export const makeMemoryStore = (): RolloutStoreShape & { readonly dump: () => ReadonlyMap<string, Slot> } => {
  const rollouts = new Map<string, Slot>()
  const slot = (rolloutId: string) =>
    Effect.suspend(() => {
      const s = rollouts.get(rolloutId)
      return s === undefined ? Effect.fail(new RolloutNotFound({ rolloutId })) : Effect.succeed(s)
    })
  return {
    dump: () => rollouts,
    create: (header) =>
      Effect.suspend(() => {
        if (rollouts.has(header.rolloutId)) {
          return Effect.fail(
            new StoreError({ rolloutId: header.rolloutId, operation: "create", message: "rollout already exists" })
          )
        }
        rollouts.set(header.rolloutId, { header, appends: [], controls: [], owner: undefined })
        return Effect.void
      }),
    append: (rolloutId, entries) =>
      slot(rolloutId).pipe(
        Effect.mapError((e) => new StoreError({ rolloutId, operation: "append", message: e.message })),
        Effect.map((s) => {
          // Kept as the JSON text, as a file journal keeps its bytes: nothing shared by reference
          // can change after the write, and a 100,000-target journal is one string per append
          // instead of a few objects per entry copied and then kept for the whole process.
          if (entries.length > 0) s.appends.push(JSON.stringify(entries))
        })
      ),
    read: (rolloutId) =>
      slot(rolloutId).pipe(
        Effect.map((s) => ({
          header: s.header,
          entries: s.appends.flatMap((text) => JSON.parse(text) as JournalEntry[]),
          ...(s.snapshot === undefined ? {} : { snapshot: s.snapshot })
        }))
      ),
    writeSnapshot: (rolloutId, snapshot) =>
      slot(rolloutId).pipe(
        Effect.mapError((e) => new StoreError({ rolloutId, operation: "writeSnapshot", message: e.message })),
        Effect.map((s) => {
          s.snapshot = JSON.parse(JSON.stringify(snapshot)) as JournalSnapshot
        })
      ),
    list: () => Effect.sync(() => [...rollouts.keys()].sort()),
    acquire: (rolloutId, owner) =>
      Effect.suspend((): Effect.Effect<void, StoreError | RolloutLocked> => {
        const s = rollouts.get(rolloutId)
        if (s === undefined)
          return Effect.fail(new StoreError({ rolloutId, operation: "acquire", message: "no such rollout" }))
        if (s.owner !== undefined && s.owner !== owner)
          return Effect.fail(new RolloutLocked({ rolloutId, owner: s.owner }))
        s.owner = owner
        return Effect.void
      }),
    release: (rolloutId, owner) =>
      Effect.sync(() => {
        const s = rollouts.get(rolloutId)
        if (s !== undefined && s.owner === owner) s.owner = undefined
      }),
    owner: (rolloutId) => Effect.sync(() => rollouts.get(rolloutId)?.owner),
    sendControl: (rolloutId, request) => slot(rolloutId).pipe(Effect.map((s) => void s.controls.push(request))),
    pendingControls: (rolloutId) => Effect.sync(() => [...(rollouts.get(rolloutId)?.controls ?? [])]),
    ackControls: (rolloutId, ids) =>
      Effect.sync(() => {
        const s = rollouts.get(rolloutId)
        if (s !== undefined) s.controls = s.controls.filter((c) => !ids.includes(c.id))
      })
  }
}

export const MemoryStoreLayer = (store: RolloutStoreShape = makeMemoryStore()) => Layer.succeed(RolloutStore, store)

/** A crash leaves the lease held by a dead owner; tests simulate that by forcing it free. */
export const forceRelease = (store: ReturnType<typeof makeMemoryStore>, rolloutId: string) => {
  const s = store.dump().get(rolloutId)
  if (s !== undefined) s.owner = undefined
}
