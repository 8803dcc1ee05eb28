import type { Target } from "../domain/Target.js"

/** How a wave ends before the next one may start. */
export type WavePause =
  | { readonly kind: "duration"; readonly ms: number }
  /** Waits for an operator's `resume` (or `promote` in blue-green). */
  | { readonly kind: "untilResumed" }

export interface AnalysisRef {
  readonly name: string
}

export type WaveKind = "canary" | "batch" | "preview" | "promote" | "recreate" | "partition"

export interface Wave {
  /** 0-based position in the plan. */
  readonly index: number
  readonly kind: WaveKind
  /** Target ids updated in this wave, in a stable order. */
  readonly targets: ReadonlyArray<string>
  /** Canary: cumulative share of the fleet (0..100) on the new version once this wave is done. */
  readonly weight?: number
  /** At most this many of this wave's targets may be unavailable (being updated, not yet healthy) at once. */
  readonly maxUnavailable: number
  /** Extra targets that may run the new version beside the old one (surge / blue-green), 0 if none. */
  readonly maxSurge: number
  /** Runs after the wave is healthy and before the next wave. */
  readonly pauseAfter?: WavePause
  /** Analysis gates that must pass after the wave is healthy. */
  readonly analysis: ReadonlyArray<AnalysisRef>
  /** A manual approval is required before this wave starts. */
  readonly approvalBefore: boolean
}

export interface Plan {
  readonly strategy: "rolling" | "canary" | "blueGreen" | "recreate" | "partition"
  readonly topologyKey?: string
  /** Every discovered target, sorted by id. */
  readonly targets: ReadonlyArray<Target>
  readonly waves: ReadonlyArray<Wave>
  /** Targets that are already at the desired image and are left alone. */
  readonly upToDate: ReadonlyArray<string>
  /** sha256 of the canonical JSON of the waves: same spec + inventory, same fingerprint. */
  readonly fingerprint: string
}

/** What discovery + inspect found: each target with the image it runs now. */
export interface InventoryItem {
  readonly target: Target
  readonly image: string
}
export type Inventory = ReadonlyArray<InventoryItem>
