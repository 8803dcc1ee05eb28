/**
 * The Pod Security profiles as the pre-flight gate of a real DaemonSet rollout (issue 13): an agent
 * that meets `restricted` runs in namespaces enforcing `restricted` and `baseline`; its next version
 * drops `runAsNonRoot`.
 *
 * - With the spec's `gates.policy.profiles` naming each namespace's level (the engine gets them as
 *   policy data, as the CLI passes them), the rollout in the restricted namespace is blocked before
 *   anything is patched (same resourceVersion, no pod deleted), and the same version in the baseline
 *   namespace rolls out. The apiserver agrees: the restricted namespace refuses a pod of the new
 *   template (dry run).
 * - With NO profile in the spec, the adapter reads the namespace's own
 *   `pod-security.kubernetes.io/*` labels (`WorkloadSource.namespace`): `enforce=restricted` blocks
 *   with the check and the namespace named, `enforce=baseline` lets it roll, and `warn=restricted`
 *   rolls it with the check as a warning of the pre-flight gate.
 */
import { ApiException, type V1DaemonSet } from "@kubernetes/client-node"
import {
  configFromSpec,
  EventSink,
  type GateViolation,
  MemoryStoreLayer,
  makeMemoryStore,
  parseRolloutSpec,
  planWaves,
  type RolloutEvent,
  startRollout
} from "@sluice/core"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { KubernetesAdapter } from "../../src/index.js"
import { clusterInfo, describeWithCluster, kube, uniqueSuffix } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { IMAGE, podImages, watchPods } from "../adapter/support/daemonset.js"

const NODES = 3

/** The rollout of v2; `level` selects that Pod Security profile in the spec, none without it. */
const spec = (namespace: string, level?: string) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${namespace}, kind: DaemonSet, name: agent }
  artifact: { image: "${IMAGE("2.0.0")}" }
  strategy: { rolling: { batchSize: 1, maxUnavailable: 1 } }
  health: { progressDeadline: 60s, minReadySeconds: 0 }
  gates: { policy: { enabled: true${level === undefined ? "" : `, profiles: [pod-security/${level}]`} }, scan: { enabled: false } }
  rollback: { onFailure: true, onAbort: true }
`

/**
 * Plans and runs a rollout with the built-in bundle as an embedder loads it (no data of its own):
 * the engine hands the spec's profiles to the policies itself; `events` collects what it emitted.
 */
const run = async (yaml: string, rolloutId: string, events: Array<RolloutEvent> = []) => {
  const parsed = parseRolloutSpec(yaml, { source: "test" })
  if (Result.isFailure(parsed)) throw new Error(parsed.failure.message)
  const spec = parsed.success
  const config = configFromSpec(spec, rolloutId, { operations: { retryBaseMs: 50 } })
  const layer = Layer.mergeAll(
    // The test images are on a registry nobody answers at (kwok nodes pull nothing).
    KubernetesAdapter.layer({ kubeconfig: clusterInfo().kubeconfig ?? "", resolveDigests: false }),
    PolicyEngineLive.layer,
    MemoryStoreLayer(makeMemoryStore()),
    EventSink.fromCallback((e) => {
      events.push(e)
    })
  )
  return Effect.runPromise(
    startRollout({ config, spec: yaml, plan: (inventory) => planWaves(spec, inventory) }).pipe(Effect.provide(layer))
  )
}

/** An agent that meets restricted (and Sluice's own rules). */
const template = (pool: string, runAsNonRoot: boolean) => ({
  metadata: { labels: { app: "agent" } },
  spec: {
    nodeSelector: { "sluice.dev/pool": pool },
    terminationGracePeriodSeconds: 1,
    securityContext: {
      ...(runAsNonRoot ? { runAsNonRoot: true } : {}),
      runAsUser: 10001,
      seccompProfile: { type: "RuntimeDefault" }
    },
    containers: [
      {
        name: "agent",
        image: IMAGE("1.0.0"),
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] }
        },
        resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "10m", memory: "16Mi" } }
      }
    ]
  }
})

/** The pre-flight (wave-less) decision of the policy gate. */
const preflightPolicy = (events: ReadonlyArray<RolloutEvent>) => {
  const decided = events.filter(
    (e): e is Extract<RolloutEvent, { type: "gateDecided" }> =>
      e.type === "gateDecided" && e.gate === "policy" && e.wave === undefined
  )
  expect(decided).toHaveLength(1)
  return decided[0] as Extract<RolloutEvent, { type: "gateDecided" }>
}

const texts = (vs: ReadonlyArray<GateViolation>) => vs.map((v) => `${v.rule}: ${v.message}`)

const RUN_AS_NON_ROOT = 'runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)'

describeWithCluster("pod-security profiles as the pre-flight gate of a DaemonSet rollout", () => {
  const nodes = useKwokNodes(NODES)
  const suffix = uniqueSuffix()
  const ns = (level: string) => `psa-pre-${level}-${suffix}`
  /** Namespaces whose own labels give the level; the spec selects no profile. */
  const labelled = {
    restricted: { "pod-security.kubernetes.io/enforce": "restricted" },
    baseline: { "pod-security.kubernetes.io/enforce": "baseline" },
    warn: { "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted" }
  } as const
  const nsl = (which: keyof typeof labelled) => `psa-nsl-${which}-${suffix}`

  /**
   * Creates the agent (v1, runs everywhere), then changes its template the way a chart upgrade to
   * v2 would (runAsNonRoot dropped) with OnDelete, so no pod is replaced until Sluice rolls it.
   */
  const agentWithV2Template = async (namespace: string): Promise<V1DaemonSet> => {
    const { apps } = kube()
    const pool = nodes().pools[0] ?? ""
    await apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: "agent", labels: { app: "agent" } },
        spec: {
          selector: { matchLabels: { app: "agent" } },
          updateStrategy: { type: "OnDelete" },
          template: template(pool, true)
        }
      }
    })
    await waitFor(
      `the agent on ${NODES} nodes in ${namespace}`,
      async () => {
        const s = (await apps.readNamespacedDaemonSet({ name: "agent", namespace })).status
        return s?.numberAvailable === NODES && s.desiredNumberScheduled === NODES ? true : notYet(s)
      },
      { timeoutMs: 150_000 }
    )
    const current = await apps.readNamespacedDaemonSet({ name: "agent", namespace })
    await apps.replaceNamespacedDaemonSet({
      name: "agent",
      namespace,
      body: { ...current, spec: { ...current.spec!, template: template(pool, false) } }
    })
    let last = ""
    return waitFor(
      "the DaemonSet's status to settle",
      async () => {
        const d = await apps.readNamespacedDaemonSet({ name: "agent", namespace })
        const settled = d.status?.observedGeneration === d.metadata?.generation && d.metadata?.resourceVersion === last
        last = d.metadata?.resourceVersion ?? ""
        return settled ? d : notYet(d.status)
      },
      { intervalMs: 1000, timeoutMs: 60_000 }
    )
  }

  const namespaces = () => [
    ...["restricted", "baseline"].map((level) => ({
      name: ns(level),
      labels: { "pod-security.kubernetes.io/enforce": level }
    })),
    ...(["restricted", "baseline", "warn"] as const).map((which) => ({ name: nsl(which), labels: labelled[which] }))
  ]

  beforeAll(async () => {
    for (const { name, labels } of namespaces())
      await kube().core.createNamespace({ body: { metadata: { name, labels } } })
  })

  afterAll(async () => {
    for (const { name } of namespaces())
      await kube()
        .core.deleteNamespace({ name })
        .catch(() => undefined)
  })

  it("restricted namespace, restricted profile: v2 without runAsNonRoot is blocked, nothing patched, and the apiserver would refuse its pods", async () => {
    const namespace = ns("restricted")
    const frozen = await agentWithV2Template(namespace)
    const watch = await watchPods(namespace, "agent", nodes().names)
    try {
      const result = await run(spec(namespace, "restricted"), "psa-restricted")
      expect(result.outcome).toBe("blocked")
      expect(result.violations.map((v) => `${v.rule}: ${v.message}`)).toContain(
        'pod-security/runAsNonRoot: runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)'
      )
      const after = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace })
      expect(after.metadata?.resourceVersion).toBe(frozen.metadata?.resourceVersion)
      expect(watch.deletions()).toHaveLength(0)
      expect((await podImages(namespace, "agent")).every((p) => p.image === IMAGE("1.0.0"))).toBe(true)
    } finally {
      watch.stop()
    }
    // The cluster's own verdict on a pod of that template.
    const refused = await kube()
      .core.createNamespacedPod({
        namespace,
        body: { metadata: { name: "probe" }, spec: { ...frozen.spec!.template.spec!, nodeSelector: {} } },
        dryRun: "All"
      })
      .then(
        () => "admitted",
        (e: unknown) => (e instanceof ApiException ? String(e.body) : String(e))
      )
    expect(refused).toContain('violates PodSecurity \\"restricted:latest\\": runAsNonRoot != true')
  }, 300_000)

  it("baseline namespace, baseline profile: the same v2 rolls out on every node", async () => {
    const namespace = ns("baseline")
    await agentWithV2Template(namespace)
    const result = await run(spec(namespace, "baseline"), "psa-baseline")
    expect(result.outcome, JSON.stringify(result.violations)).toBe("completed")
    const pods = await podImages(namespace, "agent")
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0"))).toBe(true)
  }, 300_000)

  it("no profile in the spec, namespace enforcing restricted: v2 without runAsNonRoot is blocked by the namespace's label, nothing patched", async () => {
    const namespace = nsl("restricted")
    const frozen = await agentWithV2Template(namespace)
    const watch = await watchPods(namespace, "agent", nodes().names)
    const events: Array<RolloutEvent> = []
    try {
      const result = await run(spec(namespace), "psa-ns-restricted", events)
      expect(result.outcome).toBe("blocked")
      // The check, and the namespace and label it comes from.
      const expected = `pod-security/runAsNonRoot: namespace "${namespace}" (pod-security.kubernetes.io/enforce=restricted): ${RUN_AS_NON_ROOT}`
      expect(result.violations.map((v) => `${v.rule}: ${v.message}`)).toContain(expected)
      const gate = preflightPolicy(events)
      expect(gate.allow).toBe(false)
      expect(texts(gate.violations)).toContain(expected)
      const after = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace })
      expect(after.metadata?.resourceVersion).toBe(frozen.metadata?.resourceVersion)
      expect(watch.deletions()).toHaveLength(0)
      expect((await podImages(namespace, "agent")).every((p) => p.image === IMAGE("1.0.0"))).toBe(true)
    } finally {
      watch.stop()
    }
  }, 300_000)

  it("no profile in the spec, namespace enforcing baseline: the same v2 rolls out on every node, without Pod Security warnings", async () => {
    const namespace = nsl("baseline")
    await agentWithV2Template(namespace)
    const events: Array<RolloutEvent> = []
    const result = await run(spec(namespace), "psa-ns-baseline", events)
    expect(result.outcome, JSON.stringify(result.violations)).toBe("completed")
    const gate = preflightPolicy(events)
    expect(gate.allow).toBe(true)
    // warn defaults to the enforce level: baseline, which v2 meets.
    expect(texts(gate.warnings).filter((w) => w.startsWith("pod-security/"))).toEqual([])
    const pods = await podImages(namespace, "agent")
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0"))).toBe(true)
  }, 300_000)

  it("no profile in the spec, namespace enforcing baseline and warning restricted: v2 rolls out, the gate event carries the warning", async () => {
    const namespace = nsl("warn")
    await agentWithV2Template(namespace)
    const events: Array<RolloutEvent> = []
    const result = await run(spec(namespace), "psa-ns-warn", events)
    expect(result.outcome, JSON.stringify(result.violations)).toBe("completed")
    const gate = preflightPolicy(events)
    expect(gate.allow).toBe(true)
    expect(texts(gate.violations)).toEqual([])
    expect(texts(gate.warnings)).toContain(
      `pod-security/runAsNonRoot: namespace "${namespace}" (pod-security.kubernetes.io/warn=restricted): ${RUN_AS_NON_ROOT}`
    )
    const pods = await podImages(namespace, "agent")
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0"))).toBe(true)
  }, 300_000)
})
