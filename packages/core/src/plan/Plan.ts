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
  /**
   * How the adapter applies this wave (`ApplyContext.mode`): `surge` starts the new version beside
   * the old one and keeps the old until the rollout is promoted/finalized (the blue-green
   * `preview` wave); every other wave is `replace`. The planner always sets it; absent = `replace`.
   */
  readonly mode?: "replace" | "surge"
  /** How many of the plan's targets run the new version once this wave is done (cumulative count). */
  readonly updatedAfter?: number
  /** Partition waves: the ordinal threshold (this wave updates targets with ordinal >= partition). */
  readonly partition?: number
  /** With a topology key: how many of this wave's targets carry each topology value (`""` = unlabelled). */
  readonly topologyCounts?: Readonly<Record<string, number>>
  /**
   * With a topology key: the most targets of each topology value this wave may take (the planner
   * already honours it when choosing the wave's targets; informative for the interpreter/CLI).
   * With `topology.order: sequential` only the wave's own value, and only with `maxSharePerWave`.
   */
  readonly perValueMax?: Readonly<Record<string, number>>
  /** With `topology.groupBy`: the index in `Plan.groupSets` of the set of groups (clusters) this wave belongs to. */
  readonly groupSet?: number
}

export interface Plan {
  readonly strategy: "rolling" | "canary" | "blueGreen" | "recreate" | "partition"
  readonly topologyKey?: string
  /** Every discovered target, sorted by id. */
  readonly targets: ReadonlyArray<Target>
  readonly waves: ReadonlyArray<Wave>
  /** Targets that are already at the desired image and are left alone. */
  readonly upToDate: ReadonlyArray<string>
  /**
   * sha256 (hex) of the canonical JSON of the plan's content (strategy, desired image and config,
   * topology key and sequence, waves, up-to-date targets): same spec + inventory, same fingerprint.
   */
  readonly fingerprint: string
  /** The desired image, canonical (`registry/repository[:tag][@digest]`). */
  readonly image?: string
  /** Sorted topology values seen among the targets to update (`""` = targets without the label). */
  readonly topologyValues?: ReadonlyArray<string>
  /**
   * With `topology.order: sequential`: the same values in the order their waves run (the spec's
   * `values` first, then the others sorted); each wave holds targets of one value only.
   */
  readonly topologySequence?: ReadonlyArray<string>
  /** `topology.groupBy`: the label of the level above the topology key (e.g. `sluice.dev/cluster`). */
  readonly groupKey?: string
  /**
   * With `groupBy`: the sets of groups in the order they run (`groupsAtOnce` groups each, sorted,
   * `""` = unlabelled first). Each set's waves come after the previous set's, planned as a fleet of
   * their own; `topologySequence` is then each set's sequence one after another.
   */
  readonly groupSets?: ReadonlyArray<ReadonlyArray<string>>
  /**
   * `topology.maxFailuresPerGroup` when above 0: how many targets of one group (`groupKey`'s value;
   * the whole rollout without a group key) may fail, each rolled back on its own, before the
   * rollout fails.
   */
  readonly maxFailuresPerGroup?: number
  /** Things the planner worked around (duplicate ids, targets without ordinals, approval indexes out of range). */
  readonly warnings?: ReadonlyArray<string>
}

/** What discovery + inspect found: each target with the image it runs now. */
export interface InventoryItem {
  readonly target: Target
  readonly image: string
  /**
   * The target's current config hash (`Revision.configHash`), compared with
   * `artifactConfigHash(spec.artifact.config)` when the spec carries a config change.
   */
  readonly configHash?: string
}
export type Inventory = ReadonlyArray<InventoryItem>
