/**
 * Deployments through the real interpreter on the real control plane (kube-apiserver, the
 * Deployment and ReplicaSet controllers of kube-controller-manager, kube-scheduler, kwok nodes):
 * a fleet across namespaces in waves, a never-ready version rolled back exactly, blue-green with a
 * preview copy promoted through the store's control inbox (or aborted), and config shipped with the
 * image as one revision. What is asserted is read from the apiserver, not from Sluice's events.
 */
import { makeMemoryStore, type RolloutEvent } from "@sluice/core"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { ANNOTATION } from "../../src/index.js"
import { describeWithCluster, kube, uniqueSuffix, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { containerImage } from "../support/workloads.js"
import {
  configMapOf,
  createWebDeployment,
  deploymentGone,
  podImagesOf,
  readDeployment,
  WEB_IMAGE,
  waitRolledOut
} from "./support/deployment.js"
import { runRollout } from "./support/rollout.js"

const PREVIEW_LABEL = "rollouts.sluice.dev/preview-of"

const spec = (o: {
  name: string
  selector: string
  image: string
  strategy?: string
  deadline?: string
  config?: string
}) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${o.name} }
spec:
  target:
    adapter: kubernetes
    selector: ${o.selector}
  artifact:
    image: "${o.image}"${o.config === undefined ? "" : `\n    config: ${o.config}`}
  strategy: ${o.strategy ?? "{ rolling: { batchSize: 1 } }"}
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
  rollback: { onFailure: true, onAbort: true }
`

/** Every annotation Sluice may put on a workload is gone once a rollout concluded. */
const expectNoSluiceAnnotations = (annotations: Record<string, string> | undefined) => {
  for (const key of Object.values(ANNOTATION)) expect(annotations?.[key]).toBeUndefined()
}

describeWithCluster("Deployments (kubernetes adapter)", () => {
  const nodes = useKwokNodes(3, { zones: ["zone-a", "zone-b", "zone-c"] })
  const nsA = useTestNamespace("sluice-dep-a")
  const nsB = useTestNamespace("sluice-dep-b")
  const pool = () => nodes().pools[0] ?? ""

  it("rolls a fleet of 3 Deployments in 2 namespaces, one per wave, selected by label; others untouched", async () => {
    const fleet = `web-${uniqueSuffix()}`
    const members = [
      { namespace: nsA(), name: "web-1" },
      { namespace: nsA(), name: "web-2" },
      { namespace: nsB(), name: "web-3" }
    ]
    for (const m of members)
      await createWebDeployment({ ...m, image: WEB_IMAGE("1.0.0"), pool: pool(), labels: { fleet } })
    const bystander = await createWebDeployment({
      namespace: nsA(),
      name: "bystander",
      image: WEB_IMAGE("1.0.0"),
      pool: pool()
    })

    const run = await runRollout({
      spec: spec({
        name: "fleet",
        selector: `{ kind: Deployment, labelSelector: "fleet=${fleet}" }`,
        image: WEB_IMAGE("2.0.0")
      }),
      rolloutId: `dep-fleet-${fleet}`
    })
    expect(run.result.outcome).toBe("completed")
    const ids = members.map((m) => `${m.namespace}/deployment/${m.name}`).sort()
    expect([...run.result.updated].sort()).toEqual(ids)
    const waves = run.events.filter((e) => e.type === "waveStarted")
    expect(waves).toHaveLength(3)
    // One Deployment per wave, each updated once.
    const updating = run.events.flatMap((e) => (e.type === "targetUpdating" ? [[e.wave, e.targetId] as const] : []))
    expect(updating.map(([, id]) => id).sort()).toEqual(ids)
    expect(new Set(updating.map(([wave]) => wave)).size).toBe(3)

    for (const m of members) {
      const d = await waitRolledOut(m.namespace, m.name, WEB_IMAGE("2.0.0"))
      expect(d.metadata?.labels?.fleet).toBe(fleet)
      expectNoSluiceAnnotations(d.metadata?.annotations)
    }
    const after = await readDeployment(nsA(), "bystander")
    expect(after.metadata?.generation).toBe(bystander.metadata?.generation)
    expect(after.spec?.template).toEqual(bystander.spec?.template)
  }, 300_000)

  it("a version that never becomes Ready fails on ProgressDeadlineExceeded and every template is restored exactly", async () => {
    const members = [
      { namespace: nsA(), name: "bad-1" },
      { namespace: nsB(), name: "bad-2" }
    ]
    const before = []
    for (const m of members)
      before.push(
        await createWebDeployment({
          ...m,
          image: WEB_IMAGE("1.0.0"),
          pool: pool(),
          labels: { fleet: "bad" },
          // The controller gives up after 3s without progress; Sluice's own deadline is far away.
          progressDeadlineSeconds: 3
        })
      )

    const run = await runRollout({
      spec: spec({
        name: "bad",
        selector: "{ kind: Deployment, labelSelector: fleet=bad }",
        image: WEB_IMAGE("2.1.0-never-ready"),
        strategy: "{ rolling: { batchSize: 2, maxUnavailable: 2 } }",
        deadline: "120s"
      }),
      rolloutId: "dep-never-ready"
    })
    expect(run.result.outcome).toBe("rolledBack")
    const failures = run.events.filter((e) => e.type === "targetFailed")
    expect(failures.length).toBeGreaterThan(0)
    expect(failures.some((f) => f.type === "targetFailed" && /ProgressDeadlineExceeded/.test(f.reason))).toBe(true)
    expect([...run.result.rolledBack].sort()).toEqual([...run.result.touched].sort())

    for (const [i, m] of members.entries()) {
      const d = await waitRolledOut(m.namespace, m.name, WEB_IMAGE("1.0.0"))
      expect(d.spec?.template).toEqual(before[i]?.spec?.template)
      expectNoSluiceAnnotations(d.metadata?.annotations)
      const pods = await podImagesOf(m.namespace, `app=${m.name}`)
      expect(pods.every((image) => image === WEB_IMAGE("1.0.0"))).toBe(true)
    }
  }, 300_000)

  /** Runs a blue-green rollout of one Deployment; `atPause` runs while the preview waits for promotion. */
  const blueGreen = async (
    name: string,
    rolloutId: string,
    atPause: (send: (signal: "PROMOTE" | "ABORT") => Promise<void>) => Promise<void>
  ) => {
    const namespace = nsA()
    const store = makeMemoryStore()
    let paused: () => void = () => undefined
    const pausedNow = new Promise<void>((resolve) => (paused = resolve))
    const running = runRollout({
      spec: spec({
        name,
        selector: `{ namespace: ${namespace}, kind: Deployment, name: ${name} }`,
        image: WEB_IMAGE("2.0.0"),
        strategy: "{ blueGreen: { previewSize: 1 } }"
      }),
      rolloutId,
      store,
      onEvent: (e: RolloutEvent) => {
        if (e.type === "paused") paused()
      }
    })
    await Promise.race([
      pausedNow,
      running.then((r) => Promise.reject(new Error(`ended before the pause: ${r.result.outcome}: ${r.result.reason}`)))
    ])
    let n = 0
    await atPause((signal) =>
      Effect.runPromise(store.sendControl(rolloutId, { id: `${signal}-${n++}`, signal, at: Date.now() }))
    )
    return running
  }

  it("blue-green: a preview runs beside the untouched original until promoted, then the original is updated and the preview removed", async () => {
    const namespace = nsA()
    const name = "bg"
    const preview = `${name}-sluice-preview`
    const before = await createWebDeployment({ namespace, name, image: WEB_IMAGE("1.0.0"), pool: pool(), replicas: 2 })

    const run = await blueGreen(name, "dep-bg-promote", async (send) => {
      // The preview: the new version, as many replicas, its own selector and pod labels.
      const p = await waitRolledOut(namespace, preview, WEB_IMAGE("2.0.0"))
      expect(p.spec?.replicas).toBe(2)
      expect(p.spec?.selector.matchLabels).toEqual({ [PREVIEW_LABEL]: name })
      expect(p.spec?.template.metadata?.labels?.app).toBeUndefined()
      expect(await podImagesOf(namespace, `${PREVIEW_LABEL}=${name}`)).toEqual([WEB_IMAGE("2.0.0"), WEB_IMAGE("2.0.0")])
      // The original is untouched: same generation and template, its selector sees only its own pods.
      const original = await readDeployment(namespace, name)
      expect(original.metadata?.generation).toBe(before.metadata?.generation)
      expect(original.spec?.template).toEqual(before.spec?.template)
      expect(await podImagesOf(namespace, `app=${name}`)).toEqual([WEB_IMAGE("1.0.0"), WEB_IMAGE("1.0.0")])
      await send("PROMOTE")
    })
    expect(run.result.outcome).toBe("completed")
    const after = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))
    expect(containerImage(after.spec?.template ?? {})).toBe(WEB_IMAGE("2.0.0"))
    expect(after.spec?.template.metadata?.labels).toEqual(before.spec?.template.metadata?.labels)
    expectNoSluiceAnnotations(after.metadata?.annotations)
    expect(await deploymentGone(namespace, preview)).toBe(true)
  }, 300_000)

  it("blue-green aborted at the preview: the preview is removed and the original left as it was", async () => {
    const namespace = nsA()
    const name = "bg-abort"
    const preview = `${name}-sluice-preview`
    const before = await createWebDeployment({ namespace, name, image: WEB_IMAGE("1.0.0"), pool: pool(), replicas: 1 })

    const run = await blueGreen(name, "dep-bg-abort", async (send) => {
      await waitRolledOut(namespace, preview, WEB_IMAGE("2.0.0"))
      await send("ABORT")
    })
    expect(run.result.outcome).toBe("aborted")
    expect(run.result.rolledBack).toEqual([`${namespace}/deployment/${name}`])
    expect(await deploymentGone(namespace, preview)).toBe(true)
    const after = await readDeployment(namespace, name)
    expect(after.metadata?.generation).toBe(before.metadata?.generation)
    expect(after.spec?.template).toEqual(before.spec?.template)
    expectNoSluiceAnnotations(after.metadata?.annotations)
  }, 300_000)

  it("config with the image as one revision: a new immutable ConfigMap; a failed version rolls back image and config together", async () => {
    const namespace = nsB()
    const name = "cfg"
    const { core } = kube()
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "cfg-v1" }, data: { "web.yaml": "level: info\n" } }
    })
    await createWebDeployment({ namespace, name, image: WEB_IMAGE("1.0.0"), pool: pool(), configMap: "cfg-v1" })
    const selector = `{ namespace: ${namespace}, kind: Deployment, name: ${name}, configVolume: config }`

    const good = await runRollout({
      spec: spec({
        name,
        selector,
        image: WEB_IMAGE("2.0.0"),
        config: `{ files: { "/etc/web/web.yaml": "level: debug\\n" } }`
      }),
      rolloutId: "dep-config-good"
    })
    expect(good.result.outcome).toBe("completed")
    const v2 = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))
    const cm2 = configMapOf(v2)
    expect(cm2).toMatch(new RegExp(`^${name}-sluice-[0-9a-f]{10}$`))
    const created = await core.readNamespacedConfigMap({ name: cm2 ?? "", namespace })
    expect(created.immutable).toBe(true)
    expect(created.data).toEqual({ "etc_web_web.yaml": "level: debug\n" })
    // The file lands where the spec says: /etc/web (the mount) + web.yaml.
    const volume = v2.spec?.template.spec?.volumes?.find((v) => v.name === "config")
    expect(volume?.configMap?.items).toEqual([{ key: "etc_web_web.yaml", path: "web.yaml" }])

    // The ConfigMap the failed version's template points at, read while it runs (it exists then).
    let seenBadConfig: Promise<string | undefined> = Promise.resolve(undefined)
    const bad = await runRollout({
      spec: spec({
        name,
        selector,
        image: WEB_IMAGE("2.1.0-never-ready"),
        config: `{ files: { "/etc/web/web.yaml": "level: trace\\n" } }`,
        deadline: "10s"
      }),
      rolloutId: "dep-config-bad",
      onEvent: (e) => {
        if (e.type === "targetApplied")
          seenBadConfig = readDeployment(namespace, name).then(async (d) => {
            const cm = configMapOf(d) ?? ""
            await core.readNamespacedConfigMap({ name: cm, namespace })
            return cm
          })
      }
    })
    expect(bad.result.outcome).toBe("rolledBack")
    const back = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))
    expect(configMapOf(back)).toBe(cm2)
    expect(back.spec?.template).toEqual(v2.spec?.template)
    // The failed version's ConfigMap was a different, new one: the rollback removed it (nothing
    // mounts it any more); the previous one is intact.
    expect(await seenBadConfig).toMatch(new RegExp(`^${name}-sluice-[0-9a-f]{10}$`))
    expect(await seenBadConfig).not.toBe(cm2)
    const sluiceConfigMaps = async () =>
      (await core.listNamespacedConfigMap({ namespace })).items
        .map((c) => c.metadata?.name ?? "")
        .filter((n) => n.startsWith(`${name}-sluice-`))
    expect(await sluiceConfigMaps()).toEqual([cm2])
    expect((await core.readNamespacedConfigMap({ name: cm2 ?? "", namespace })).data?.["etc_web_web.yaml"]).toBe(
      "level: debug\n"
    )

    // A failed version with the same config as the one restored: its ConfigMap is the restored
    // one's, still mounted, so it stays.
    const sameConfig = await runRollout({
      spec: spec({
        name,
        selector,
        image: WEB_IMAGE("2.2.0-never-ready"),
        config: `{ files: { "/etc/web/web.yaml": "level: debug\\n" } }`,
        deadline: "10s"
      }),
      rolloutId: "dep-config-same"
    })
    expect(sameConfig.result.outcome).toBe("rolledBack")
    const again = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))
    expect(configMapOf(again)).toBe(cm2)
    expect(await sluiceConfigMaps()).toEqual([cm2])
  }, 300_000)
})
