/**
 * The kubernetes adapter's wiring in the CLI, up to the point where a cluster would be needed:
 * the connection flags, the strict --adapter-config, the selector schema, and the connection a
 * rollout keeps for `resume`. Rollouts on a real control plane are in
 * packages/adapters-k8s/test/adapter/rbac.test.ts (through this CLI) and `npm run demo:k8s`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseArgs } from "../src/args.js"
import { applyCommand, resumeCommand } from "../src/commands/specs.js"
import { captureIo } from "../src/io.js"
import { kubernetesConfigOf } from "../src/runtime.js"
import { sluice, tmpStore } from "./helpers.js"

const SPEC = `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: agents, kind: DaemonSet, name: node-agent }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { rolling: { batchSize: 10% } }
  topology: { key: topology.kubernetes.io/zone }
`

/** A kubeconfig with two contexts; its server is never contacted by these tests. */
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: { server: "https://127.0.0.1:1" }
users:
- name: u
  user: { token: not-a-real-token }
contexts:
- name: staging
  context: { cluster: c, user: u }
- name: prod
  context: { cluster: c, user: u }
current-context: staging
`

const setup = () => {
  const dir = tmpStore()
  fs.writeFileSync(path.join(dir, "rollout.yaml"), SPEC)
  fs.writeFileSync(path.join(dir, "kubeconfig"), KUBECONFIG)
  return dir
}

describe("--adapter kubernetes: usage errors before any cluster is contacted (exit 64)", () => {
  it("a kubeconfig that does not exist is named", async () => {
    const dir = setup()
    const r = await sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--kubeconfig",
      path.join(dir, "nope.yaml"),
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain(`--kubeconfig ${path.join(dir, "nope.yaml")}: no such file`)
    expect(r.stderr).not.toMatch(/^\s+at /m)
  })

  it("a context the kubeconfig does not have is named, with the ones it has", async () => {
    const dir = setup()
    const r = await sluice([
      "apply",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--kubeconfig",
      path.join(dir, "kubeconfig"),
      "--context",
      "qa",
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('context "qa" is not in the kubeconfig (it has: staging, prod)')
    expect(r.stderr).toContain(path.join(dir, "kubeconfig"))
    // Nothing was created in the store.
    expect(fs.readdirSync(dir).sort()).toEqual(["kubeconfig", "rollout.yaml"])
  })

  it("--adapter-config is decoded strictly: unknown keys and wrong types are listed with their paths", async () => {
    const dir = setup()
    fs.writeFileSync(path.join(dir, "adapter.yaml"), "kubeconfg: ./kubeconfig\nobserveTimeoutSeconds: -3\n")
    const r = await sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--adapter-config",
      path.join(dir, "adapter.yaml"),
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain("invalid kubernetes adapter configuration in --adapter-config")
    expect(r.stderr).toContain("(2 problems)")
    expect(r.stderr).toMatch(/^\s+kubeconfg: /m)
    expect(r.stderr).toMatch(/^\s+observeTimeoutSeconds: /m)
  })

  it("the selector is checked with the adapter's schema, every problem with its path", async () => {
    const dir = setup()
    const r = await sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--set",
      "spec.target.selector.kind=ReplicaSet",
      "--set",
      "spec.target.selector.nodeSelectr.pool=a",
      "--kubeconfig",
      path.join(dir, "kubeconfig"),
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain("spec.target.selector.kind")
    expect(r.stderr).toContain("spec.target.selector.nodeSelectr")
    expect(r.stderr).toContain("(kubernetes adapter)")
  })

  it("--kubeconfig and --context belong to the kubernetes adapter", async () => {
    const dir = setup()
    const r = await sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--adapter",
      "simulated",
      "--set",
      "spec.target.selector={}",
      "--context",
      "prod",
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain("--context applies to the kubernetes adapter, not simulated")
  })

  it("`sluice apply --help` documents the connection", async () => {
    const r = await sluice(["apply", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("--kubeconfig <file>")
    expect(r.stdout).toContain("--context <name>")
    expect(r.stdout).toContain("simulated (default) | docker | kubernetes")
    expect(r.stdout).toContain("examples/k8s/rbac.yaml")
  })
})

describe("the kubernetes connection", () => {
  const parsed = (argv: ReadonlyArray<string>, command = applyCommand) => parseArgs(command, argv)

  it("--kubeconfig is relative to the current directory; --adapter-config's kubeconfig to that file", async () => {
    const dir = setup()
    fs.mkdirSync(path.join(dir, "conf"))
    fs.writeFileSync(path.join(dir, "conf", "kc"), KUBECONFIG)
    fs.writeFileSync(path.join(dir, "conf", "adapter.yaml"), "kubeconfig: kc\nfieldManager: ops\n")
    const { io } = captureIo({ cwd: dir })
    expect(
      await kubernetesConfigOf(io, parsed(["--kubeconfig", "kubeconfig", "--context", "prod"]), undefined, dir)
    ).toEqual({
      kubeconfig: path.join(dir, "kubeconfig"),
      context: "prod"
    })
    expect(await kubernetesConfigOf(io, parsed(["--adapter-config", "conf/adapter.yaml"]), undefined, dir)).toEqual({
      kubeconfig: path.join(dir, "conf", "kc"),
      fieldManager: "ops"
    })
    // The flags win over the file.
    expect(
      await kubernetesConfigOf(
        io,
        parsed(["--adapter-config", "conf/adapter.yaml", "--kubeconfig", "kubeconfig"]),
        undefined,
        dir
      )
    ).toEqual({ kubeconfig: path.join(dir, "kubeconfig"), fieldManager: "ops" })
  })

  it("$KUBECONFIG is made explicit (so a resume reaches the same cluster)", async () => {
    const dir = setup()
    const { io } = captureIo({ cwd: dir, env: { KUBECONFIG: `kubeconfig${path.delimiter}/elsewhere` } })
    expect(await kubernetesConfigOf(io, parsed([]), undefined, dir)).toEqual({
      kubeconfig: path.join(dir, "kubeconfig")
    })
  })

  it("continuing a rollout reuses the connection it was started with, unless one is given again", async () => {
    const dir = setup()
    fs.mkdirSync(path.join(dir, "r1"))
    fs.writeFileSync(
      path.join(dir, "r1", "kubernetes.json"),
      JSON.stringify({ kubeconfig: path.join(dir, "kubeconfig"), context: "prod" })
    )
    const captured = captureIo({ cwd: "/" })
    expect(await kubernetesConfigOf(captured.io, parsed(["r1"], resumeCommand), "r1", dir)).toEqual({
      kubeconfig: path.join(dir, "kubeconfig"),
      context: "prod"
    })
    expect(captured.stderr).toContain(
      `rollout r1 continues on the cluster it was started on: ${path.join(dir, "kubeconfig")} (context prod)`
    )
    expect(
      await kubernetesConfigOf(captured.io, parsed(["r1", "--context", "staging"], resumeCommand), "r1", dir)
    ).toEqual({ kubeconfig: path.join(dir, "kubeconfig"), context: "staging" })
    // --adapter-config replaces the stored connection as a whole.
    fs.writeFileSync(path.join(dir, "adapter.yaml"), "kubeconfig: rollout.yaml\n")
    await expect(
      kubernetesConfigOf(
        captured.io,
        parsed(["r1", "--adapter-config", path.join(dir, "adapter.yaml")], resumeCommand),
        "r1",
        dir
      )
    ).rejects.toThrow(/kubernetes: /)
  })

  it("--adapter-config names several clusters: each kubeconfig relative to the file, --context refused, a resume lists them", async () => {
    const dir = setup()
    fs.mkdirSync(path.join(dir, "conf"))
    fs.writeFileSync(path.join(dir, "conf", "kc"), KUBECONFIG)
    fs.writeFileSync(
      path.join(dir, "conf", "clusters.yaml"),
      "clusters:\n  - { name: east, kubeconfig: kc, context: staging }\n  - { name: west, context: prod }\nkubeconfig: kc\n"
    )
    const { io } = captureIo({ cwd: dir })
    const config = await kubernetesConfigOf(io, parsed(["--adapter-config", "conf/clusters.yaml"]), undefined, dir)
    expect(config).toEqual({
      kubeconfig: path.join(dir, "conf", "kc"),
      clusters: [
        { name: "east", kubeconfig: path.join(dir, "conf", "kc"), context: "staging" },
        { name: "west", context: "prod" }
      ]
    })
    await expect(
      kubernetesConfigOf(io, parsed(["--adapter-config", "conf/clusters.yaml", "--context", "prod"]), undefined, dir)
    ).rejects.toThrow(/--context does not apply to a configuration with clusters \(east, west\)/)
    // The stored connection of a rollout started on them (what `apply` writes) brings them back.
    fs.mkdirSync(path.join(dir, "r2"))
    fs.writeFileSync(path.join(dir, "r2", "kubernetes.json"), JSON.stringify(config))
    const captured = captureIo({ cwd: "/" })
    expect(await kubernetesConfigOf(captured.io, parsed(["r2"], resumeCommand), "r2", dir)).toEqual(config)
    expect(captured.stderr).toContain(
      `rollout r2 continues on the clusters it was started on: east (${path.join(dir, "conf", "kc")}, context staging), west (${path.join(dir, "conf", "kc")}, context prod)`
    )
  })

  it("a typo in a cluster is a usage error with its path and a did-you-mean (exit 64)", async () => {
    const dir = setup()
    fs.writeFileSync(
      path.join(dir, "adapter.yaml"),
      "clusters:\n  - { name: east, kubeconfig: kubeconfig }\n  - { name: east, kubeconfig: kubeconfig, contxt: prod }\n"
    )
    const r = await sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--adapter-config",
      path.join(dir, "adapter.yaml"),
      "--store",
      dir
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/^\s+clusters\[1\]\.contxt: unknown field.*did you mean context/m)
  })
})
