import { Context, type Effect, Schema } from "effect"
import type { ImageRef } from "../spec/ImageRef.js"
import type { Revision, Target, WorkloadSource } from "../domain/Target.js"
import type { Outcome } from "../machine/types.js"
import type { Plan } from "../plan/Plan.js"

/** What the adapter can do; the interpreter and planner consult it before choosing a path. */
export interface AdapterCapabilities {
  /** Can start the new version beside the old one (blue-green, surge). */
  readonly surge: boolean
  /** Can deliver a config change + signal instead of recreating. */
  readonly configOnly: boolean
  /** Can route a weight of traffic (true canary); otherwise canary = fraction of the fleet. */
  readonly trafficWeight: boolean
}

/** The artifact a rollout delivers. */
export interface Artifact {
  readonly image: ImageRef
  /** Optional config-only change (environment, config file), used when the adapter supports it. */
  readonly config?: {
    readonly env?: Readonly<Record<string, string>>
    readonly files?: Readonly<Record<string, string>>
    readonly signal?: string
  }
}

export interface TargetState {
  readonly target: Target
  readonly revision: Revision
  /** The raw workload description the policies see. */
  readonly workload: WorkloadSource
}

export type HealthStatus = "healthy" | "progressing" | "unhealthy"
export interface HealthReport {
  readonly status: HealthStatus
  readonly reason?: string
}

/**
 * The rollout spec's probe (durations in ms), for adapters that probe targets themselves when the
 * workload declares no health check of its own.
 */
export interface ProbeSpec {
  readonly http?: { readonly port: number; readonly path: string; readonly scheme?: "HTTP" | "HTTPS" }
  readonly tcp?: { readonly port: number }
  readonly exec?: { readonly command: ReadonlyArray<string> }
  readonly initialDelay?: number
  readonly period?: number
  readonly successThreshold?: number
  readonly failureThreshold?: number
}

export interface HealthOptions {
  readonly probe?: ProbeSpec
}

export interface ApplyContext {
  readonly rolloutId: string
  readonly wave: number
  /** Blue-green: start the new one first and keep the old one until promoted. */
  readonly mode: "replace" | "surge"
}

export interface RollbackContext {
  readonly rolloutId: string
  readonly applied?: Revision
}

/**
 * An adapter operation failed. `transient` failures are retried by the interpreter with its
 * Schedule; permanent ones fail the wave.
 */
export class AdapterError extends Schema.TaggedError<AdapterError>()("AdapterError", {
  operation: Schema.Literals(["discover", "inspect", "apply", "health", "rollback", "finalize", "conclude"]),
  target: Schema.optional(Schema.String),
  message: Schema.String,
  transient: Schema.Boolean
}) {}

/** What `conclude` is told about a rollout that reached its final outcome. */
export interface ConcludeContext {
  readonly rolloutId: string
  readonly outcome: Outcome
  /** Every target of the plan. */
  readonly targets: ReadonlyArray<Target>
  /** Targets the rollout updated at some point (some may have been rolled back since). */
  readonly touched: ReadonlyArray<string>
  /** Touched targets still on the new version (not rolled back). */
  readonly updated: ReadonlyArray<string>
}

/** The registry's digests of an image, as the targets would pull it. */
export interface ResolvedDigest {
  /** The manifest digest the reference names now (`sha256:<64 hex>`): what a pull by digest fetches. */
  readonly digest: string
  /** The image configuration's digest (what `docker inspect` calls the image's Id), when known. */
  readonly configDigest?: string
}

/** What `resolveDigest` is told about the rollout it resolves for. */
export interface ResolveDigestContext {
  /**
   * The spec's selector, as given (the adapter decodes it): the workloads the image will run in,
   * e.g. for the registry credentials they pull with (Kubernetes `imagePullSecrets`).
   */
  readonly selector: unknown
}

export interface TargetAdapterShape {
  readonly name: string
  readonly capabilities: AdapterCapabilities
  /** Decodes and validates the adapter-specific selector from the spec (errors list their paths). */
  readonly selectorSchema: Schema.Codec<unknown, unknown>
  readonly discover: (selector: unknown) => Effect.Effect<ReadonlyArray<Target>, AdapterError>
  readonly inspect: (target: Target) => Effect.Effect<TargetState, AdapterError>
  /**
   * Optional. The registry's manifest digest of `image` (a tag resolved now). The interpreter calls
   * it once, before any gate, when the spec does not pin a digest; the rollout then deploys by that
   * digest and the scan gate accepts only a report made for it. `undefined`: the image has no
   * registry digest (e.g. built on the engine and never pushed). Without this member, the spec must
   * pin the digest for the scan report to be bound to it.
   */
  readonly resolveDigest?: (
    image: ImageRef,
    context?: ResolveDigestContext
  ) => Effect.Effect<ResolvedDigest | undefined, AdapterError>
  /**
   * The workload as it will run once `artifact` is applied, for the policy gate. Optional: without
   * it the core swaps the image into the inspected workload (`withImage`).
   */
  readonly render?: (state: TargetState, artifact: Artifact) => Effect.Effect<WorkloadSource, AdapterError>
  /**
   * Idempotent by contract: applying an artifact a target already runs is a no-op, and an apply
   * interrupted by a crash can be called again. Returns the revision now running.
   */
  readonly apply: (target: Target, artifact: Artifact, ctx: ApplyContext) => Effect.Effect<Revision, AdapterError>
  readonly health: (target: Target, options?: HealthOptions) => Effect.Effect<HealthReport, AdapterError>
  /**
   * Idempotent: restores `revision` (a no-op when the target already runs it). `ctx.applied` is the
   * revision `apply` returned, when the journal has it (e.g. where Docker put the new container).
   */
  readonly rollback: (target: Target, revision: Revision, ctx?: RollbackContext) => Effect.Effect<void, AdapterError>
  /** Called once when a rollout completes: drop what was kept for rollback (old containers). */
  readonly finalize: (targets: ReadonlyArray<Target>) => Effect.Effect<void, AdapterError>
  /**
   * Optional. Called once the rollout has an outcome, whatever it is (completed, rolled back,
   * aborted, failed, blocked), and again when a finished rollout is resumed: idempotent. For what an
   * adapter changed for the duration of the rollout (e.g. a DaemonSet's update strategy). Returns
   * notes for the operator (what was restored, what was deliberately left alone and why).
   */
  readonly conclude?: (ctx: ConcludeContext) => Effect.Effect<ReadonlyArray<string>, AdapterError>
  /**
   * Optional, pure. Refuses a plan the adapter cannot carry out faithfully (e.g. a StatefulSet on
   * RollingUpdate whose waves do not go from the highest ordinal down). Returns the reason, or
   * `undefined` when the plan is fine. Checked before the gates, so a refused plan touches nothing.
   */
  readonly validatePlan?: (plan: Plan) => string | undefined
}

export class TargetAdapter extends Context.Service<TargetAdapter, TargetAdapterShape>()(
  "@sluice/core/adapter/TargetAdapter"
) {}
