// The "typical" workload the policy benchmarks evaluate: a Pod with 3 containers (an init
// container, the agent and a sidecar), hardened, with limits, a read-only host path and a Trivy
// report with a few findings below the threshold. It is allowed by the built-in policies, so every
// rule runs to completion.
const DIGEST = `sha256:${"4b3c0e8a61a8d8f7".repeat(4)}`
export const IMAGE = `registry.sluice.dev/agents/fleet-agent:4.2.0@${DIGEST}`

const hardened = {
  runAsNonRoot: true,
  runAsUser: 10001,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] }
}

export const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "fleet-agent-0",
    namespace: "fleet",
    labels: { app: "fleet-agent", "app.kubernetes.io/version": "4.2.0" },
    annotations: { "sluice.dev/rollout": "r-1" }
  },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
    initContainers: [
      {
        name: "config-init",
        image: `registry.sluice.dev/tools/config-init:1.0.4@${DIGEST}`,
        securityContext: hardened,
        resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "50m", memory: "32Mi" } },
        volumeMounts: [{ name: "config", mountPath: "/etc/agent" }]
      }
    ],
    containers: [
      {
        name: "agent",
        image: IMAGE,
        securityContext: hardened,
        resources: { limits: { cpu: "1", memory: "512Mi" }, requests: { cpu: "250m", memory: "256Mi" } },
        volumeMounts: [
          { name: "config", mountPath: "/etc/agent", readOnly: true },
          { name: "varlog", mountPath: "/var/log", readOnly: true }
        ]
      },
      {
        name: "metrics-sidecar",
        image: `registry.sluice.dev/tools/metrics-proxy:0.3.1@${DIGEST}`,
        securityContext: hardened,
        resources: { limits: { cpu: "200m", memory: "128Mi" }, requests: { cpu: "50m", memory: "64Mi" } }
      }
    ],
    volumes: [
      { name: "config", emptyDir: {} },
      { name: "varlog", hostPath: { path: "/var/log" } }
    ]
  }
}

export const scanRaw = {
  SchemaVersion: 2,
  ArtifactName: IMAGE,
  ArtifactType: "container_image",
  Results: [
    {
      Target: `${IMAGE} (alpine 3.20.3)`,
      Class: "os-pkgs",
      Type: "alpine",
      Vulnerabilities: [
        {
          VulnerabilityID: "CVE-2024-9143",
          PkgName: "libcrypto3",
          InstalledVersion: "3.3.2-r0",
          FixedVersion: "3.3.2-r1",
          Severity: "MEDIUM"
        },
        { VulnerabilityID: "CVE-2024-0002", PkgName: "busybox", InstalledVersion: "1.36.1-r29", Severity: "LOW" }
      ]
    }
  ]
}

export const request = (targetId = "fleet/fleet-agent-0") => ({
  targetId,
  image: IMAGE,
  workload: { source: "kubernetes", object: pod },
  scan: { image: IMAGE, findings: [], raw: scanRaw }
})
