export { ANNOTATION } from "./annotations.js"
export {
  CLUSTER_LABEL,
  KubernetesAdapterConfig,
  type KubernetesAdapterConfigInput,
  KubernetesCluster as KubernetesClusterConfig,
  KubernetesSelector
} from "./config.js"
export type { DaemonSetRevisionData } from "./daemonset.js"
export { type DeploymentRevisionData, PREVIEW_LABEL, previewName } from "./deployment.js"
export { KubernetesConfigError } from "./errors.js"
export {
  KubernetesAdapter,
  type KubernetesAdapterShape,
  type KubernetesCluster,
  makeKubernetesAdapter
} from "./KubernetesAdapter.js"
export type { TargetData, WorkloadKind } from "./targets.js"
export { KubernetesStore, type KubernetesStoreOptions } from "./store/KubernetesStore.js"
