import { Context, Effect, Layer } from "effect"
import type { HealthStatus } from "../adapter/TargetAdapter.js"
import type { Outcome } from "../machine/types.js"
import type { PolicyDecision, Violation } from "../policy/PolicyEngine.js"

interface Base {
  readonly rolloutId: string
  /** Epoch milliseconds from Effect's Clock. */
  readonly at: number
}

export interface GateViolation extends Violation {
  readonly targetId: string
}

/** The typed stream behind the CLI's progress view, the audit log and metrics. */
export type RolloutEvent = Base &
  (
    | {
        readonly type: "rolloutStarted"
        readonly image: string
        readonly adapter: string
        readonly targets: number
        readonly upToDate: number
        readonly waves: ReadonlyArray<{ readonly index: number; readonly kind: string; readonly size: number }>
        readonly resumed: boolean
      }
    | {
        readonly type: "gateDecided"
        readonly gate: "policy" | "scan" | "analysis" | "approval"
        readonly wave?: number
        readonly allow: boolean
        readonly violations: ReadonlyArray<GateViolation>
        readonly warnings: ReadonlyArray<GateViolation>
      }
    | {
        /** The decision log: one entry per distinct workload evaluated. */
        readonly type: "policyDecision"
        readonly targetId: string
        readonly bundleRevision: string
        /** sha256 of the request (the workload as it will run, and the scan report's image). */
        readonly inputSha256: string
        readonly decision: PolicyDecision
      }
    | {
        readonly type: "waveStarted"
        readonly wave: number
        readonly targets: number
        readonly byTopology: Readonly<Record<string, number>>
      }
    | {
        readonly type: "targetUpdating"
        readonly wave: number
        readonly targetId: string
        readonly from: string
        readonly to: string
        readonly topology?: string
      }
    | { readonly type: "targetApplied"; readonly wave: number; readonly targetId: string }
    | {
        readonly type: "healthChanged"
        readonly wave: number
        readonly targetId: string
        readonly status: HealthStatus
        readonly reason?: string
        readonly topology?: string
      }
    | { readonly type: "targetFailed"; readonly wave: number; readonly targetId: string; readonly reason: string }
    | { readonly type: "waveHealthy"; readonly wave: number }
    | { readonly type: "awaitingApproval"; readonly wave: number }
    | { readonly type: "paused"; readonly wave: number; readonly reason: "operator" | "step" }
    | { readonly type: "resumed"; readonly wave: number }
    | { readonly type: "rollbackStarted"; readonly reason: string; readonly targets: number }
    | {
        readonly type: "targetRolledBack"
        readonly targetId: string
        readonly to: string
        readonly ok: boolean
        readonly reason?: string
      }
    | { readonly type: "retrying"; readonly operation: string; readonly targetId?: string; readonly message: string }
    | {
        /** The adapter's `conclude` ran after the outcome: what it restored or left alone, and why. */
        readonly type: "concluded"
        readonly ok: boolean
        readonly notes: ReadonlyArray<string>
      }
    | {
        readonly type: "finished"
        readonly outcome: Outcome
        readonly reason?: string
        readonly updated: number
        readonly rolledBack: number
        readonly touched: number
        readonly durationMs: number
      }
  )

export type RolloutEventType = RolloutEvent["type"]

/** Where events go. The default drops them; the CLI prints them; embedders subscribe. */
export class EventSink extends Context.Service<
  EventSink,
  { readonly publish: (event: RolloutEvent) => Effect.Effect<void> }
>()("@sluice/core/events/EventSink") {
  static readonly none = Layer.succeed(EventSink, { publish: () => Effect.void })
  static readonly fromCallback = (f: (event: RolloutEvent) => void) =>
    Layer.succeed(EventSink, { publish: (event) => Effect.sync(() => f(event)) })
}
