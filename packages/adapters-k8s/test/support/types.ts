/** What the global setup hands to test files through vitest's provide/inject. */
export interface KubeClusterInfo {
  /** Path of an admin kubeconfig for the running control plane, or null when there is none. */
  readonly kubeconfig: string | null
  /** Why there is no cluster (binaries missing, …) including how to provision; null when there is one. */
  readonly unavailableReason: string | null
  /** Kubernetes version the binaries were built from (tools/kube/versions.env), e.g. "v1.36.3". */
  readonly kubeVersion: string | null
  /** Whether the global setup started the cluster (false when SLUICE_KUBECONFIG pointed at one). */
  readonly startedHere: boolean
}

declare module "vitest" {
  export interface ProvidedContext {
    sluiceKube: KubeClusterInfo
  }
}
