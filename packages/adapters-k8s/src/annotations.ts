/**
 * What Sluice writes on the workloads it drives. Kept on the object itself, so a resumed process
 * (or another replica) finds the state it needs without the journal, and an operator can see who
 * is driving a workload with `kubectl get -o yaml`.
 */
export const ANNOTATION = {
  /** The rollout driving this workload; a second rollout refuses to touch it. */
  rollout: "rollouts.sluice.dev/rollout-id",
  /** JSON of the workload's own `updateStrategy`, restored when the rollout concludes. */
  updateStrategy: "rollouts.sluice.dev/update-strategy",
  /** The controller-revision-hash the workload ran before the rollout (what rollback restores). */
  originalRevision: "rollouts.sluice.dev/original-revision",
  /** StatefulSets: the partition before the rollout (JSON, `null` = none). */
  originalPartition: "rollouts.sluice.dev/original-partition",
  /** Why conclude left the update strategy alone (a mixed fleet it would otherwise roll). */
  held: "rollouts.sluice.dev/held"
} as const

/** Label every pod of a DaemonSet/StatefulSet carries: the ControllerRevision it was made from. */
export const REVISION_HASH_LABEL = "controller-revision-hash"
/** Label of the ConfigMaps Sluice creates for config-with-image revisions. */
export const CONFIG_LABEL = "rollouts.sluice.dev/config-of"
