import { Effect, Layer, Result, Schema } from "effect"
import { MetricsError, MetricsProvider } from "../adapter/MetricsProvider.js"
import {
  AdapterError,
  type Artifact,
  type HealthReport,
  TargetAdapter,
  type TargetAdapterShape,
  type TargetState
} from "../adapter/TargetAdapter.js"
import type { Revision, Target, WorkloadSource } from "../domain/Target.js"
import { parseImageRef } from "../spec/ImageRef.js"
import { type Prng, makePrng } from "./prng.js"

/** How a version behaves once started. */
export type VersionBehaviour =
  | { readonly kind: "healthy" }
  /** Stays "progressing" forever: only the progress deadline ends it. */
  | { readonly kind: "neverHealthy" }
  /** Healthy at first, unhealthy (crash loop) `afterMs` after start. */
  | { readonly kind: "failAfter"; readonly afterMs: number }
  /** Alternates healthy/unhealthy on successive probes. */
  | { readonly kind: "flapping" }

export interface VersionProfile {
  readonly behaviour?: VersionBehaviour
  /** Analysis metric (error rate) the simulated Prometheus reports for targets on this version. */
  readonly errorRate?: number
  /** Runs as root: the policy gate should refuse it. */
  readonly runsAsRoot?: boolean
  /** No resource limits: the policy gate should refuse it. */
  readonly noLimits?: boolean
  /**
   * When set, `behaviour` applies only on these target ids (a bug that shows on some nodes only);
   * elsewhere the version is healthy.
   */
  readonly onlyOn?: ReadonlyArray<string>
}

export interface Latency {
  readonly minMs: number
  readonly maxMs: number
}

export interface Faults {
  /** Probability that one apply/rollback call fails transiently before doing anything. */
  readonly transientErrorRate?: number
  /** Targets whose apply always fails permanently. */
  readonly permanentApplyFailures?: ReadonlyArray<string>
  /** Targets whose rollback always fails permanently (they stay on the new version): rehearses "rollback failed". */
  readonly permanentRollbackFailures?: ReadonlyArray<string>
  /** Probability that a health probe itself errors transiently. */
  readonly healthErrorRate?: number
}

export interface SimulatedFleetOptions {
  readonly size: number
  readonly zones?: ReadonlyArray<string>
  readonly seed?: number
  readonly image: string
  readonly namePrefix?: string
  /** Per-image (or per-tag: `:2.0.0`) behaviour; unknown images are healthy. */
  readonly versions?: Readonly<Record<string, VersionProfile>>
  readonly applyLatency?: Latency
  /** Time from start until a healthy version reports ready. */
  readonly readyLatency?: Latency
  readonly faults?: Faults
  /**
   * Restores targets from a {@link SimulatedFleet.snapshot} (e.g. written to disk by another
   * process): targets listed here start in that state instead of on `image`.
   */
  readonly state?: Readonly<Record<string, SimTargetState>>
  /** Called synchronously after every change to a target (both halves of a replace). */
  readonly onChange?: (target: SimTarget) => void
}

export interface SimTarget {
  readonly target: Target
  image: string
  /** "stopped" between the two halves of a replace: the window a crash can leave behind. */
  phase: "running" | "stopped"
  startedAt: number
  readyAfterMs: number
  probes: number
  /** Every version change, in order: how the tests prove "never updated twice". */
  readonly history: Array<{
    readonly image: string
    readonly at: number
    readonly readyAt: number
    readonly via: "apply" | "rollback"
  }>
}

/** A target's state as plain JSON (`startedAt` is `null` for "running since before the fleet existed"). */
export interface SimTargetState {
  readonly image: string
  readonly phase: "running" | "stopped"
  readonly startedAt: number | null
  readonly readyAfterMs: number
  readonly history: ReadonlyArray<SimTarget["history"][number]>
}

export const simTargetState = (t: SimTarget): SimTargetState => ({
  image: t.image,
  phase: t.phase,
  startedAt: Number.isFinite(t.startedAt) ? t.startedAt : null,
  readyAfterMs: t.readyAfterMs,
  history: [...t.history]
})

export class SimulatedFleetSelector extends Schema.Class<SimulatedFleetSelector>("SimulatedFleetSelector")({
  /** Only targets whose labels match all of these. */
  matchLabels: Schema.optional(Schema.Record(Schema.String, Schema.String))
}) {}

const profileFor = (versions: SimulatedFleetOptions["versions"], image: string): VersionProfile => {
  if (versions === undefined) return {}
  if (versions[image] !== undefined) return versions[image]
  const ref = parseImageRef(image)
  const tag = Result.isSuccess(ref) ? ref.success.tag : undefined
  return (tag !== undefined ? versions[`:${tag}`] : undefined) ?? {}
}

/** The normalized workload a simulated agent presents to the policies. */
export const simulatedWorkload = (target: Target, image: string, profile: VersionProfile): WorkloadSource => ({
  source: "normalized",
  workload: {
    platform: "simulated",
    kind: "Pod",
    name: target.name,
    labels: target.labels,
    annotations: {},
    pod: {
      securityContext: profile.runsAsRoot ? { runAsUser: 0 } : { runAsNonRoot: true, runAsUser: 10001 },
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      volumes: []
    },
    containers: [
      {
        name: "agent",
        type: "container",
        image,
        securityContext: {
          ...(profile.runsAsRoot ? { runAsUser: 0 } : { runAsNonRoot: true, runAsUser: 10001 }),
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { add: [], drop: ["ALL"] }
        },
        resources: profile.noLimits
          ? { limits: {}, requests: {} }
          : { limits: { cpu: "200m", memory: "128Mi" }, requests: { cpu: "50m", memory: "64Mi" } },
        volumeMounts: []
      }
    ]
  }
})

export interface SimulatedFleet {
  readonly adapter: TargetAdapterShape
  readonly metrics: MetricsProvider["Service"]
  readonly targets: ReadonlyMap<string, SimTarget>
  /** Most targets that were down (stopped or started and not yet ready) at the same time. */
  readonly maxConcurrentlyDown: () => number
  /** Resets the high-water mark, e.g. between phases of a test. */
  readonly resetDownWatermark: () => void
  /** Every target's state as plain JSON, for `options.state` in another process. */
  readonly snapshot: () => Record<string, SimTargetState>
  /** Simulates kill -9 of the controlling process: in-flight operations stop half-way. */
  readonly crash: () => void
  readonly layer: Layer.Layer<TargetAdapter | MetricsProvider>
}

/**
 * A deterministic, seeded in-memory fleet behind the TargetAdapter contract: the demo's world and
 * the property tests' world. Time comes from Effect's Clock, so tests can drive it.
 */
export const makeSimulatedFleet = (options: SimulatedFleetOptions): SimulatedFleet => {
  const rng: Prng = makePrng(options.seed ?? 1)
  const zones = options.zones ?? ["zone-a", "zone-b", "zone-c"]
  const prefix = options.namePrefix ?? "node"
  const width = String(options.size).length
  const applyLatency = options.applyLatency ?? { minMs: 0, maxMs: 0 }
  const readyLatency = options.readyLatency ?? { minMs: 0, maxMs: 0 }
  const faults = options.faults ?? {}
  const sample = (l: Latency) => l.minMs + Math.floor(rng.next() * (l.maxMs - l.minMs + 1))

  const fleet = new Map<string, SimTarget>()
  // One labels object per zone, shared by its targets (labels are read-only): at 100,000 targets a
  // copy each is 100,000 objects the engine's benchmark would count as its own memory.
  const labelsOf = new Map<string, Readonly<Record<string, string>>>()
  for (let i = 0; i < options.size; i++) {
    const name = `${prefix}-${String(i).padStart(width, "0")}`
    const zone = zones[i % zones.length] ?? "zone-a"
    const restored = options.state?.[name]
    let labels = labelsOf.get(zone)
    if (labels === undefined) {
      labels = Object.freeze({ zone, "sluice.dev/fleet": "simulated" })
      labelsOf.set(zone, labels)
    }
    fleet.set(name, {
      target: { id: name, name, labels, ordinal: i },
      image: restored?.image ?? options.image,
      phase: restored?.phase ?? "running",
      startedAt: restored?.startedAt ?? Number.NEGATIVE_INFINITY,
      readyAfterMs: restored?.readyAfterMs ?? 0,
      probes: 0,
      history: restored === undefined ? [] : [...restored.history]
    })
  }

  /** The behaviour of the version a target runs, on that target (`onlyOn` scopes it). */
  const behaviourOn = (t: SimTarget): VersionBehaviour => {
    const profile = profileFor(options.versions, t.image)
    const affected = profile.onlyOn === undefined || profile.onlyOn.includes(t.target.id)
    return (affected ? profile.behaviour : undefined) ?? { kind: "healthy" }
  }

  let watermark = 0
  /** Down = not serving: stopped, still starting, or running a version that is not healthy. */
  const isDown = (t: SimTarget, now: number) => {
    if (t.phase === "stopped" || now - t.startedAt < t.readyAfterMs) return true
    const behaviour = behaviourOn(t)
    switch (behaviour.kind) {
      case "healthy":
        return false
      case "failAfter":
        return now - t.startedAt - t.readyAfterMs >= behaviour.afterMs
      default:
        return true
    }
  }
  /**
   * Targets that are or may become down. Everything else runs a healthy version, is ready, and
   * stays up until it is replaced (which puts it back here): counting only these gives the same
   * number as scanning the fleet, at a cost that does not grow with it.
   */
  const suspects = new Set<SimTarget>()
  const settledUp = (t: SimTarget, now: number) =>
    t.phase === "running" && now - t.startedAt >= t.readyAfterMs && behaviourOn(t).kind === "healthy"
  // Running since before the fleet existed (startedAt -Infinity) on a healthy version: up for good.
  for (const t of fleet.values()) if (Number.isFinite(t.startedAt) || !settledUp(t, 0)) suspects.add(t)
  const observeDown = (now: number) => {
    let down = 0
    for (const t of suspects) {
      if (isDown(t, now)) down++
      else if (settledUp(t, now)) suspects.delete(t)
    }
    if (down > watermark) watermark = down
  }

  const missing = (operation: AdapterError["operation"], id: string) =>
    new AdapterError({ operation, target: id, message: "no such simulated target", transient: false })

  const transientFault = (operation: AdapterError["operation"], id: string) =>
    rng.next() < (faults.transientErrorRate ?? 0)
      ? new AdapterError({
          operation,
          target: id,
          message: "simulated transient error (connection reset)",
          transient: true
        })
      : undefined

  /** Bumped by `crash()`: operations of a dead process stop wherever they are. */
  let epoch = 0

  // The operations below are synchronous except for a latency's sleep: a zero-latency fleet must
  // cost next to nothing per call, since the engine benchmark measures the engine against it.

  /** Stop, wait, start: two halves with a crash window between them, like a real replace. */
  const replace = (t: SimTarget, image: string, via: "apply" | "rollback") =>
    Effect.clockWith((clock) => {
      const started = epoch
      t.phase = "stopped"
      suspects.add(t)
      options.onChange?.(t)
      observeDown(clock.currentTimeMillisUnsafe())
      const latency = sample(applyLatency)
      const secondHalf = Effect.suspend(() => {
        // The process that began this replace was killed: the second half never happens.
        if (epoch !== started) return Effect.interrupt
        const now = clock.currentTimeMillisUnsafe()
        t.image = image
        t.phase = "running"
        t.startedAt = now
        t.readyAfterMs = sample(readyLatency)
        t.probes = 0
        t.history.push({ image, at: now, readyAt: now + t.readyAfterMs, via })
        options.onChange?.(t)
        observeDown(now)
        return Effect.void
      })
      return latency > 0 ? Effect.andThen(Effect.sleep(latency), secondHalf) : secondHalf
    })

  // One revision object per image, shared (revisions are read-only): the rollout keeps one per
  // target twice (the previous one and the applied one).
  const revisions = new Map<string, Revision>()
  const revisionOf = (t: SimTarget): Revision => {
    let r = revisions.get(t.image)
    if (r === undefined) {
      r = Object.freeze({ image: t.image })
      revisions.set(t.image, r)
    }
    return r
  }

  const healthOf = (t: SimTarget, now: number): HealthReport => {
    observeDown(now)
    if (t.phase === "stopped") return { status: "progressing", reason: "stopped" }
    if (now - t.startedAt < t.readyAfterMs) return { status: "progressing", reason: "starting" }
    const behaviour = behaviourOn(t)
    t.probes++
    switch (behaviour.kind) {
      case "healthy":
        return { status: "healthy" }
      case "neverHealthy":
        return { status: "progressing", reason: "readiness probe failing" }
      case "failAfter":
        return now - t.startedAt - t.readyAfterMs >= behaviour.afterMs
          ? { status: "unhealthy", reason: "crash loop: exited with code 2" }
          : { status: "healthy" }
      case "flapping":
        return t.probes % 2 === 0 ? { status: "unhealthy", reason: "liveness probe failed" } : { status: "healthy" }
    }
  }

  const adapter: TargetAdapterShape = {
    name: "simulated",
    capabilities: { surge: true, configOnly: false, trafficWeight: false },
    selectorSchema: SimulatedFleetSelector as unknown as Schema.Codec<unknown, unknown>,
    discover: (selector) =>
      Effect.sync(() => {
        const match = (selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {}
        return [...fleet.values()]
          .filter((t) => Object.entries(match).every(([k, v]) => t.target.labels[k] === v))
          .map((t) => t.target)
      }),
    inspect: (target) =>
      Effect.suspend(() => {
        const t = fleet.get(target.id)
        if (t === undefined) return Effect.fail(missing("inspect", target.id))
        return Effect.succeed<TargetState>({
          target: t.target,
          revision: revisionOf(t),
          workload: simulatedWorkload(t.target, t.image, profileFor(options.versions, t.image))
        })
      }),
    render: (state: TargetState, artifact: Artifact) =>
      Effect.succeed(
        simulatedWorkload(state.target, artifact.image.raw, profileFor(options.versions, artifact.image.raw))
      ),
    apply: (target, artifact) =>
      Effect.suspend(() => {
        const t = fleet.get(target.id)
        if (t === undefined) return Effect.fail(missing("apply", target.id))
        const image = artifact.image.raw
        // Idempotent: a target already on the image (or resumed after a crash that got that far) is left alone.
        if (t.image === image && t.phase === "running") return Effect.succeed(revisionOf(t))
        const fault = transientFault("apply", target.id)
        if (fault !== undefined) return Effect.fail(fault)
        if (faults.permanentApplyFailures?.includes(target.id)) {
          return Effect.fail(
            new AdapterError({
              operation: "apply",
              target: target.id,
              message: "simulated permanent error: image pull refused",
              transient: false
            })
          )
        }
        return Effect.map(replace(t, image, "apply"), () => revisionOf(t))
      }),
    health: (target) =>
      Effect.clockWith((clock) => {
        const t = fleet.get(target.id)
        if (t === undefined) return Effect.fail(missing("health", target.id))
        if (rng.next() < (faults.healthErrorRate ?? 0)) {
          return Effect.fail(
            new AdapterError({
              operation: "health",
              target: target.id,
              message: "simulated probe timeout",
              transient: true
            })
          )
        }
        return Effect.succeed(healthOf(t, clock.currentTimeMillisUnsafe()))
      }),
    rollback: (target, revision) =>
      Effect.suspend(() => {
        const t = fleet.get(target.id)
        if (t === undefined) return Effect.fail(missing("rollback", target.id))
        if (t.image === revision.image && t.phase === "running") return Effect.void
        const fault = transientFault("rollback", target.id)
        if (fault !== undefined) return Effect.fail(fault)
        if (faults.permanentRollbackFailures?.includes(target.id)) {
          return Effect.fail(
            new AdapterError({
              operation: "rollback",
              target: target.id,
              message: "simulated permanent error: the previous image cannot be pulled",
              transient: false
            })
          )
        }
        return replace(t, revision.image, "rollback")
      }),
    finalize: () => Effect.void
  }

  const metrics: MetricsProvider["Service"] = {
    query: (analysis, scope) =>
      Effect.suspend(() => {
        if (!analysis.query.includes("error_rate")) {
          return Effect.fail(
            new MetricsError({ query: analysis.query, message: "the simulated Prometheus only knows error_rate" })
          )
        }
        const rates = scope.targets.map((id) => {
          const t = fleet.get(id)
          return t === undefined ? 0 : (profileFor(options.versions, t.image).errorRate ?? 0.001)
        })
        return Effect.succeed(rates.length === 0 ? 0 : rates.reduce((a, b) => a + b, 0) / rates.length)
      })
  }

  return {
    adapter,
    metrics,
    targets: fleet,
    maxConcurrentlyDown: () => watermark,
    resetDownWatermark: () => {
      watermark = 0
    },
    snapshot: () => Object.fromEntries([...fleet].map(([id, t]) => [id, simTargetState(t)])),
    crash: () => {
      epoch++
    },
    layer: Layer.mergeAll(Layer.succeed(TargetAdapter, adapter), Layer.succeed(MetricsProvider, metrics))
  }
}
