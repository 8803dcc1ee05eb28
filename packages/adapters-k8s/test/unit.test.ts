/** The adapter's pure parts: selector and configuration decoding, template rendering, selectors. */
import type { Artifact } from "@sluice/core"
import { parseImageRef } from "@sluice/core"
import * as fs from "node:fs"
import { loadYaml } from "@kubernetes/client-node"
import { decodeRolloutSpec } from "@sluice/core"
import { Effect, Exit, Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { KubernetesAdapter, KubernetesAdapterConfig, KubernetesSelector } from "../src/index.js"
import { labelSelectorOf, selectorString } from "../src/kube.js"
import { targetId } from "../src/targets.js"
import { CONFIG_HASH_ANNOTATION, configMapFor, isRendered, renderTemplate } from "../src/template.js"

const decode = Schema.decodeUnknownResult(KubernetesSelector, { errors: "all", onExcessProperty: "error" })
const messageOf = (input: unknown) => {
  const r = decode(input)
  return Result.isFailure(r) ? r.failure.message : "ok"
}

describe("KubernetesSelector", () => {
  it("accepts a DaemonSet by name and a fleet of Deployments by labels", () => {
    expect(messageOf({ namespace: "agents", kind: "DaemonSet", name: "node-agent", nodeSelector: { pool: "a" } })).toBe(
      "ok"
    )
    expect(messageOf({ kind: "Deployment", labelSelector: { tier: "edge" } })).toBe("ok")
    expect(messageOf({ kind: "StatefulSet", namespace: "db", labelSelector: "app in (pg)" })).toBe("ok")
  })
  it("rejects unknown fields, bad kinds and contradictions, naming what is wrong", () => {
    expect(messageOf({ namespace: "a", kind: "DaemonSet", name: "x", nodeSelecter: {} })).toMatch(/nodeSelecter/)
    expect(messageOf({ namespace: "a", kind: "ReplicaSet", name: "x" })).toMatch(/kind/)
    expect(messageOf({ namespace: "a", kind: "DaemonSet" })).toMatch(/needs `name` or `labelSelector`/)
    expect(messageOf({ namespace: "a", kind: "DaemonSet", name: "x", labelSelector: "a=b" })).toMatch(/not both/)
    expect(messageOf({ kind: "DaemonSet", name: "x" })).toMatch(/needs a `namespace`/)
    expect(messageOf({ namespace: "a", kind: "Deployment", name: "x", nodeSelector: {} })).toMatch(/DaemonSets only/)
    expect(messageOf({ namespace: "Not_A_Name", kind: "Deployment", name: "x" })).toMatch(/Kubernetes object name/)
  })
})

describe("adapter configuration", () => {
  const build = (config: unknown) => Effect.runPromiseExit(Effect.scoped(KubernetesAdapter.make(config as never)))
  it("rejects unknown keys (a typo never falls back to another cluster)", async () => {
    const exit = await build({ kubeconfg: "/tmp/x" })
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/kubeconfg/)
  })
  it("names a kubeconfig that does not exist and a context it does not have", async () => {
    const missing = await build({ kubeconfig: "/nonexistent/kubeconfig" })
    expect(Exit.isFailure(missing) && JSON.stringify(missing.cause)).toMatch(/\/nonexistent\/kubeconfig: no such file/)
  })
})

describe("adapter configuration: clusters", () => {
  const build = (config: unknown) => Effect.runPromiseExit(Effect.scoped(KubernetesAdapter.make(config as never)))
  const failure = async (config: unknown) => {
    const exit = await build(config)
    return Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "built"
  }
  it("decodes strictly: every problem with its path, unknown keys with a did-you-mean", async () => {
    const shape = await failure({
      clusters: [
        { name: "east", kubeconfg: "/tmp/a" },
        { name: "has/slash", kubeconfig: "/tmp/c" }
      ]
    })
    expect(shape).toContain("clusters[0].kubeconfg: unknown field (did you mean kubeconfig?)")
    expect(shape).toContain("clusters[1].name: expected a cluster name usable as a label value")
    // Once the shape is right, the checks across fields and entries.
    const rules = await failure({
      clusters: [
        { name: "east", kubeconfig: "/tmp/a" },
        { name: "east", kubeconfig: "/tmp/b" }
      ]
    })
    expect(rules).toContain('clusters[1].name: duplicate cluster name \\"east\\" (clusters[0])')
    expect(
      await failure({ clusters: [{ name: "east", kubeconfig: "/tmp/a" }], context: "x", inCluster: true })
    ).toContain(
      "context: with clusters, context goes in each cluster (clusters[i].context), not at the top level; inCluster: with clusters, inCluster goes in each cluster"
    )
    expect(await failure({ clusters: [] })).toContain("clusters")
    expect(
      await failure({
        clusters: [
          { name: "a", kubeconfig: "/tmp/k", context: "c" },
          { name: "b", kubeconfig: "/tmp/k", context: "c" }
        ]
      })
    ).toContain("clusters[1]: clusters[0] already connects with the same kubeconfig and context")
  })
  it("names the cluster whose kubeconfig cannot be loaded", async () => {
    expect(await failure({ clusters: [{ name: "west", kubeconfig: "/nonexistent/west" }] })).toContain(
      "cluster west: kubeconfig /nonexistent/west: no such file"
    )
  })
})

describe("targets and their clusters", () => {
  // A kubeconfig whose server nothing answers: these checks happen before any request.
  const file = `${fs.mkdtempSync("/tmp/sluice-unit-")}/kubeconfig`
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [
        { name: "a", context: { cluster: "c", user: "u" } },
        { name: "b", context: { cluster: "c", user: "u" } }
      ],
      "current-context": "a"
    })
  )
  const target = (cluster?: string) => ({
    id: `${cluster === undefined ? "" : `${cluster}/`}ns/daemonset/agent/node-1`,
    name: "agent/node-1",
    labels: {},
    data: { v: 1, kind: "DaemonSet", namespace: "ns", name: "agent", node: "node-1", ...(cluster ? { cluster } : {}) }
  })
  const failureOf = (
    config: unknown,
    run: (a: Effect.Success<ReturnType<typeof KubernetesAdapter.make>>) => Effect.Effect<unknown, unknown>
  ) =>
    Effect.runPromise(
      Effect.scoped(Effect.flatMap(KubernetesAdapter.make(config as never), (a) => Effect.flip(run(a)))).pipe(
        Effect.map((e) => String((e as { message?: string }).message))
      )
    )
  const two = {
    clusters: [
      { name: "east", kubeconfig: file, context: "a" },
      { name: "west", kubeconfig: file, context: "b" }
    ]
  }

  it("a target of a cluster the configuration does not name is refused, never sent to another cluster", async () => {
    expect(await failureOf(two, (a) => a.health(target("gone")))).toBe(
      "gone/ns/daemonset/agent/node-1 is in cluster gone, which the adapter configuration does not name (it has: east, west)"
    )
    expect(await failureOf(two, (a) => a.finalize([target("east"), target("gone")]))).toContain("is in cluster gone")
    expect(await failureOf(two, (a) => a.health(target()))).toBe(
      "ns/daemonset/agent/node-1 was discovered by a single-cluster adapter; this one has clusters east, west"
    )
    expect(await failureOf({ kubeconfig: file }, (a) => a.health(target("east")))).toContain(
      "which the adapter configuration does not name (it has no clusters)"
    )
  })
})

describe("README: Many clusters in one rollout, as written", () => {
  const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
  const start = readme.indexOf("\n## Many clusters in one rollout\n")
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
  const fenced = (lang: string) =>
    [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1] ?? "")
  const strict = { errors: "all", onExcessProperty: "error" } as const
  it("the --adapter-config file and the layer call decode; the topology line decodes in a spec", () => {
    const [file, topology] = fenced("yaml")
    expect(start).toBeGreaterThan(0)
    expect(Result.isSuccess(Schema.decodeUnknownResult(KubernetesAdapterConfig, strict)(loadYaml(file ?? "")))).toBe(
      true
    )
    const call = /KubernetesAdapter\.layer\(([\s\S]*?)\)\n/.exec(fenced("ts")[0] ?? "")?.[1] ?? ""
    const config = JSON.parse(call.replace(/(\w+):/g, '"$1":'))
    expect(config.clusters).toHaveLength(2)
    expect(Result.isSuccess(Schema.decodeUnknownResult(KubernetesAdapterConfig, strict)(config))).toBe(true)
    const spec = decodeRolloutSpec({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "agent" },
      spec: {
        target: { adapter: "kubernetes", selector: { namespace: "agents", kind: "DaemonSet", name: "agent" } },
        artifact: { image: "registry.sluice.dev/agent:2" },
        strategy: { rolling: { batchSize: 1 } },
        ...(loadYaml(topology ?? "") as object)
      }
    })
    expect(Result.isSuccess(spec) && spec.success.spec.topology?.groupBy).toBe("sluice.dev/cluster")
  })
})

describe("label selectors", () => {
  it("renders matchLabels and every matchExpressions operator as the API's query syntax", () => {
    expect(
      selectorString({
        matchLabels: { app: "agent" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["a", "b"] },
          { key: "zone", operator: "NotIn", values: ["x"] },
          { key: "canary", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist" }
        ]
      })
    ).toBe("app=agent,tier in (a,b),zone notin (x),canary,!legacy")
    expect(labelSelectorOf({ a: "1", b: "2" })).toBe("a=1,b=2")
    expect(labelSelectorOf("a=1")).toBe("a=1")
  })
})

describe("template rendering", () => {
  const image = (raw: string): Artifact["image"] => Result.getOrThrow(parseImageRef(raw))
  const template = {
    metadata: { labels: { app: "agent" } },
    spec: {
      containers: [
        { name: "sidecar", image: "registry.sluice.dev/proxy:1" },
        {
          name: "agent",
          image: "registry.sluice.dev/agents/node-agent:1.0.0",
          env: [{ name: "A", value: "1" }],
          volumeMounts: [{ name: "config", mountPath: "/etc/agent" }]
        }
      ],
      volumes: [{ name: "config", configMap: { name: "agent-config" } }]
    }
  }
  const d = { v: 1, kind: "DaemonSet", namespace: "ns", name: "agent", node: "n1" } as const

  it("changes the container that runs the artifact's repository, nothing else", () => {
    const artifact: Artifact = { image: image("registry.sluice.dev/agents/node-agent:2.0.0") }
    const out = renderTemplate(template, artifact, d)
    expect(out.missing).toBeUndefined()
    expect(out.template.spec?.containers.map((c) => c.image)).toEqual([
      "registry.sluice.dev/proxy:1",
      "registry.sluice.dev/agents/node-agent:2.0.0"
    ])
    expect(out.template.spec?.volumes).toEqual(template.spec.volumes)
    expect(isRendered(out.template, artifact, d)).toBe(true)
    expect(isRendered(template, artifact, d)).toBe(false)
  })
  it("a named container wins; a missing one is an error naming the containers there are", () => {
    const artifact: Artifact = { image: image("registry.sluice.dev/other:2") }
    expect(renderTemplate(template, artifact, { ...d, container: "sidecar" }).template.spec?.containers[0]?.image).toBe(
      "registry.sluice.dev/other:2"
    )
    expect(renderTemplate(template, artifact, { ...d, container: "nope" }).missing).toBe(
      'no container named "nope" (has: sidecar, agent)'
    )
  })
  it("config with the image: env merged, files in an immutable ConfigMap named by their hash, volume repointed", () => {
    const artifact: Artifact = {
      image: image("registry.sluice.dev/agents/node-agent:2.0.0"),
      config: { env: { A: "2", B: "3" }, files: { "/etc/agent/agent.yaml": "level: debug\n" } }
    }
    const withVolume = { ...d, configVolume: "config" }
    const cm = configMapFor(withVolume, artifact)
    expect(cm?.immutable).toBe(true)
    expect(cm?.data).toEqual({ "etc_agent_agent.yaml": "level: debug\n" })
    expect(cm?.metadata?.name).toMatch(/^agent-sluice-[0-9a-f]{10}$/)
    // The same content is the same object; other content another.
    expect(configMapFor(withVolume, artifact)?.metadata?.name).toBe(cm?.metadata?.name)
    const other = configMapFor(withVolume, {
      ...artifact,
      config: { files: { "/etc/agent/agent.yaml": "level: info\n" } }
    })
    expect(other?.metadata?.name).not.toBe(cm?.metadata?.name)
    const out = renderTemplate(template, artifact, withVolume).template
    expect(out.spec?.containers[1]?.env).toEqual([
      { name: "A", value: "2" },
      { name: "B", value: "3" }
    ])
    expect(out.spec?.volumes?.[0]).toEqual({
      name: "config",
      configMap: { name: cm?.metadata?.name, items: [{ key: "etc_agent_agent.yaml", path: "agent.yaml" }] }
    })
    expect(out.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/)
    expect(renderTemplate(template, artifact, { ...d, configVolume: "missing" }).missing).toMatch(/no volume named/)
  })
})

describe("target ids", () => {
  it("keep a workload's targets together and name the node or ordinal", () => {
    expect(targetId({ v: 1, kind: "DaemonSet", namespace: "a", name: "b", node: "n" })).toBe("a/daemonset/b/n")
    expect(targetId({ v: 1, kind: "StatefulSet", namespace: "a", name: "b" }, 3)).toBe("a/statefulset/b/3")
    expect(targetId({ v: 1, kind: "Deployment", namespace: "a", name: "b" })).toBe("a/deployment/b")
  })
})
