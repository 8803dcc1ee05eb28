/**
 * The namespace in the policy view (issue 13's pre-flight): `render` reads each target's namespace
 * (GET, its labels) once per namespace for a whole gate evaluation, not once per target: a DaemonSet
 * over N nodes is N targets in one namespace. Counted with the adapter's own request counter on the
 * real control plane; a namespace that does not exist is a permanent error naming it, never a view
 * without labels.
 */
import { type Artifact, parseImageRef, type TargetState } from "@sluice/core"
import { Effect, Exit, Result } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { KubernetesAdapter } from "../../src/index.js"
import { clusterInfo, describeWithCluster, kube, uniqueSuffix } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { createAgentDaemonSet, IMAGE } from "../adapter/support/daemonset.js"

const NODES = 20

const artifact: Artifact = { image: Result.getOrThrow(parseImageRef(IMAGE("2.0.0"))) }

describeWithCluster("the namespace in the policy view: one read per namespace per gate evaluation", () => {
  const nodes = useKwokNodes(NODES)
  const suffix = uniqueSuffix()
  const namespaces = [
    {
      name: `psa-reads-a-${suffix}`,
      labels: { "pod-security.kubernetes.io/enforce": "baseline", team: "agents" }
    },
    { name: `psa-reads-b-${suffix}`, labels: {} }
  ]

  beforeAll(async () => {
    for (const { name, labels } of namespaces) {
      await kube().core.createNamespace({ body: { metadata: { name, labels } } })
      await createAgentDaemonSet({
        namespace: name,
        name: "agent",
        image: IMAGE("1.0.0"),
        pool: nodes().pools[0] ?? "",
        nodes: NODES
      })
    }
  }, 300_000)

  afterAll(async () => {
    for (const { name } of namespaces)
      await kube()
        .core.deleteNamespace({ name })
        .catch(() => undefined)
  })

  it(`${2 * NODES} DaemonSet node targets in 2 namespaces, rendered concurrently as the gate does: 2 namespace GETs, each view with its namespace's labels`, async () => {
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const adapter = yield* KubernetesAdapter.make({ kubeconfig: clusterInfo().kubeconfig ?? "" })
          const targets = (yield* Effect.forEach(namespaces, ({ name }) =>
            adapter.discover({ namespace: name, kind: "DaemonSet", name: "agent" })
          )).flat()
          const states = yield* Effect.forEach(targets, (t) => adapter.inspect(t), { concurrency: 16 })
          // inspect stays on the watch-fed caches: only render reads the namespace.
          const beforeRender = adapter.kube.namespaceGets
          const render = adapter.render
          if (render === undefined) throw new Error("the kubernetes adapter has no render")
          const rendered = yield* Effect.forEach(states, (s) => render(s, artifact), { concurrency: 16 })
          return { targets, beforeRender, gets: adapter.kube.namespaceGets, rendered }
        })
      )
    )
    expect(outcome.targets).toHaveLength(2 * NODES)
    expect(outcome.beforeRender).toBe(0)
    expect(outcome.gets).toBe(namespaces.length)
    expect(outcome.rendered).toHaveLength(2 * NODES)
    for (const [i, source] of outcome.rendered.entries()) {
      const want = namespaces.find((n) => outcome.targets[i]?.id.startsWith(`${n.name}/`))
      expect(source.source).toBe("kubernetes")
      if (source.source !== "kubernetes" || want === undefined) throw new Error(`unexpected ${source.source}`)
      expect(source.namespace?.name).toBe(want.name)
      // The namespace's own labels, and the one the apiserver adds to every namespace.
      expect(source.namespace?.labels).toEqual({ ...want.labels, "kubernetes.io/metadata.name": want.name })
    }
  }, 120_000)

  it("a target whose namespace does not exist (deleted since discovery): a permanent error naming the namespace", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const adapter = yield* KubernetesAdapter.make({ kubeconfig: clusterInfo().kubeconfig ?? "" })
          const [target] = yield* adapter.discover({ namespace: namespaces[0]?.name, kind: "DaemonSet", name: "agent" })
          if (target === undefined) throw new Error("no target discovered")
          const state = yield* adapter.inspect(target)
          const gone = `psa-reads-gone-${suffix}`
          const moved: TargetState = {
            ...state,
            target: { ...target, data: { ...(target.data as object), namespace: gone } }
          }
          return yield* (adapter.render ?? (() => Effect.die("no render")))(moved, artifact)
        })
      )
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (!Exit.isFailure(exit)) return
    const error = Exit.findErrorOption(exit)
    expect(error._tag).toBe("Some")
    if (error._tag !== "Some") return
    expect(error.value._tag).toBe("AdapterError")
    expect(error.value._tag === "AdapterError" && error.value.transient).toBe(false)
    expect(error.value.message).toContain(`namespace psa-reads-gone-${suffix} not found`)
  }, 60_000)
})
