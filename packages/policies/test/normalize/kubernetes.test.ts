import { describe, expect, it } from "vitest"
import { normalizeKubernetes } from "../../src/index.js"
import { getFailure, getOrThrow, loadFixture } from "../helpers.js"

describe("normalizeKubernetes", () => {
  it("maps a Deployment's pod template (init + app containers, security contexts, limits, host paths)", () => {
    const w = getOrThrow(normalizeKubernetes(loadFixture("kubernetes/deployment-log-shipper.yaml")))
    expect(w).toEqual({
      platform: "kubernetes",
      kind: "Deployment",
      name: "log-shipper",
      namespace: "observability",
      labels: { "app.kubernetes.io/name": "log-shipper", "app.kubernetes.io/version": "2.3.1" },
      annotations: { "sluice.dev/owner": "platform-team" },
      pod: {
        securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 },
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        volumes: [{ name: "config" }, { name: "varlog", hostPath: { path: "/var/log" } }]
      },
      containers: [
        {
          name: "config-init",
          type: "init",
          image: "registry.sluice.dev/tools/config-init:1.0.4",
          securityContext: { capabilities: { add: [], drop: [] } },
          resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: {} },
          volumeMounts: [{ name: "config", mountPath: "/etc/shipper", readOnly: false }]
        },
        {
          name: "shipper",
          type: "container",
          image:
            "registry.sluice.dev/agents/log-shipper:2.3.1@sha256:4b3c0e8a61a8d8f7b0d3a7f4b6b2c7d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f",
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { add: [], drop: ["ALL"] }
          },
          resources: { limits: { cpu: "1", memory: "512Mi" }, requests: { cpu: "250m", memory: "128Mi" } },
          volumeMounts: [
            { name: "config", mountPath: "/etc/shipper", readOnly: true },
            { name: "varlog", mountPath: "/var/log", readOnly: true }
          ]
        }
      ]
    })
  })

  it("maps a DaemonSet with host namespaces, added capabilities and YAML-number quantities", () => {
    const w = getOrThrow(normalizeKubernetes(loadFixture("kubernetes/daemonset-node-exporter.yaml")))
    expect(w.kind).toBe("DaemonSet")
    expect(w.pod).toMatchObject({ hostNetwork: true, hostPID: true, hostIPC: false })
    expect(w.pod.volumes).toEqual([
      { name: "proc", hostPath: { path: "/proc" } },
      { name: "sys", hostPath: { path: "/sys" } },
      { name: "root", hostPath: { path: "/" } },
      { name: "certs", readOnly: true }
    ])
    const [exporter, proxy] = w.containers
    expect(exporter?.securityContext).toEqual({
      runAsUser: 0,
      privileged: false,
      capabilities: { add: ["SYS_TIME", "NET_ADMIN"], drop: [] }
    })
    // `cpu: 0.5`, `memory: 1e9` and `cpu: 1` are YAML numbers: they become quantity strings.
    expect(exporter?.resources).toEqual({ limits: { cpu: "0.5", memory: "1000000000" }, requests: { cpu: "1" } })
    expect(exporter?.volumeMounts.every((m) => m.readOnly)).toBe(true)
    expect(proxy).toMatchObject({ name: "kube-rbac-proxy", image: "quay.io/brancz/kube-rbac-proxy:latest" })
    expect(proxy?.resources).toEqual({ limits: { memory: "32Mi" }, requests: {} })
    expect(w.namespace).toBe("monitoring")
  })

  it("fills every absent field of a minimal StatefulSet with empty objects, lists and false", () => {
    const w = getOrThrow(normalizeKubernetes(loadFixture("kubernetes/statefulset-sensor.yaml")))
    expect(w).toEqual({
      platform: "kubernetes",
      kind: "StatefulSet",
      name: "security-sensor",
      labels: {},
      annotations: {},
      pod: { securityContext: {}, hostNetwork: false, hostPID: false, hostIPC: false, volumes: [] },
      containers: [
        {
          name: "sensor",
          type: "container",
          image: "127.0.0.1:5000/sensor:0.9.0",
          securityContext: { capabilities: { add: [], drop: [] } },
          resources: { limits: {}, requests: {} },
          volumeMounts: [{ name: "state", mountPath: "/var/lib/sensor", readOnly: false }]
        }
      ]
    })
    expect("namespace" in w).toBe(false)
  })

  it("maps a Pod as returned by the API server, including ephemeral containers and hostIPC", () => {
    const w = getOrThrow(normalizeKubernetes(loadFixture("kubernetes/pod-from-api.json")))
    expect(w).toMatchObject({
      kind: "Pod",
      name: "agent-7d9f8b6c5-x2k4q",
      namespace: "fleet",
      labels: { app: "agent", "pod-template-hash": "7d9f8b6c5" },
      pod: {
        securityContext: {},
        hostIPC: true,
        volumes: [
          { name: "kube-api-access-9xq2m" },
          { name: "docker-sock", hostPath: { path: "/var/run/docker.sock" } }
        ]
      }
    })
    expect(w.containers.map((c) => [c.name, c.type])).toEqual([
      ["agent", "container"],
      ["debugger-abcde", "ephemeral"]
    ])
    expect(w.containers[0]?.securityContext).toEqual({
      runAsNonRoot: false,
      privileged: true,
      capabilities: { add: [], drop: [] }
    })
    expect(w.containers[0]?.volumeMounts[1]).toEqual({
      name: "docker-sock",
      mountPath: "/var/run/docker.sock",
      readOnly: false
    })
    expect(w.containers[1]?.securityContext.capabilities.add).toEqual(["SYS_PTRACE"])
    expect(w.containers[1]?.resources).toEqual({ limits: {}, requests: {} })
  })

  it("treats explicit nulls like absent fields", () => {
    const w = getOrThrow(
      normalizeKubernetes({
        kind: "Pod",
        metadata: { name: "p", labels: null, annotations: { a: null, b: "x" } },
        spec: {
          securityContext: null,
          volumes: null,
          containers: [{ name: "c", image: "i:1", securityContext: { capabilities: null }, resources: null }]
        }
      })
    )
    expect(w.labels).toEqual({})
    expect(w.annotations).toEqual({ b: "x" })
    expect(w.containers[0]?.securityContext).toEqual({ capabilities: { add: [], drop: [] } })
  })

  it("uses generateName when a Pod has no name yet", () => {
    const w = getOrThrow(
      normalizeKubernetes({ kind: "Pod", metadata: { generateName: "agent-" }, spec: { containers: [] } })
    )
    expect(w.name).toBe("agent-")
  })

  it("rejects a workload without metadata.name or generateName", () => {
    const e = getFailure(normalizeKubernetes({ kind: "Deployment", spec: { template: { spec: { containers: [] } } } }))
    expect(e.message).toBe("invalid Deployment: metadata.name is required")
  })

  it("rejects kinds that are not workloads", () => {
    const e = getFailure(normalizeKubernetes(loadFixture("kubernetes/configmap.yaml")))
    expect(e.message).toMatch(/unsupported Kubernetes object kind "ConfigMap"/)
    expect(getFailure(normalizeKubernetes("not an object")).message).toMatch(/unsupported Kubernetes object kind null/)
  })

  it("rejects wrongly typed fields and names every bad path", () => {
    const e = getFailure(normalizeKubernetes(loadFixture("kubernetes/deployment-bad-types.yaml")))
    expect(e.message).toMatch(/invalid Deployment/)
    expect(e.message).toMatch(/\["securityContext"\]\["runAsUser"\]/)
    expect(e.message).toMatch(/\["privileged"\]/)
  })

  it("rejects a Deployment without a pod template", () => {
    const e = getFailure(normalizeKubernetes({ kind: "Deployment", metadata: { name: "x" }, spec: {} }))
    expect(e.message).toMatch(/\["spec"\]\["template"\]/)
  })
})
