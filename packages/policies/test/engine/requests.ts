import type { PolicyGate, PolicyRequest } from "@sluice/core"

/** A normalized workload with one container, tweakable per test. */
export const workload = (
  container: Record<string, unknown> = {},
  pod: Record<string, unknown> = {}
): PolicyRequest["workload"] => ({
  source: "normalized",
  workload: {
    platform: "simulated",
    kind: "Pod",
    name: "agent-1",
    pod,
    containers: [
      {
        name: "agent",
        image: "registry.sluice.dev/agent:1.0.0",
        resources: { limits: { cpu: "500m", memory: "256Mi" } },
        ...container
      }
    ]
  }
})

export const request = (
  w: PolicyRequest["workload"] = workload(),
  targetId = "sim/agent-1",
  gates?: ReadonlyArray<PolicyGate>
): PolicyRequest => ({
  targetId,
  image: "registry.sluice.dev/agent:1.0.0",
  workload: w,
  scan: undefined,
  ...(gates === undefined ? {} : { gates })
})
