/**
 * The Pod Security profiles through the built-in Wasm bundle and the normalizer: a Kubernetes
 * workload source that carries its target namespace (`WorkloadSource.namespace`) is held to the
 * level the namespace's `pod-security.kubernetes.io/*` labels name, with or without a profile
 * selected in the spec.
 */
import type { WorkloadSource } from "@sluice/core"
import { describe, expect, it } from "vitest"
import { builtinBundleDir } from "../../src/index.js"
import { loadPolicy } from "../../src/testing/index.js"

/** A DaemonSet that meets baseline but drops runAsNonRoot (restricted refuses it). */
const daemonSet = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "node-agent", namespace: "observability" },
  spec: {
    selector: { matchLabels: { app: "node-agent" } },
    template: {
      metadata: { labels: { app: "node-agent" } },
      spec: {
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "agent",
            image: "registry.sluice.dev/agents/node-agent:2.0.0",
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
          }
        ]
      }
    }
  }
}

const source = (labels: Record<string, string> | undefined): WorkloadSource => ({
  source: "kubernetes",
  object: daemonSet,
  ...(labels === undefined ? {} : { namespace: { name: "observability", labels } })
})

const podSecurity = (vs: ReadonlyArray<{ readonly rule: string; readonly message: string }>) =>
  vs.filter((v) => v.rule.startsWith("pod-security/")).map((v) => `${v.rule}: ${v.message}`)

describe("pod-security: the target namespace's labels", async () => {
  const policy = await loadPolicy(builtinBundleDir)

  it("enforce=restricted denies, naming the namespace, the label, the check and the field", () => {
    const d = policy.evaluate(source({ "pod-security.kubernetes.io/enforce": "restricted" }))
    expect(d.allow).toBe(false)
    expect(podSecurity(d.deny)).toEqual([
      'pod-security/runAsNonRoot: namespace "observability" (pod-security.kubernetes.io/enforce=restricted): runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)'
    ])
  })

  it("enforce=baseline lets the same workload through; warn=restricted warns instead", () => {
    expect(podSecurity(policy.evaluate(source({ "pod-security.kubernetes.io/enforce": "baseline" })).deny)).toEqual([])
    const d = policy.evaluate(
      source({ "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted" })
    )
    expect(podSecurity(d.deny)).toEqual([])
    expect(podSecurity(d.warn)).toEqual([
      'pod-security/runAsNonRoot: namespace "observability" (pod-security.kubernetes.io/warn=restricted): runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)'
    ])
  })

  it("no labels, no namespace, no profile: no Pod Security check at all", () => {
    expect(podSecurity(policy.evaluate(source({})).deny)).toEqual([])
    expect(podSecurity(policy.evaluate(source(undefined)).deny)).toEqual([])
  })

  it("a profile selected in the data applies without a namespace", async () => {
    const restricted = await loadPolicy({
      path: builtinBundleDir,
      data: { sluice: { params: { podSecurity: { profiles: ["pod-security/restricted"] } } } }
    })
    expect(podSecurity(restricted.evaluate(source(undefined)).deny)).toEqual([
      'pod-security/runAsNonRoot: runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)'
    ])
  })
})
