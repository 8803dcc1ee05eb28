import { createHash, randomUUID } from "node:crypto"
import * as os from "node:os"
import { Cause, Clock, Effect, FiberMap, Option, Queue, Schedule, Schema } from "effect"
import { initialTransition, transition } from "xstate"
import { MetricsProvider, parseCondition } from "../adapter/MetricsProvider.js"
import { AdapterError, type HealthStatus, TargetAdapter } from "../adapter/TargetAdapter.js"
import { withImage } from "../domain/render.js"
import type { Revision, Target, WorkloadSource } from "../domain/Target.js"
import { EventSink, type GateViolation, type RolloutEvent } from "../events/RolloutEvent.js"
import { type RolloutSnapshot, outcomeOf, rolloutMachine } from "../machine/rolloutMachine.js"
import type { Command, DeniedTarget, MachineEvent, MachineInput, Note, Outcome } from "../machine/types.js"
import type { Inventory, Plan } from "../plan/Plan.js"
import { PolicyEngine, type PolicyDecision, type ScanReport, ScanReportSource } from "../policy/PolicyEngine.js"
import {
  type ControlRequest,
  type JournalEntry,
  type RolloutHeader,
  type RolloutLocked,
  type JournalSnapshot as StoredSnapshot,
  type RolloutNotFound,
  RolloutStore,
  type StoreError
} from "../store/RolloutStore.js"
import { type Outstanding, track } from "./outstanding.js"
import type { RolloutConfig } from "./RolloutConfig.js"

export interface RolloutResult {
  readonly rolloutId: string
  readonly outcome: Outcome
  readonly reason?: string
  readonly touched: ReadonlyArray<string>
  readonly updated: ReadonlyArray<string>
  readonly rolledBack: ReadonlyArray<string>
  readonly rollbackFailed: ReadonlyArray<string>
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

const commandsOf = (actions: ReadonlyArray<{ readonly type: string; readonly params: unknown }>): Command[] =>
  actions.filter((a) => a.type === "command").map((a) => a.params as Command)

const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex")

/**
 * Rebuilds the machine from the journal: the machine is pure, so replaying its events is exact.
 * With a snapshot, the machine starts from it and only the events after `seq` are replayed; the
 * cheap bookkeeping (timers, applied revisions, controls) always scans the whole journal.
 */
export const replay = (input: MachineInput, entries: ReadonlyArray<JournalEntry>, from?: StoredSnapshot) => {
  const [initial, initialActions] = initialTransition(rolloutMachine, input)
  const initialCommands = commandsOf(initialActions)
  let snapshot = initial as RolloutSnapshot
  let outstanding: Outstanding = track(new Map(), undefined, initialCommands)
  const start = from === undefined || from.seq > entries.length ? 0 : from.seq
  if (from !== undefined && start === from.seq) {
    snapshot = rolloutMachine.resolveState(from.machine as never) as RolloutSnapshot
    outstanding = new Map(from.outstanding)
  }
  const timerDue = new Map<string, number>()
  const applied = new Map<string, Revision>()
  const controls = new Map<string, ControlRequest>()
  const seenControls = new Set<string>()
  entries.forEach((entry, index) => {
    if (entry.kind === "control") {
      controls.set(entry.request.id, entry.request)
      seenControls.add(entry.request.id)
    } else if (entry.kind === "event") {
      const controlId = (entry.event as { controlId?: string }).controlId
      if (controlId !== undefined) controls.delete(controlId)
      if (index >= start) {
        const [next, actions] = transition(rolloutMachine, snapshot, entry.event as never)
        snapshot = next as RolloutSnapshot
        outstanding = track(outstanding, entry.event, commandsOf(actions))
      }
    } else if (entry.kind === "intent" && entry.command.kind === "startTimer" && entry.dueAt !== undefined) {
      if (!timerDue.has(entry.command.timerId)) timerDue.set(entry.command.timerId, entry.dueAt)
    } else if (entry.kind === "applied") {
      applied.set(entry.targetId, entry.revision)
    }
  })
  /** Controls journaled as received whose event the machine never consumed (crash in between). */
  const pendingControls = [...controls.values()]
  return { snapshot, outstanding, initialCommands, timerDue, applied, pendingControls, seenControls }
}

/** Discovers the targets and inspects each: the inventory the planner works from. */
export const discoverInventory = (config: RolloutConfig) =>
  Effect.gen(function* () {
    const adapter = yield* TargetAdapter
    const targets = yield* adapter.discover(config.selector)
    const states = yield* Effect.forEach(targets, (t) => adapter.inspect(t), {
      concurrency: config.operations.concurrency
    })
    const inventory: Inventory = states.map((s) => ({
      target: s.target,
      image: s.revision.image,
      ...(s.revision.configHash === undefined ? {} : { configHash: s.revision.configHash })
    }))
    return { inventory, states }
  })

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
  // Rollbacks take targets down too, so they get the same budget as the widest wave.
  rollbackConcurrency: Math.max(
    1,
    Math.min(config.operations.concurrency, Math.max(1, ...plan.waves.map((w) => w.maxUnavailable)))
  ),
  ...(config.maxInFlight === undefined ? {} : { maxInFlight: config.maxInFlight })
})

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
    const store = yield* RolloutStore
    const { config } = options
    const { inventory, states } = yield* discoverInventory(config)
    const plan = options.plan(inventory)
    // What each planned target runs now is what rollback restores: the inspect that built the
    // inventory already read it.
    const revisions = new Map(states.map((s) => [s.target.id, s.revision]))
    const previous: Record<string, Revision> = {}
    for (const id of plan.waves.flatMap((w) => w.targets)) {
      const revision = revisions.get(id)
      if (revision === undefined) {
        return yield* new RolloutError({ rolloutId: config.rolloutId, message: `plan names unknown target ${id}` })
      }
      previous[id] = revision
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
    yield* store.create(header)
    return yield* drive(header, [], options.owner ?? defaultOwner())
  })

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
    const { snapshot, outstanding } = replay(stored.header.machineInput, stored.entries, stored.snapshot)
    return {
      header: stored.header,
      entries: stored.entries,
      snapshot,
      outstanding,
      result: resultOf(stored.header, snapshot, stored.entries)
    }
  })

const resultOf = (
  header: RolloutHeader,
  snapshot: RolloutSnapshot,
  entries: ReadonlyArray<JournalEntry>
): RolloutResult | undefined => {
  const outcome = outcomeOf(snapshot)
  if (outcome === undefined) return undefined
  const ctx = snapshot.context
  const violations: DeniedTarget[] = []
  for (const e of entries) {
    if (e.kind === "event" && (e.event.type === "GATES_DENIED" || e.event.type === "WAVE_DENIED")) {
      violations.push(...(e.event.violations ?? []))
    }
  }
  return {
    rolloutId: header.rolloutId,
    outcome,
    ...(ctx.failure === undefined ? {} : { reason: ctx.failure.reason }),
    touched: ctx.touched,
    updated: ctx.updated,
    rolledBack: ctx.rolledBack,
    rollbackFailed: ctx.rollbackFailed,
    violations
  }
}

const controlEvent = (c: ControlRequest): MachineEvent =>
  c.signal === "ABORT"
    ? c.reason === undefined
      ? { type: "ABORT", controlId: c.id }
      : { type: "ABORT", reason: c.reason, controlId: c.id }
    : { type: c.signal, controlId: c.id }

const drive = (header: RolloutHeader, entries: ReadonlyArray<JournalEntry>, owner: string, from?: StoredSnapshot) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* RolloutStore
      const adapter = yield* TargetAdapter
      const policy = Option.getOrUndefined(yield* Effect.serviceOption(PolicyEngine))
      const scans = Option.getOrUndefined(yield* Effect.serviceOption(ScanReportSource))
      const metrics = Option.getOrUndefined(yield* Effect.serviceOption(MetricsProvider))
      const sink = Option.getOrUndefined(yield* Effect.serviceOption(EventSink))
      const { config, rolloutId } = header

      // Counts journal entries so snapshots know which prefix of the journal they cover.
      let journalLength = entries.length
      let snapshotAt = from?.seq ?? 0
      const snapshotEvery = config.operations.snapshotEvery ?? 512
      const journal = {
        append: (id: string, list: ReadonlyArray<JournalEntry>) =>
          store.append(id, list).pipe(
            Effect.tap(() =>
              Effect.sync(() => {
                journalLength += list.length
              })
            )
          )
      }
      yield* store.acquire(rolloutId, owner)
      yield* Effect.addFinalizer(() => Effect.ignore(store.release(rolloutId, owner)))

      const replayed = replay(header.machineInput, entries, from)
      let snapshot = replayed.snapshot
      let outstanding = replayed.outstanding
      const timerDue = new Map(replayed.timerDue)
      const applied = new Map(replayed.applied)
      const targets = new Map<string, Target>(header.plan.targets.map((t) => [t.id, t]))
      const topologyOf = (id: string) =>
        header.plan.topologyKey === undefined ? undefined : (targets.get(id)?.labels[header.plan.topologyKey] ?? "")
      const evaluated = new Map<string, PolicyDecision>()

      const publish = (event: RolloutEvent) => (sink === undefined ? Effect.void : sink.publish(event))
      const emit = (body: Record<string, unknown> & { type: RolloutEvent["type"] }) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) => publish({ rolloutId, at, ...body } as RolloutEvent))

      // A handler that cannot journal (the store failed) fails the queue, and with it the run:
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
      const send = (event: MachineEvent) => Queue.offer(queue, event).pipe(Effect.asVoid)
      const fibers = yield* FiberMap.make<string>()
      const running = new Set<string>()
      const fork = (key: string, effect: Effect.Effect<void, StoreError>) =>
        Effect.gen(function* () {
          running.add(key)
          yield* FiberMap.run(
            fibers,
            key,
            effect.pipe(
              Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : failRun(cause))),
              Effect.asVoid,
              Effect.ensuring(Effect.sync(() => running.delete(key)))
            )
          )
        })
      const stop = (key: string) =>
        Effect.gen(function* () {
          running.delete(key)
          yield* FiberMap.remove(fibers, key)
        })

      /** Adapter calls get a timeout and retries of transient failures with exponential backoff. */
      const call = <A>(
        operation: AdapterError["operation"],
        targetId: string | undefined,
        effect: Effect.Effect<A, AdapterError>
      ) =>
        effect.pipe(
          Effect.timeoutOption(config.operations.timeoutMs),
          Effect.flatMap((o) =>
            Option.isSome(o)
              ? Effect.succeed(o.value)
              : Effect.fail(
                  new AdapterError({
                    operation,
                    ...(targetId === undefined ? {} : { target: targetId }),
                    message: `timed out after ${config.operations.timeoutMs}ms`,
                    transient: true
                  })
                )
          ),
          Effect.tapError((e) =>
            e.transient
              ? emit({
                  type: "retrying",
                  operation,
                  ...(targetId === undefined ? {} : { targetId }),
                  message: e.message
                })
              : Effect.void
          ),
          Effect.retry({
            schedule: Schedule.exponential(config.operations.retryBaseMs).pipe(Schedule.jittered),
            times: config.operations.retries,
            while: (e: AdapterError) => e.transient
          })
        )

      const targetOf = (id: string) =>
        Effect.suspend(() => {
          const t = targets.get(id)
          return t === undefined
            ? Effect.fail(
                new AdapterError({ operation: "inspect", target: id, message: "unknown target", transient: false })
              )
            : Effect.succeed(t)
        })

      /** Polls health until the target is healthy for minReady, or reports unhealthy. */
      const verify = (wave: number, target: Target) =>
        Effect.gen(function* () {
          let healthySince: number | undefined
          let last: HealthStatus | undefined
          while (true) {
            const report = yield* call(
              "health",
              target.id,
              adapter.health(target, config.health.probe === undefined ? undefined : { probe: config.health.probe })
            )
            const now = yield* Clock.currentTimeMillis
            if (report.status !== last) {
              last = report.status
              const topology = topologyOf(target.id)
              yield* emit({
                type: "healthChanged",
                wave,
                targetId: target.id,
                status: report.status,
                ...(report.reason === undefined ? {} : { reason: report.reason }),
                ...(topology === undefined ? {} : { topology })
              })
            }
            if (report.status === "unhealthy") return { healthy: false as const, reason: report.reason ?? "unhealthy" }
            if (report.status === "healthy") {
              healthySince ??= now
              if (now - healthySince >= config.health.minReadyMs) return { healthy: true as const }
            } else {
              healthySince = undefined
            }
            yield* Effect.sleep(config.health.pollIntervalMs)
          }
        })

      /** A disabled scan gate is not applicable: its rules (`scan…`) neither deny nor warn. */
      const applies = (rule: string) => config.gates.scan || !rule.startsWith("scan")

      const decide = (
        targetId: string,
        workload: WorkloadSource,
        engine: NonNullable<typeof policy>,
        report: ScanReport | undefined
      ) =>
        Effect.gen(function* () {
          const key = sha256({ workload, scan: report === undefined ? null : report.image })
          const cached = evaluated.get(key)
          if (cached !== undefined) return cached
          const raw = yield* engine.evaluate({
            targetId,
            image: config.artifact.image.raw,
            workload,
            scan: report
          })
          // The decision recorded is the one that gates the rollout, so the audit stream agrees
          // with the gate events: without the rules of a disabled gate.
          const deny = raw.deny.filter((v) => applies(v.rule))
          const decision: PolicyDecision =
            deny.length === raw.deny.length && raw.warn.every((v) => applies(v.rule))
              ? raw
              : {
                  ...raw,
                  allow: deny.length === 0 && (raw.allow || raw.deny.length > 0),
                  deny,
                  warn: raw.warn.filter((v) => applies(v.rule))
                }
          evaluated.set(key, decision)
          yield* emit({
            type: "policyDecision",
            targetId,
            bundleRevision: engine.revision ?? "unknown",
            inputSha256: key,
            decision
          })
          return decision
        })

      /** Runs the policy and scan gates over targets; `undefined` wave = the pre-flight gate. */
      const gate = (ids: ReadonlyArray<string>, wave: number | undefined) =>
        Effect.gen(function* () {
          if (!config.gates.policy && !config.gates.scan) return [] as DeniedTarget[]
          if (policy === undefined) {
            return [
              {
                targetId: "*",
                rule: "engine/missing",
                message: "the policy gate is enabled but no policy engine is configured (fail closed)"
              }
            ]
          }
          const report =
            config.gates.scan && scans !== undefined ? yield* scans.reportFor(config.artifact.image.raw) : undefined
          const violations: GateViolation[] = []
          const warnings: GateViolation[] = []
          const inspected = yield* Effect.forEach(
            ids,
            (id) =>
              targetOf(id).pipe(
                Effect.flatMap((t) => call("inspect", id, adapter.inspect(t))),
                Effect.flatMap((s) =>
                  adapter.render === undefined
                    ? Effect.succeed({ id, workload: withImage(s.workload, config.artifact.image.raw) })
                    : call("inspect", id, adapter.render(s, config.artifact)).pipe(
                        Effect.map((workload) => ({ id, workload }))
                      )
                )
              ),
            { concurrency: config.operations.concurrency }
          )
          for (const { id, workload } of inspected) {
            const decision = yield* decide(id, workload, policy, report)
            for (const v of decision.deny) violations.push({ ...v, targetId: id })
            for (const v of decision.warn) warnings.push({ ...v, targetId: id })
          }
          const isScan = (v: GateViolation) => v.rule.startsWith("scan")
          const waveField = wave === undefined ? {} : { wave }
          yield* emit({
            type: "gateDecided",
            gate: "policy",
            ...waveField,
            allow: !violations.some((v) => !isScan(v)),
            violations: violations.filter((v) => !isScan(v)),
            warnings: warnings.filter((v) => !isScan(v))
          })
          if (config.gates.scan) {
            yield* emit({
              type: "gateDecided",
              gate: "scan",
              ...waveField,
              allow: !violations.some(isScan),
              violations: violations.filter(isScan),
              warnings: warnings.filter(isScan)
            })
          }
          return violations.map(
            (v): DeniedTarget => ({
              targetId: v.targetId,
              rule: v.rule,
              message: v.message,
              ...(v.container === undefined ? {} : { container: v.container })
            })
          )
        })

      const summarize = (violations: ReadonlyArray<DeniedTarget>) => {
        const targetsHit = new Set(violations.map((v) => v.targetId))
        const first = violations[0]
        return `${violations.length} violation(s) on ${targetsHit.size} target(s)${first === undefined ? "" : `; first: ${first.targetId}: [${first.rule}] ${first.message}`}`
      }

      const failureMessage = (e: AdapterError) =>
        `${e.operation} failed${e.target === undefined ? "" : ` on ${e.target}`}: ${e.message}`

      const handlers = {
        validate: () =>
          Effect.gen(function* () {
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
        evaluateGates: () =>
          gate(
            header.plan.waves.flatMap((w) => w.targets),
            undefined
          ).pipe(
            Effect.flatMap((violations) =>
              violations.length === 0
                ? send({ type: "GATES_PASSED" })
                : send({ type: "GATES_DENIED", reason: `blocked by gates: ${summarize(violations)}`, violations })
            ),
            Effect.catch((e: AdapterError) =>
              send({
                type: "GATES_DENIED",
                reason: `gate could not inspect targets (fail closed): ${failureMessage(e)}`
              })
            )
          ),
        checkWave: (wave: number) =>
          gate(header.machineInput.waves[wave]?.targets ?? [], wave).pipe(
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
            )
          ),
        updateTarget: (wave: number, targetId: string) =>
          Effect.gen(function* () {
            const target = yield* targetOf(targetId)
            const topology = topologyOf(targetId)
            yield* emit({
              type: "targetUpdating",
              wave,
              targetId,
              from: header.previous[targetId]?.image ?? "unknown",
              to: config.artifact.image.raw,
              ...(topology === undefined ? {} : { topology })
            })
            const surge = header.plan.waves[wave]?.kind === "preview"
            // An apply is never cut in half by a cancel (failure, abort): a target stopped between
            // "old removed" and "new started" would be down for nobody's reason. Only a crash can
            // interrupt it, and resume finishes such half-done applies.
            // The retries belong to the apply too: a cancel during a backoff would leave a target
            // that a crash had half-updated (stopped) in that state.
            const revision = yield* Effect.uninterruptible(
              call(
                "apply",
                targetId,
                adapter.apply(target, config.artifact, { rolloutId, wave, mode: surge ? "surge" : "replace" })
              )
            )
            applied.set(targetId, revision)
            yield* journal.append(rolloutId, [
              { kind: "applied", at: yield* Clock.currentTimeMillis, targetId, revision }
            ])
            yield* emit({ type: "targetApplied", wave, targetId })
            const verdict = yield* verify(wave, target)
            if (verdict.healthy) return yield* send({ type: "TARGET_HEALTHY", targetId })
            yield* emit({ type: "targetFailed", wave, targetId, reason: verdict.reason })
            yield* send({ type: "TARGET_FAILED", targetId, reason: `${targetId} unhealthy: ${verdict.reason}` })
          }).pipe(
            Effect.catchTag("AdapterError", (e) =>
              emit({ type: "targetFailed", wave, targetId, reason: failureMessage(e) }).pipe(
                Effect.andThen(send({ type: "TARGET_FAILED", targetId, reason: failureMessage(e) }))
              )
            )
          ),
        rollbackTarget: (targetId: string) =>
          Effect.gen(function* () {
            const target = yield* targetOf(targetId)
            const previous = header.previous[targetId]
            if (previous === undefined) {
              return yield* Effect.fail(
                new AdapterError({
                  operation: "rollback",
                  target: targetId,
                  message: "no previous revision recorded",
                  transient: false
                })
              )
            }
            const appliedRevision = applied.get(targetId)
            yield* call(
              "rollback",
              targetId,
              adapter.rollback(
                target,
                previous,
                appliedRevision === undefined ? { rolloutId } : { rolloutId, applied: appliedRevision }
              )
            )
            const verdict = yield* verify(-1, target).pipe(Effect.timeoutOption(config.health.progressDeadlineMs))
            const ok = Option.isSome(verdict) && verdict.value.healthy
            const reason = Option.isNone(verdict)
              ? "not healthy within the progress deadline after rollback"
              : verdict.value.healthy
                ? undefined
                : verdict.value.reason
            yield* emit({
              type: "targetRolledBack",
              targetId,
              to: previous.image,
              ok,
              ...(reason === undefined ? {} : { reason })
            })
            yield* send(
              ok
                ? { type: "TARGET_ROLLED_BACK", targetId }
                : { type: "TARGET_ROLLBACK_FAILED", targetId, reason: reason ?? "unhealthy" }
            )
          }).pipe(
            Effect.catchTag("AdapterError", (e) =>
              emit({
                type: "targetRolledBack",
                targetId,
                to: header.previous[targetId]?.image ?? "unknown",
                ok: false,
                reason: failureMessage(e)
              }).pipe(Effect.andThen(send({ type: "TARGET_ROLLBACK_FAILED", targetId, reason: failureMessage(e) })))
            )
          ),
        runAnalysis: (wave: number, names: ReadonlyArray<string>) =>
          Effect.gen(function* () {
            for (const name of names) {
              const analysis = config.gates.analysis.find((a) => a.name === name)
              const fail = (reason: string) =>
                emit({
                  type: "gateDecided",
                  gate: "analysis",
                  wave,
                  allow: false,
                  violations: [{ targetId: "*", rule: `analysis/${name}`, message: reason }],
                  warnings: []
                }).pipe(Effect.andThen(send({ type: "ANALYSIS_FAILED", wave, reason })))
              if (analysis === undefined) return yield* fail(`analysis "${name}" is not defined in spec.gates.analysis`)
              if (metrics === undefined)
                return yield* fail(`analysis "${name}" needs a metrics provider and none is configured (fail closed)`)
              const condition = parseCondition(analysis.successCondition)
              if (condition === undefined)
                return yield* fail(`analysis "${name}": cannot parse successCondition "${analysis.successCondition}"`)
              for (let i = 0; i < analysis.count; i++) {
                if (i > 0) yield* Effect.sleep(analysis.intervalMs)
                const value = yield* metrics
                  .query(analysis, { rolloutId, wave, targets: header.machineInput.waves[wave]?.targets ?? [] })
                  .pipe(
                    Effect.map((v) => ({ ok: true as const, v })),
                    Effect.catch((e) => Effect.succeed({ ok: false as const, message: e.message }))
                  )
                if (!value.ok) return yield* fail(`analysis "${name}" query failed: ${value.message}`)
                if (!condition(value.v))
                  return yield* fail(
                    `analysis "${name}": result ${value.v} does not satisfy ${analysis.successCondition}`
                  )
              }
              yield* emit({ type: "gateDecided", gate: "analysis", wave, allow: true, violations: [], warnings: [] })
            }
            yield* send({ type: "ANALYSIS_PASSED", wave })
          }),
        finalize: () =>
          Effect.gen(function* () {
            const touched = snapshot.context.touched.flatMap((id) => {
              const t = targets.get(id)
              return t === undefined ? [] : [t]
            })
            yield* call("finalize", undefined, adapter.finalize(touched)).pipe(
              Effect.catch((e) =>
                emit({
                  type: "retrying",
                  operation: "finalize",
                  message: `cleanup failed, left for later: ${e.message}`
                })
              )
            )
            yield* send({ type: "FINALIZED" })
          }),
        timer: (timerId: string, dueAt: number) =>
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            yield* Effect.sleep(Math.max(0, dueAt - now))
            yield* send({ type: "TIMER_FIRED", timerId })
          })
      }

      const noteEvent = (note: Note) => {
        const ctx = snapshot.context
        switch (note.kind) {
          case "waveStarted": {
            const byTopology: Record<string, number> = {}
            for (const id of header.machineInput.waves[note.wave]?.targets ?? []) {
              const key = topologyOf(id) ?? "all"
              byTopology[key] = (byTopology[key] ?? 0) + 1
            }
            return emit({ type: "waveStarted", wave: note.wave, targets: note.targets, byTopology })
          }
          case "waveHealthy":
            return emit({ type: "waveHealthy", wave: note.wave })
          case "awaitingApproval":
            return emit({ type: "awaitingApproval", wave: note.wave })
          case "paused":
            return emit({ type: "paused", wave: note.wave, reason: note.reason })
          case "resumed":
            return emit({ type: "resumed", wave: note.wave })
          case "rollbackStarted":
            return emit({ type: "rollbackStarted", reason: note.reason, targets: note.targets })
          case "finished":
            return Effect.flatMap(Clock.currentTimeMillis, (now) =>
              emit({
                type: "finished",
                outcome: note.outcome,
                ...(note.reason === undefined ? {} : { reason: note.reason }),
                updated: ctx.updated.length,
                rolledBack: ctx.rolledBack.length,
                touched: ctx.touched.length,
                durationMs: now - header.createdAt
              })
            )
        }
      }

      /** Write-ahead: every command's intent is durable before anything acts on it. */
      const runCommands = (commands: ReadonlyArray<Command>) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const intents: JournalEntry[] = []
          for (const c of commands) {
            if (c.kind === "notify" || c.kind === "cancelUpdates" || c.kind === "cancelTimer") continue
            if (c.kind === "startTimer") {
              const dueAt = timerDue.get(c.timerId) ?? now + c.ms
              timerDue.set(c.timerId, dueAt)
              intents.push({ kind: "intent", at: now, command: c, dueAt })
            } else {
              intents.push({ kind: "intent", at: now, command: c })
            }
          }
          yield* journal.append(rolloutId, intents)
          for (const c of commands) {
            switch (c.kind) {
              case "notify":
                yield* noteEvent(c.note)
                break
              case "cancelUpdates":
                for (const key of [...running]) if (key.startsWith("update:")) yield* stop(key)
                break
              case "cancelTimer":
                yield* stop(`timer:${c.timerId}`)
                break
              case "startTimer":
                yield* fork(`timer:${c.timerId}`, handlers.timer(c.timerId, timerDue.get(c.timerId) ?? now + c.ms))
                break
              case "validate":
                yield* fork("validate", handlers.validate())
                break
              case "evaluateGates":
                yield* fork("gates", handlers.evaluateGates())
                break
              case "checkWave":
                yield* fork(`check:${c.wave}`, handlers.checkWave(c.wave))
                break
              case "updateTarget":
                yield* fork(`update:${c.targetId}`, handlers.updateTarget(c.wave, c.targetId))
                break
              case "rollbackTarget":
                yield* fork(`rollback:${c.targetId}`, handlers.rollbackTarget(c.targetId))
                break
              case "runAnalysis":
                yield* fork(`analysis:${c.wave}`, handlers.runAnalysis(c.wave, c.analysis))
                break
              case "finalize":
                yield* fork("finalize", handlers.finalize())
                break
            }
          }
        })

      const fresh = entries.length === 0
      yield* emit({
        type: "rolloutStarted",
        image: header.image,
        adapter: header.adapter,
        targets: header.machineInput.waves.reduce((n, w) => n + w.targets.length, 0),
        upToDate: header.plan.upToDate.length,
        waves: header.plan.waves.map((w) => ({ index: w.index, kind: w.kind, size: w.targets.length })),
        resumed: !fresh
      })
      // A crash can cut an apply in half. Its intent is in the journal with no "applied" after it;
      // unless that update is still outstanding (re-run below) or rollback owns the target, finish it.
      if (!fresh) {
        const ctx = snapshot.context
        const rollbackOwns = new Set([
          ...ctx.rolledBack,
          ...ctx.rollbackPending,
          ...ctx.rollbackInFlight,
          ...ctx.rollbackFailed
        ])
        const halfDone = ctx.touched.filter(
          (id) => !applied.has(id) && !outstanding.has(`update:${id}`) && !rollbackOwns.has(id)
        )
        for (const id of halfDone) {
          const target = targets.get(id)
          if (target === undefined) continue
          const wave = header.machineInput.waves.findIndex((w) => w.targets.includes(id))
          const revision = yield* Effect.uninterruptible(
            call("apply", id, adapter.apply(target, config.artifact, { rolloutId, wave, mode: "replace" }))
          ).pipe(Effect.option)
          if (Option.isSome(revision)) {
            applied.set(id, revision.value)
            yield* journal.append(rolloutId, [
              { kind: "applied", at: yield* Clock.currentTimeMillis, targetId: id, revision: revision.value }
            ])
          }
        }
      }
      // A fresh run starts with the initial actions; a resumed one re-runs what was outstanding.
      if (snapshot.status !== "done") {
        yield* runCommands(fresh ? replayed.initialCommands : [...outstanding.values()])
      }

      const seenControls = new Set(replayed.seenControls)
      for (const c of replayed.pendingControls) yield* send(controlEvent(c))
      // Operator controls from other processes arrive through the store.
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          while (true) {
            const inbox = yield* store.pendingControls(rolloutId)
            const fresh = inbox.filter((c) => !seenControls.has(c.id))
            if (fresh.length > 0) {
              const at = yield* Clock.currentTimeMillis
              yield* journal.append(
                rolloutId,
                fresh.map((request): JournalEntry => ({ kind: "control", at, request }))
              )
              for (const c of fresh) seenControls.add(c.id)
            }
            if (inbox.length > 0)
              yield* store.ackControls(
                rolloutId,
                inbox.map((c) => c.id)
              )
            for (const c of fresh) yield* send(controlEvent(c))
            yield* Effect.sleep(100)
          }
        }).pipe(Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : failRun(cause))))
      )

      while (snapshot.status !== "done") {
        const event = yield* Queue.take(queue)
        yield* journal.append(rolloutId, [{ kind: "event", at: yield* Clock.currentTimeMillis, event }])
        const [next, actions] = transition(rolloutMachine, snapshot, event as never)
        snapshot = next as RolloutSnapshot
        const commands = commandsOf(actions)
        outstanding = track(outstanding, event, commands)
        yield* runCommands(commands)
        // Every event entry so far is folded into `snapshot`: only the main loop appends events.
        if (journalLength - snapshotAt >= snapshotEvery && snapshot.status !== "done") {
          const persisted = rolloutMachine.getPersistedSnapshot(snapshot) as unknown as {
            value: unknown
            context: unknown
          }
          yield* store.writeSnapshot(rolloutId, {
            seq: journalLength,
            machine: { value: persisted.value, context: persisted.context },
            outstanding: [...outstanding.entries()]
          })
          snapshotAt = journalLength
        }
      }
      yield* FiberMap.clear(fibers)
      if (fatal !== undefined) return yield* Effect.failCause(fatal)
      const outcome = outcomeOf(snapshot)
      let conclusion: RolloutResult["concluded"]
      if (adapter.conclude !== undefined && outcome !== undefined) {
        // Runs on every outcome, and again when a finished rollout is resumed (a crash may have
        // cut it short): the adapter's conclude is idempotent by contract.
        const ctx = snapshot.context
        const concluded = yield* call(
          "conclude",
          undefined,
          adapter.conclude({
            rolloutId,
            outcome,
            targets: header.plan.targets,
            touched: ctx.touched,
            updated: ctx.updated
          })
        ).pipe(
          Effect.map((notes) => ({ ok: true, notes })),
          Effect.catch((e: AdapterError) => Effect.succeed({ ok: false, notes: [failureMessage(e)] }))
        )
        if (!concluded.ok || concluded.notes.length > 0) {
          yield* emit({ type: "concluded", ok: concluded.ok, notes: concluded.notes })
        }
        conclusion = concluded
      }
      const stored = yield* store.read(rolloutId)
      const result = resultOf(header, snapshot, stored.entries)
      if (result === undefined)
        return yield* new RolloutError({ rolloutId, message: "machine stopped without an outcome" })
      return conclusion === undefined ? result : { ...result, concluded: conclusion }
    })
  )
