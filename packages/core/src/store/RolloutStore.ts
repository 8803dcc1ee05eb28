import { Context, type Effect, Schema } from "effect"
import type { Revision } from "../domain/Target.js"
import type { Plan } from "../plan/Plan.js"
import type { RolloutConfig } from "../interpreter/RolloutConfig.js"
import type { Command, MachineEvent, MachineInput } from "../machine/types.js"

/** Everything needed to resume a rollout in another process, written once when it starts. */
export interface RolloutHeader {
  readonly rolloutId: string
  readonly createdAt: number
  /** The decoded spec as plain JSON (re-decoded on resume). */
  readonly spec: unknown
  /** The artifact image being rolled out. */
  readonly image: string
  readonly adapter: string
  readonly config: RolloutConfig
  readonly machineInput: MachineInput
  /** The plan, for `status`, the progress view and the audit trail. */
  readonly plan: Plan
  /** Each target's revision before the rollout touched it: what rollback restores. */
  readonly previous: Readonly<Record<string, Revision>>
}

/**
 * The journal is the source of truth: machine events in the order the machine consumed them, and
 * every command's intent written before the interpreter acts on it.
 */
export type JournalEntry =
  | { readonly kind: "event"; readonly at: number; readonly event: MachineEvent }
  | {
      readonly kind: "intent"
      readonly at: number
      readonly command: Command
      /** For timers: the absolute time it fires, so a resumed run keeps the original deadline. */
      readonly dueAt?: number
    }
  | { readonly kind: "applied"; readonly at: number; readonly targetId: string; readonly revision: Revision }
  /**
   * An operator control taken from the inbox: journaled first so a crash cannot lose it. `ignored`
   * says why it had no effect (it arrived after the rollout had finished): the sender reads it.
   */
  | { readonly kind: "control"; readonly at: number; readonly request: ControlRequest; readonly ignored?: string }

/**
 * A compaction point: the machine's state after every event among the first `seq` journal
 * entries (its context as `persistContext` writes it), and the commands then outstanding, each
 * naming only its unanswered targets. Resume replays only the events after it. A snapshot in an
 * older format (no `commands`) is ignored: resume then replays the whole journal.
 */
export interface JournalSnapshot {
  readonly seq: number
  readonly machine: { readonly value: unknown; readonly context: unknown }
  readonly commands?: ReadonlyArray<Command>
}

export interface StoredRollout {
  readonly header: RolloutHeader
  /** The whole journal (it is the audit trail too). */
  readonly entries: ReadonlyArray<JournalEntry>
  readonly snapshot?: JournalSnapshot
}

/** `PROMOTE_FULL`: promote and skip every later pause, approval and analysis (`promote --full`). */
export type ControlSignal = "PAUSE" | "RESUME" | "ABORT" | "APPROVE" | "PROMOTE" | "PROMOTE_FULL"
export interface ControlRequest {
  readonly id: string
  readonly signal: ControlSignal
  readonly at: number
  readonly reason?: string
}

/**
 * The pending controls a store found, as every store hands them to the interpreter: oldest first
 * by the request's own time (not where or how it was stored), ties by id, and a request id seen
 * twice (a copied file, a resent object) once.
 */
export const pendingInOrder = (found: Iterable<{ readonly request: ControlRequest }>): Array<ControlRequest> => {
  const seen = new Set<string>()
  const out: Array<ControlRequest> = []
  const sorted = [...found].sort(
    (a, b) => a.request.at - b.request.at || (a.request.id < b.request.id ? -1 : a.request.id > b.request.id ? 1 : 0)
  )
  for (const { request } of sorted) {
    if (seen.has(request.id)) continue
    seen.add(request.id)
    out.push(request)
  }
  return out
}

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  rolloutId: Schema.String,
  operation: Schema.String,
  message: Schema.String,
  /** The stored file or directory concerned, when there is one. */
  path: Schema.optional(Schema.String),
  /** The underlying failure (a platform error, a lease error). */
  cause: Schema.optional(Schema.Defect())
}) {}

export class RolloutNotFound extends Schema.TaggedError<RolloutNotFound>()("RolloutNotFound", {
  rolloutId: Schema.String
}) {}

/** Another live process owns the rollout (single writer). */
export class RolloutLocked extends Schema.TaggedError<RolloutLocked>()("RolloutLocked", {
  rolloutId: Schema.String,
  owner: Schema.String
}) {}

export interface RolloutStoreShape {
  /** Fails with StoreError if the id already exists. */
  readonly create: (header: RolloutHeader) => Effect.Effect<void, StoreError>
  /** Durable when it returns (the file store fsyncs). */
  readonly append: (rolloutId: string, entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void, StoreError>
  readonly read: (rolloutId: string) => Effect.Effect<StoredRollout, StoreError | RolloutNotFound>
  /** Replaces the rollout's snapshot atomically (old or new, never torn). */
  readonly writeSnapshot: (rolloutId: string, snapshot: JournalSnapshot) => Effect.Effect<void, StoreError>
  readonly list: () => Effect.Effect<ReadonlyArray<string>, StoreError>
  /** Single-writer lease for a rollout; released when the returned effect's scope closes. */
  readonly acquire: (rolloutId: string, owner: string) => Effect.Effect<void, StoreError | RolloutLocked>
  readonly release: (rolloutId: string, owner: string) => Effect.Effect<void, StoreError>
  /** Who holds the lease now, if anyone alive does. */
  readonly owner: (rolloutId: string) => Effect.Effect<string | undefined, StoreError>
  /**
   * Breaks a lease whose holder stopped heartbeating (its host is gone, say), so another process
   * can take the rollout over; refused (RolloutLocked) while the holder's heartbeat is fresh.
   * Returns the holder it broke, or `undefined` when nobody held it. Optional: stores whose lease
   * expires on its own need not offer it.
   */
  readonly forceUnlock?: (
    rolloutId: string,
    by: string
  ) => Effect.Effect<string | undefined, StoreError | RolloutNotFound | RolloutLocked>
  /** Operator controls from another process, picked up by the running interpreter. */
  readonly sendControl: (
    rolloutId: string,
    request: ControlRequest
  ) => Effect.Effect<void, StoreError | RolloutNotFound>
  /** Controls not yet acknowledged, oldest first. Reading does not remove them. */
  readonly pendingControls: (rolloutId: string) => Effect.Effect<ReadonlyArray<ControlRequest>, StoreError>
  /** Removes controls once the interpreter has journaled them (so a crash in between loses none). */
  readonly ackControls: (rolloutId: string, ids: ReadonlyArray<string>) => Effect.Effect<void, StoreError>
}

export class RolloutStore extends Context.Service<RolloutStore, RolloutStoreShape>()(
  "@sluice/core/store/RolloutStore"
) {}
