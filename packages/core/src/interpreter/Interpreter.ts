import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { Cause, Clock, Effect, Option, Queue, Schema, Stream } from "effect"
import { MetricsProvider } from "../adapter/MetricsProvider.js"
import { type AdapterError, TargetAdapter } from "../adapter/TargetAdapter.js"
import type { Revision, Target } from "../domain/Target.js"
import { EventSink } from "../events/RolloutEvent.js"
import { countsOf, persistContext, progressOf, touchedOf } from "../machine/progress.js"
import { type RolloutSnapshot, outcomeOf } from "../machine/rolloutMachine.js"
import { Flag } from "../machine/status.js"
import { indexOf } from "../machine/steps.js"
import type { Command, DeniedTarget, MachineEvent, MachineInput, Note, Outcome } from "../machine/types.js"
import type { Inventory, Plan } from "../plan/Plan.js"
import { PolicyEngine, ScanReportSource } from "../policy/PolicyEngine.js"
import { SignatureVerifier } from "../policy/SignatureVerifier.js"
import { isSameImage } from "../spec/ImageRef.js"
import {
  type JournalEntry,
  type RolloutHeader,
  type RolloutLocked,
  type JournalSnapshot as StoredSnapshot,
  type RolloutNotFound,
  RolloutStore,
  type StoreError
} from "../store/RolloutStore.js"
import { failureMessage, makeAdapterCall } from "./adapterCall.js"
import { controlEvent, makeControlInbox } from "./controls.js"
import { makeEmitter } from "./emitter.js"
import { resolveArtifactDigest } from "./artifactDigest.js"
import { makeGates, summarize } from "./gates.js"
import { makeSignatureGate } from "./signatureGate.js"
import { makeAnalysis } from "./analysis.js"
import { logNote } from "./logs.js"
import { makeHealthCheck } from "./health.js"
import { makeCommandRunner } from "./runner.js"
import { makeTargetOps } from "./targetOps.js"
import { makeJournal, replay } from "./journal.js"
import { outstandingCommands, track } from "./outstanding.js"
import { forEachPooled } from "./pool.js"
import type { RolloutConfig } from "./RolloutConfig.js"
import { RolloutMetrics } from "../telemetry/RolloutMetrics.js"
import { makeRolloutTracing, type RolloutTracing } from "../telemetry/RolloutTracing.js"

export { replay } from "./journal.js"

export interface RolloutResult {
  readonly rolloutId: string
  readonly outcome: Outcome
  readonly reason?: string
  readonly touched: ReadonlyArray<string>
  readonly updated: ReadonlyArray<string>
  readonly rolledBack: ReadonlyArray<string>
  readonly rollbackFailed: ReadonlyArray<string>
  /** Targets that failed within the failure budget (`topology.maxFailuresPerGroup`), each rolled back on its own. */
  readonly failedWithinBudget?: ReadonlyArray<string>
  /** Gate violations that blocked the rollout (or a wave), per target and container. */
  readonly violations: ReadonlyArray<DeniedTarget>
  /** What the adapter's `conclude` restored or left alone (adapters that have one). */
  readonly concluded?: { readonly ok: boolean; readonly notes: ReadonlyArray<string> }
}

export class RolloutError extends Schema.TaggedError<RolloutError>()("RolloutError", {
  rolloutId: Schema.String,
  message: Schema.String
}) {}

export type InterpreterError = RolloutError | AdapterError | StoreError | RolloutNotFound | RolloutLocked

/**
 * Discovers the targets and inspects each: the inventory the planner works from, and each target's
 * revision (what a rollback restores). The inspected workloads are dropped as each inspect returns:
 * at 100,000 targets they are most of the memory discovery would otherwise hold (the gates inspect
 * again when they run).
 */
export const discoverInventory = (config: RolloutConfig) =>
  Effect.gen(function* () {
    const adapter = yield* TargetAdapter
    const targets = yield* adapter.discover(config.selector)
    const states = yield* forEachPooled(
      targets,
      (t) => Effect.map(adapter.inspect(t), (s) => ({ target: s.target, revision: s.revision })),
      config.operations.concurrency
    )
    const inventory: Inventory = states.map((s) => ({
      target: s.target,
      image: s.revision.image,
      ...(s.revision.configHash === undefined ? {} : { configHash: s.revision.configHash })
    }))
    return { inventory, states }
  })

/**
 * The inventory as the caller's planner must see it when the tag was resolved to a digest: the
 * planner compares each target's image with the spec's reference (`repo:tag`), but the rollout
 * deploys `repo:tag@sha256:…`, so a target already running exactly that is shown running the
 * spec's reference (up to date, left alone); any other (another digest) stays as it is.
 */
const plannable = (inventory: Inventory, config: RolloutConfig): Inventory => {
  const resolved = config.artifactDigest
  if (resolved?.source !== "registry") return inventory
  const image = config.artifact.image
  return inventory.map((item) => (isSameImage(image, item.image) ? { ...item, image: resolved.reference } : item))
}

const machineInputFor = (plan: Plan, config: RolloutConfig): MachineInput => ({
  waves: plan.waves.map((w) => ({
    index: w.index,
    targets: w.targets,
    maxUnavailable: w.maxUnavailable,
    maxSurge: w.maxSurge,
    ...(w.pauseAfter === undefined ? {} : { pauseAfter: w.pauseAfter }),
    analysis: w.analysis.map((a) => a.name),
    approvalBefore: w.approvalBefore
  })),
  rollback: config.rollback,
  progressDeadlineMs: config.health.progressDeadlineMs,
  // Rollbacks take targets down too, so they get the budget of the widest wave: as many at once
  // as the rollout itself took down (500 targets took 68 s to roll back against 18 s forward when
  // this was capped by the adapter-call concurrency), and never more than maxInFlight.
  rollbackConcurrency: Math.max(
    1,
    Math.min(
      config.maxInFlight ?? Number.POSITIVE_INFINITY,
      plan.waves.reduce((widest, w) => Math.max(widest, w.maxUnavailable), 1)
    )
  ),
  ...(config.maxInFlight === undefined ? {} : { maxInFlight: config.maxInFlight }),
  ...(plan.maxFailuresPerGroup === undefined ? {} : { failureBudget: failureBudgetOf(plan, plan.maxFailuresPerGroup) })
})

/** The plan's failure budget for the machine: each target's group (its `groupKey` label) when there is one. */
const failureBudgetOf = (plan: Plan, perGroup: number): NonNullable<MachineInput["failureBudget"]> => {
  const key = plan.groupKey
  if (key === undefined) return { perGroup }
  const groupOf: Record<string, string> = {}
  for (const t of plan.targets) groupOf[t.id] = t.labels[key] ?? ""
  return { perGroup, groupOf }
}

export interface StartOptions {
  readonly config: RolloutConfig
  /** The spec document as given (after overlays), kept in the journal for audit and `status`. */
  readonly spec: unknown
  readonly plan: (inventory: Inventory) => Plan
  readonly owner?: string
}

const defaultOwner = () => `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`

/**
 * Plans and runs a rollout to a final outcome. Requires a TargetAdapter and a RolloutStore; uses a
 * PolicyEngine, ScanReportSource, MetricsProvider and EventSink when provided.
 */
export const startRollout = (options: StartOptions) =>
  Effect.gen(function* () {
    const header = yield* headerFor(options)
    yield* (yield* RolloutStore).create(header)
    return yield* drive(header, [], options.owner ?? defaultOwner())
  })

/**
 * Discovers, plans and builds the rollout's header. Its own generator, so that what only planning
 * needs (the inventory, every inspected revision) is garbage before the rollout runs: a generator
 * keeps its locals for as long as it runs, and startRollout's runs the whole rollout.
 */
const headerFor = (options: StartOptions) =>
  Effect.gen(function* () {
    // The artifact's digest, before any gate: the rollout deploys by it and the header records it.
    const config = yield* resolveArtifactDigest(options.config, yield* TargetAdapter).pipe(
      Effect.mapError((p) => new RolloutError({ rolloutId: options.config.rolloutId, message: p.message }))
    )
    // Only the revisions outlive discovery: the inspected workloads (the largest part of a
    // target's state) are garbage as soon as the inventory is built, not for the whole rollout.
    const { inventory, states } = yield* discoverInventory(config)
    const plan = options.plan(plannable(inventory, config))
    // What each planned target runs now is what rollback restores: the inspect that built the
    // inventory already read it.
    const previous = previousOf(states, plan)
    if (typeof previous === "string") {
      return yield* new RolloutError({ rolloutId: config.rolloutId, message: `plan names unknown target ${previous}` })
    }
    const header: RolloutHeader = {
      rolloutId: config.rolloutId,
      createdAt: yield* Clock.currentTimeMillis,
      spec: options.spec,
      image: config.artifact.image.raw,
      adapter: config.adapter,
      config,
      machineInput: machineInputFor(plan, config),
      plan,
      previous
    }
    return header
  })

/**
 * Each planned target's inspected revision, or the first planned id discovery did not find. Index
 * loops outside a generator: for-of in one builds an iterator result per target.
 */
const previousOf = (
  states: ReadonlyArray<{ readonly target: Target; readonly revision: Revision }>,
  plan: Plan
): Record<string, Revision> | string => {
  const revisions = new Map<string, Revision>()
  for (let i = 0; i < states.length; i++) revisions.set(states[i]!.target.id, states[i]!.revision)
  const previous: Record<string, Revision> = {}
  for (let w = 0; w < plan.waves.length; w++) {
    const ids = plan.waves[w]!.targets
    for (let i = 0; i < ids.length; i++) {
      const revision = revisions.get(ids[i]!)
      if (revision === undefined) return ids[i]!
      previous[ids[i]!] = revision
    }
  }
  return previous
}

/** The plan's targets by id: filled in a loop, not from 100,000 [id, target] pairs. */
const targetsById = (targets: ReadonlyArray<Target>): Map<string, Target> => {
  const byId = new Map<string, Target>()
  for (let i = 0; i < targets.length; i++) byId.set(targets[i]!.id, targets[i]!)
  return byId
}

/** The targets of `ids` that `byId` knows, in order (index loops, one array of the right size). */
const targetsOf = (byId: ReadonlyMap<string, Target>, ids: ReadonlyArray<string>): Target[] => {
  const out = new Array<Target>(ids.length)
  let at = 0
  for (let i = 0; i < ids.length; i++) {
    const t = byId.get(ids[i]!)
    if (t !== undefined) out[at++] = t
  }
  out.length = at
  return out
}

/** Continues a rollout from its journal, e.g. after the process running it crashed. */
export const resumeRollout = (rolloutId: string, owner?: string) =>
  Effect.gen(function* () {
    const store = yield* RolloutStore
    const stored = yield* store.read(rolloutId)
    return yield* drive(stored.header, stored.entries, owner ?? defaultOwner(), stored.snapshot)
  })

/** Reconstructs a rollout's state from the store without running anything. */
export const inspectRollout = (rolloutId: string) =>
  Effect.gen(function* () {
    const store = yield* RolloutStore
    const stored = yield* store.read(rolloutId)
    const { snapshot, outstanding, violations } = replay(stored.header.machineInput, stored.entries, stored.snapshot)
    return {
      header: stored.header,
      entries: stored.entries,
      snapshot,
      progress: progressOf(snapshot.context),
      outstanding,
      result: resultOf(stored.header, snapshot, violations)
    }
  })

const resultOf = (
  header: RolloutHeader,
  snapshot: RolloutSnapshot,
  violations: ReadonlyArray<DeniedTarget>
): RolloutResult | undefined => {
  const outcome = outcomeOf(snapshot)
  if (outcome === undefined) return undefined
  const ctx = snapshot.context
  const progress = progressOf(ctx)
  return {
    rolloutId: header.rolloutId,
    outcome,
    ...(ctx.failure === undefined ? {} : { reason: ctx.failure.reason }),
    touched: progress.touched,
    updated: progress.updated,
    rolledBack: progress.rolledBack,
    rollbackFailed: progress.rollbackFailed,
    ...(progress.failedWithinBudget.length === 0 ? {} : { failedWithinBudget: progress.failedWithinBudget }),
    violations
  }
}

/**
 * Merges adjacent outcomes of the same kind into one event: outcomes that arrive together are
 * consumed by one transition and journaled as one entry.
 */
const coalesce = (events: ReadonlyArray<MachineEvent>): MachineEvent[] => {
  const out: MachineEvent[] = []
  let ids: string[] | undefined
  let failures: Array<{ readonly targetId: string; readonly reason: string }> | undefined
  for (const e of events) {
    const last = out[out.length - 1]
    if (e.type === "TARGETS_HEALTHY" || e.type === "TARGETS_ROLLED_BACK") {
      if (last?.type === e.type && ids !== undefined) {
        ids.push(...e.targetIds)
        continue
      }
      ids = [...e.targetIds]
      out.push({ type: e.type, targetIds: ids })
      failures = undefined
    } else if (e.type === "TARGETS_ROLLBACK_FAILED") {
      if (last?.type === e.type && failures !== undefined) {
        failures.push(...e.failures)
        continue
      }
      failures = [...e.failures]
      out.push({ type: e.type, failures })
      ids = undefined
    } else {
      out.push(e)
      ids = undefined
      failures = undefined
    }
  }
  return out
}

// The run's spans outlive its own scope: the rollout's span ends after the run released its lease.
const drive = (header: RolloutHeader, entries: ReadonlyArray<JournalEntry>, owner: string, from?: StoredSnapshot) =>
  Effect.scoped(
    Effect.flatMap(makeRolloutTracing(header, entries.length > 0), (tracing) =>
      tracing.inRollout(runOf(header, entries, owner, tracing, from))
    )
  ).pipe(Effect.annotateLogs({ rolloutId: header.rolloutId }))

const runOf = (
  header: RolloutHeader,
  entries: ReadonlyArray<JournalEntry>,
  owner: string,
  tracing: RolloutTracing,
  from?: StoredSnapshot
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* RolloutStore
      const adapter = yield* TargetAdapter
      const policy = Option.getOrUndefined(yield* Effect.serviceOption(PolicyEngine))
      const scans = Option.getOrUndefined(yield* Effect.serviceOption(ScanReportSource))
      const verifier = Option.getOrUndefined(yield* Effect.serviceOption(SignatureVerifier))
      const metrics = Option.getOrUndefined(yield* Effect.serviceOption(MetricsProvider))
      const sink = Option.getOrUndefined(yield* Effect.serviceOption(EventSink))
      const { config, rolloutId } = header
      const telemetry = Option.getOrUndefined(yield* Effect.serviceOption(RolloutMetrics))
      const events = makeEmitter(rolloutId, sink, telemetry, tracing)
      const call = makeAdapterCall(config.operations, events, telemetry)

      yield* store.acquire(rolloutId, owner)
      yield* Effect.addFinalizer(() => Effect.ignore(store.release(rolloutId, owner)))

      // Handlers that cannot journal (the store failed) fail the queue, and with it the run:
      // continuing without write-ahead would break crash safety.
      const queue = yield* Queue.unbounded<MachineEvent, StoreError>()
      // The first background failure; checked again after the loop, since the machine may reach
      // its final state while a background write is failing (the run must not report success).
      let fatal: Cause.Cause<StoreError> | undefined
      const failRun = (cause: Cause.Cause<StoreError>) =>
        Effect.suspend(() => {
          fatal ??= cause
          return Queue.failCause(queue, cause)
        })
      // The ids of the last event queued when it is a TARGETS_HEALTHY the loop has not taken yet: a
      // target healthy right after it joins that event. Events that arrive together are consumed
      // together anyway (see coalesce), and a 10,000-target wave healthy at once no longer keeps
      // 10,000 events alive until the loop takes them. Any other event closes it, so the order of
      // events is the order they were sent in.
      let healthy: string[] | undefined
      const send = (event: MachineEvent) =>
        Effect.sync(() => {
          if (event.type !== "TARGETS_HEALTHY") {
            healthy = undefined
            Queue.offerUnsafe(queue, event)
          } else if (healthy !== undefined) {
            for (const id of event.targetIds) healthy.push(id)
          } else {
            healthy = [...event.targetIds]
            Queue.offerUnsafe(queue, { type: "TARGETS_HEALTHY", targetIds: healthy })
          }
        })
      const journal = yield* makeJournal(store, rolloutId, entries.length, failRun, telemetry)

      const replayed = replay(header.machineInput, entries, from)
      let snapshot = replayed.snapshot
      const outstanding = replayed.outstanding
      const timerDue = new Map(replayed.timerDue)
      // When a target last became healthy (the progress deadline counts from it).
      let lastProgressAt = replayed.lastProgressAt
      /** When a progress deadline due at `due` fires: no earlier than the deadline after the last progress. */
      const deadlineAt = (due: number) =>
        lastProgressAt === undefined ? due : Math.max(due, lastProgressAt + config.health.progressDeadlineMs)
      if (entries.length > 0 && replayed.lastAliveAt !== undefined) {
        // Time with no process running the rollout does not count against its progress deadline:
        // each deadline moves on by how long the rollout was left alone (the re-issued timer intent
        // records the moved time, so a second crash starts from it).
        const away = Math.max(0, (yield* Clock.currentTimeMillis) - replayed.lastAliveAt)
        for (const id of replayed.deadlineTimers) timerDue.set(id, deadlineAt(timerDue.get(id)!) + away)
        lastProgressAt = undefined
      }
      // The replay's own (nothing else keeps it): a resumed 100,000-target run holds one copy.
      const applied = replayed.applied
      const violations = [...replayed.violations]
      const targets = targetsById(header.plan.targets)
      const topologyKey = header.plan.topologyKey
      const topologyOf = (id: string) =>
        topologyKey === undefined ? undefined : (targets.get(id)?.labels[topologyKey] ?? "")
      const gates = makeGates({ config, adapter, policy, scans, call, events, targets })
      const signatureGate = makeSignatureGate({ config, trust: config.gates.signature, verifier, events })
      const verify = makeHealthCheck({ adapter, health: config.health, call, events, topologyOf })
      const ops = makeTargetOps({
        header,
        adapter,
        call,
        events,
        verify,
        journal,
        applied,
        targets,
        topologyOf,
        send,
        tracing
      })

      const analysis = makeAnalysis({ header, metrics, events, send, targets })
      const runner = yield* makeCommandRunner(failRun)
      let batchSeq = 0

      const handlers = {
        validate: Effect.fn("Interpreter.validate")(function* () {
          const surge = header.plan.waves.some((w) => w.kind === "preview")
          if (surge && !adapter.capabilities.surge) {
            return yield* send({
              type: "INVALID",
              reason: `the ${adapter.name} adapter cannot run a blue-green preview (no surge capability)`
            })
          }
          const unknown = header.plan.waves.flatMap((w) => w.targets).filter((id) => !targets.has(id))
          if (unknown.length > 0)
            return yield* send({ type: "INVALID", reason: `plan names unknown targets: ${unknown.join(", ")}` })
          const refused = adapter.validatePlan?.(header.plan)
          if (refused !== undefined) return yield* send({ type: "INVALID", reason: refused })
          yield* send({ type: "VALIDATED" })
        }),
        // The signature gate first: an image nobody vouched for is not even inspected against the
        // policies. It is decided once, here: every wave deploys the digest it verified.
        evaluateGates: () =>
          signatureGate.check.pipe(
            Effect.flatMap((signed) =>
              signed.denied.length > 0
                ? send({
                    type: "GATES_DENIED",
                    reason: `blocked by gates: ${summarize(signed.denied)}`,
                    violations: signed.denied
                  })
                : gates
                    .check(
                      header.plan.waves.flatMap((w) => w.targets),
                      undefined
                    )
                    .pipe(
                      Effect.flatMap((violations) =>
                        violations.length === 0
                          ? send(
                              signed.verdict === undefined
                                ? { type: "GATES_PASSED" }
                                : { type: "GATES_PASSED", signature: signed.verdict }
                            )
                          : send({
                              type: "GATES_DENIED",
                              reason: `blocked by gates: ${summarize(violations)}`,
                              violations
                            })
                      )
                    )
            ),
            Effect.catch((e: AdapterError) =>
              send({
                type: "GATES_DENIED",
                reason: `gate could not inspect targets (fail closed): ${failureMessage(e)}`
              })
            ),
            tracing.inRun("sluice.gates", { "sluice.gate.scope": "preflight" })
          ),
        checkWave: (wave: number) =>
          gates.check(header.machineInput.waves[wave]?.targets ?? [], wave).pipe(
            Effect.flatMap((violations) =>
              violations.length === 0
                ? send({ type: "WAVE_CHECKED", wave })
                : send({
                    type: "WAVE_DENIED",
                    wave,
                    reason: `wave ${wave} blocked by gates: ${summarize(violations)}`,
                    violations
                  })
            ),
            Effect.catch((e: AdapterError) =>
              send({
                type: "WAVE_DENIED",
                wave,
                reason: `wave ${wave} re-check failed (fail closed): ${failureMessage(e)}`
              })
            ),
            tracing.inWave(wave, "sluice.gates", { "sluice.gate.scope": "wave" })
          ),
        updateTargets: (wave: number, ids: ReadonlyArray<string>) =>
          ops.update(wave, ids).pipe(tracing.inWave(wave, "sluice.update", { "sluice.batch.targets": ids.length })),
        rollbackTargets: (ids: ReadonlyArray<string>) =>
          ops.rollback(ids).pipe(tracing.inRollback("sluice.rollback.batch", { "sluice.batch.targets": ids.length })),
        runAnalysis: (wave: number, names: ReadonlyArray<string>) =>
          analysis(wave, names).pipe(
            tracing.inWave(wave, "sluice.analysis", { "sluice.analysis.names": names.join(",") })
          ),
        finalize: Effect.fn("Interpreter.finalize")(function* () {
          const touched = targetsOf(targets, touchedOf(snapshot.context))
          yield* call("finalize", undefined, adapter.finalize(touched)).pipe(
            Effect.catch((e) =>
              events.emit({
                type: "retrying",
                operation: "finalize",
                message: `cleanup failed, left for later: ${e.message}`
              })
            )
          )
          yield* send({ type: "FINALIZED" })
        }),
        /**
         * A pause fires at its due time. A progress deadline fires when the wave has made no
         * progress for that long: its due time moves on to the last target healthy plus the
         * deadline, as Kubernetes' and Argo's progressDeadlineSeconds do.
         */
        timer: (timerId: string, purpose: "deadline" | "pause") =>
          Effect.gen(function* () {
            while (true) {
              const now = yield* Clock.currentTimeMillis
              const due = timerDue.get(timerId) ?? now
              const effective = purpose === "deadline" ? deadlineAt(due) : due
              if (now >= effective) break
              yield* Effect.sleep(effective - now)
            }
            yield* send({ type: "TIMER_FIRED", timerId })
          })
      }

      const noteEvent = (note: Note) => Effect.andThen(logNote(note, header.plan.waves.length), publishNote(note))
      const publishNote = (note: Note) => {
        if (!events.enabled) return Effect.void
        switch (note.kind) {
          case "waveStarted": {
            const byTopology: Record<string, number> = {}
            for (const id of header.machineInput.waves[note.wave]?.targets ?? []) {
              const key = topologyOf(id) ?? "all"
              byTopology[key] = (byTopology[key] ?? 0) + 1
            }
            return events.emit({ type: "waveStarted", wave: note.wave, targets: note.targets, byTopology })
          }
          case "waveHealthy":
            return events.emit({ type: "waveHealthy", wave: note.wave })
          case "awaitingApproval":
            return events.emit({ type: "awaitingApproval", wave: note.wave })
          case "paused":
            return events.emit({ type: "paused", wave: note.wave, reason: note.reason })
          case "resumed":
            return events.emit({ type: "resumed", wave: note.wave })
          case "rollbackStarted":
            return events.emit({ type: "rollbackStarted", reason: note.reason, targets: note.targets })
          case "finished": {
            const counts = countsOf(snapshot.context)
            return Effect.flatMap(Clock.currentTimeMillis, (now) =>
              events.emit({
                type: "finished",
                outcome: note.outcome,
                ...(note.reason === undefined ? {} : { reason: note.reason }),
                updated: counts.updated,
                rolledBack: counts.rolledBack,
                touched: counts.touched,
                durationMs: now - header.createdAt
              })
            )
          }
        }
      }

      /** The intents of commands, to be durable before anything acts on them. */
      const intentsOf = (commands: ReadonlyArray<Command>, now: number, into: JournalEntry[]) => {
        for (const c of commands) {
          if (
            c.kind === "notify" ||
            c.kind === "cancelUpdates" ||
            c.kind === "cancelTimer" ||
            c.kind === "cancelAnalysis"
          )
            continue
          if (c.kind === "startTimer") {
            const dueAt = timerDue.get(c.timerId) ?? now + c.ms
            timerDue.set(c.timerId, dueAt)
            into.push({ kind: "intent", at: now, command: c, dueAt })
          } else {
            into.push({ kind: "intent", at: now, command: c })
          }
        }
        return into
      }

      /** Runs commands whose intents are already journaled. */
      const act = (commands: ReadonlyArray<Command>) =>
        Effect.forEach(
          commands,
          (c): Effect.Effect<void> => {
            switch (c.kind) {
              case "notify":
                return noteEvent(c.note)
              case "cancelUpdates":
                return runner.cancelWhere("update:")
              case "cancelTimer":
                return runner.cancel(`timer:${c.timerId}`)
              case "cancelAnalysis":
                return runner.cancel(`analysis:${c.wave}`)
              case "startTimer":
                return runner.run(`timer:${c.timerId}`, handlers.timer(c.timerId, c.purpose))
              case "validate":
                return runner.run("validate", handlers.validate())
              case "evaluateGates":
                return runner.run("gates", handlers.evaluateGates())
              case "checkWave":
                return runner.run(`check:${c.wave}`, handlers.checkWave(c.wave))
              case "updateTargets":
                return runner.run(`update:${c.wave}:${batchSeq++}`, handlers.updateTargets(c.wave, c.targetIds))
              case "rollbackTargets":
                return runner.run(`rollback:${batchSeq++}`, handlers.rollbackTargets(c.targetIds))
              case "runAnalysis":
                return runner.run(`analysis:${c.wave}`, handlers.runAnalysis(c.wave, c.analysis))
              case "finalize":
                return runner.run("finalize", handlers.finalize())
            }
          },
          { discard: true }
        )

      /**
       * Feeds events to the machine and journals them with the intents of the commands they caused,
       * in one write (group commit), before any of it acts; returns those commands. Events that
       * arrive after the final state are not consumed, so not journaled.
       */
      const consume = (events: ReadonlyArray<MachineEvent>) =>
        Effect.gen(function* () {
          if (events.length === 0) return [] as Command[]
          const now = yield* Clock.currentTimeMillis
          const batch: JournalEntry[] = []
          const commands: Command[] = []
          for (const event of events) {
            if (snapshot.status === "done") break
            batch.push({ kind: "event", at: now, event })
            if (event.type === "TARGETS_HEALTHY") lastProgressAt = now
            if ((event.type === "GATES_DENIED" || event.type === "WAVE_DENIED") && event.violations !== undefined)
              violations.push(...event.violations)
            const [next, answered] = replayed.stepper.step(snapshot, event)
            snapshot = next
            track(outstanding, event, answered)
            intentsOf(answered, now, batch)
            for (const c of answered) commands.push(c)
          }
          yield* journal.append(batch)
          return commands
        })

      // A function, not a narrowed expression: `consume` moves the snapshot on.
      const finished = () => snapshot.status === "done"
      const inbox = makeControlInbox({ store, rolloutId, journal, seen: new Set(replayed.seenControls) })

      const fresh = entries.length === 0
      yield* Effect.logDebug(
        `${fresh ? "starting" : "resuming"} rollout of ${header.image}: ${header.plan.waves.length} wave(s), ${header.machineInput.waves.reduce((n, w) => n + w.targets.length, 0)} target(s) (${header.adapter})`
      )
      yield* events.emit({
        type: "rolloutStarted",
        image: header.image,
        adapter: header.adapter,
        targets: header.machineInput.waves.reduce((n, w) => n + w.targets.length, 0),
        upToDate: header.plan.upToDate.length,
        waves: header.plan.waves.map((w) => ({ index: w.index, kind: w.kind, size: w.targets.length })),
        resumed: !fresh
      })
      // A resumed run first hands the machine the controls that arrived while no process ran it:
      // an abort must win over re-running updates.
      let early: Command[] = []
      if (!fresh && !finished()) {
        early = yield* consume([...replayed.pendingControls.map(controlEvent), ...(yield* inbox.drain)])
      }
      // A crash can cut an apply in half. Its intent is in the journal with no "applied" after it;
      // unless that update is still outstanding (re-run below) or rollback owns the target, finish
      // it, in the mode its wave used: also when an early control just cancelled the update.
      if (!fresh) {
        const ctx = snapshot.context
        const index = indexOf(ctx)
        const rollbackOwns = new Set(ctx.rollbackOrder)
        const halfDone = progressOf(ctx).touched.filter(
          (id) =>
            !applied.has(id) &&
            !outstanding.has(`update:${id}`) &&
            !rollbackOwns.has(index.get(id)!) &&
            (ctx.status.get(index.get(id)!) & (Flag.rolledBack | Flag.rollbackFailed)) === 0
        )
        if (halfDone.length > 0) {
          const waveOf = new Map<string, number>()
          header.machineInput.waves.forEach((w, i) => {
            for (const id of w.targets) if (!waveOf.has(id)) waveOf.set(id, i)
          })
          yield* Effect.forEach(
            halfDone,
            (id) =>
              Effect.gen(function* () {
                const target = targets.get(id)
                if (target === undefined) return
                const wave = waveOf.get(id) ?? -1
                const mode = ops.modeOf(wave)
                const revision = yield* Effect.uninterruptible(
                  call("apply", id, adapter.apply(target, config.artifact, { rolloutId, wave, mode }))
                ).pipe(Effect.option)
                if (Option.isSome(revision)) {
                  applied.set(id, revision.value)
                  yield* journal.append([
                    { kind: "applied", at: yield* Clock.currentTimeMillis, targetId: id, revision: revision.value }
                  ])
                }
              }),
            { concurrency: config.operations.concurrency, discard: true }
          )
        }
      }
      // A fresh run starts with the initial actions; a resumed one re-runs what is still outstanding.
      if (fresh) {
        yield* journal.append(intentsOf(replayed.initialCommands, yield* Clock.currentTimeMillis, []))
        yield* act(replayed.initialCommands)
      } else {
        yield* act(early.filter((c) => c.kind === "notify"))
        if (!finished()) {
          const commands = outstandingCommands(outstanding)
          yield* journal.append(intentsOf(commands, yield* Clock.currentTimeMillis, []))
          yield* act(commands)
        }
      }
      // Operator controls from other processes also arrive while the run waits for outcomes.
      yield* Effect.forkScoped(
        inbox.poll(100).pipe(
          Stream.runForEach(send),
          Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : failRun(cause)))
        )
      )

      // Snapshots are taken by machine events folded, which is what a resume has to replay.
      const snapshotEvery = config.operations.snapshotEvery ?? 512
      let eventsSinceSnapshot = 0
      while (snapshot.status !== "done") {
        // Closed before anything reads them: a target healthy from now on starts a new event.
        const taken = yield* Effect.map(Queue.takeAll(queue), (events) => {
          healthy = undefined
          return coalesce(events)
        })
        // Controls that arrived by now go first: no command is acted on before them.
        const commands = yield* consume([...(yield* inbox.drain), ...taken])
        yield* act(commands)
        eventsSinceSnapshot += taken.length
        if (eventsSinceSnapshot >= snapshotEvery && !finished()) {
          yield* store.writeSnapshot(rolloutId, {
            seq: journal.length(),
            machine: { value: snapshot.value, context: persistContext(snapshot.context) },
            commands: outstandingCommands(outstanding)
          })
          eventsSinceSnapshot = 0
        }
      }
      yield* runner.stopAll
      // Controls sent too late are journaled as ignored, so their senders learn they had no effect.
      yield* inbox.refuse(`the rollout had already finished (${outcomeOf(snapshot) ?? "stopped"})`)
      yield* runner.stopAll
      if (fatal !== undefined) return yield* Effect.failCause(fatal)
      const outcome = outcomeOf(snapshot)
      let conclusion: RolloutResult["concluded"]
      if (adapter.conclude !== undefined && outcome !== undefined) {
        // Runs on every outcome, and again when a finished rollout is resumed (a crash may have
        // cut it short): the adapter's conclude is idempotent by contract.
        const progress = progressOf(snapshot.context)
        const concluded = yield* call(
          "conclude",
          undefined,
          adapter.conclude({
            rolloutId,
            outcome,
            targets: header.plan.targets,
            touched: progress.touched,
            updated: progress.updated
          })
        ).pipe(
          Effect.map((notes) => ({ ok: true, notes })),
          Effect.catch((e: AdapterError) => Effect.succeed({ ok: false, notes: [failureMessage(e)] }))
        )
        if (!concluded.ok || concluded.notes.length > 0) {
          yield* events.emit({ type: "concluded", ok: concluded.ok, notes: concluded.notes })
        }
        conclusion = concluded
      }
      const result = resultOf(header, snapshot, violations)
      if (result === undefined)
        return yield* new RolloutError({ rolloutId, message: "machine stopped without an outcome" })
      return conclusion === undefined ? result : { ...result, concluded: conclusion }
    })
  )
