/**
 * The Kubernetes RolloutStore on the real apiserver: the store contract (create, append, read,
 * snapshot, list, controls), segments under the object limit, strict decoding of every stored
 * object (a bad one named, never a crash), the Lease (one writer, generations), fencing (a writer
 * whose lease was taken over cannot append, even before it notices), and a store that cannot be
 * used (RBAC, no apiserver) as a StoreError.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CoordinationV1Api, RbacAuthorizationV1Api, V1MicroTime, type V1PolicyRule } from "@kubernetes/client-node"
import type { ControlRequest, JournalEntry } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { KubernetesStore } from "../../src/store/KubernetesStore.js"
import {
  describeWithCluster,
  kube,
  mergePatch,
  serviceAccountKubeconfig,
  uniqueSuffix,
  useTestNamespace
} from "../support/cluster.js"
import { event, failure, header, kubeconfigPath, openStore, run, tmpDir } from "./support/store.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const STORE_RBAC = path.join(here, "..", "..", "..", "..", "examples", "k8s", "store-rbac.yaml")

const configMaps = async (namespace: string, selector: string) =>
  (await kube().core.listNamespacedConfigMap({ namespace, labelSelector: selector })).items

const control = (id: string, at: number, signal: ControlRequest["signal"] = "PAUSE"): ControlRequest => ({
  id,
  signal,
  at
})

describeWithCluster("Kubernetes RolloutStore", () => {
  const namespace = useTestNamespace("sluice-store")

  describe("the store contract", () => {
    it("creates, appends durably and reads back in order; refuses a second create; an unknown id is not found", async () => {
      const store = await openStore(namespace())
      await run(store.create(header("c1", { t0: { image: "img:1" } })))
      expect((await failure(store.create(header("c1")))).message).toMatch(/already exists/)
      await run(store.acquire("c1", "me"))
      const entries: JournalEntry[] = [
        event(1),
        event(2),
        { kind: "applied", at: 3, targetId: "t0", revision: { image: "img:2" } }
      ]
      await run(store.append("c1", entries.slice(0, 2)))
      await run(store.append("c1", entries.slice(2)))
      // Another store instance (another replica) reads what this one wrote.
      const other = await openStore(namespace())
      const read = await run(other.read("c1"))
      expect(read.header.rolloutId).toBe("c1")
      expect(read.header.previous).toEqual({ t0: { image: "img:1" } })
      expect(read.entries).toEqual(entries)
      expect(read.snapshot).toBeUndefined()
      expect((await failure(other.read("nope")))._tag).toBe("RolloutNotFound")
      expect(await run(other.list())).toContain("c1")
      await run(store.release("c1", "me"))
    })

    it("an append without the lease is refused (every append is fenced)", async () => {
      const store = await openStore(namespace())
      await run(store.create(header("c2")))
      const e = await failure(store.append("c2", [event(1)]))
      expect(e._tag).toBe("StoreError")
      expect(e.message).toMatch(/does not hold the lease/)
    })

    it("keeps a journal larger than one object in sealed segments, cut on UTF-8 boundaries, and reads it back whole", async () => {
      const store = await openStore(namespace(), { segmentBytes: 1500 })
      await run(store.create(header("c3")))
      await run(store.acquire("c3", "me"))
      const written: JournalEntry[] = []
      for (let batch = 0; batch < 12; batch++) {
        // Multi-byte characters, so some cuts fall inside one unless they are moved to a boundary.
        const entries = Array.from({ length: 7 }, (_, i) => event(batch * 100 + i, `zone-é-日本-${"ü".repeat(i * 9)}`))
        await run(store.append("c3", entries))
        written.push(...entries)
      }
      const segments = await configMaps(namespace(), "sluice.dev/rollout=c3,sluice.dev/part=journal")
      expect(segments.length).toBeGreaterThan(3)
      for (const s of segments) {
        expect(s.immutable).toBe(true)
        expect(Buffer.byteLength(s.data?.["journal.ndjson"] ?? "", "utf8")).toBeLessThanOrEqual(1500)
      }
      const read = await run((await openStore(namespace())).read("c3"))
      expect(read.entries).toEqual(written)
      await run(store.release("c3", "me"))
    })

    it("a header larger than one object is chunked; the rollout exists once its head does", async () => {
      const store = await openStore(namespace(), { segmentBytes: 4096 })
      const previous = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`target-${i}`, { image: `img:${i}` }]))
      await run(store.create(header("c4", previous)))
      expect((await configMaps(namespace(), "sluice.dev/rollout=c4,sluice.dev/part=header")).length).toBeGreaterThan(2)
      expect((await run(store.read("c4"))).header.previous).toEqual(previous)
    })

    it("replaces the snapshot (the old one is deleted); a snapshot needs the lease too", async () => {
      const store = await openStore(namespace())
      await run(store.create(header("c5")))
      expect((await failure(store.writeSnapshot("c5", { seq: 1, machine: { value: "x", context: {} } })))._tag).toBe(
        "StoreError"
      )
      await run(store.acquire("c5", "me"))
      await run(store.append("c5", [event(1), event(2), event(3)]))
      await run(store.writeSnapshot("c5", { seq: 2, machine: { value: "gating", context: { a: 1 } }, commands: [] }))
      await run(
        store.writeSnapshot("c5", { seq: 3, machine: { value: "progressing", context: { a: 2 } }, commands: [] })
      )
      const read = await run(store.read("c5"))
      expect(read.snapshot).toEqual({ seq: 3, machine: { value: "progressing", context: { a: 2 } }, commands: [] })
      expect(read.entries).toHaveLength(3)
      expect(await configMaps(namespace(), "sluice.dev/rollout=c5,sluice.dev/part=snapshot")).toHaveLength(1)
      await run(store.release("c5", "me"))
    })

    it("controls from any store instance: pending oldest first, each id once, until acknowledged", async () => {
      const writer = await openStore(namespace())
      const operator = await openStore(namespace())
      await run(writer.create(header("c6")))
      expect((await failure(operator.sendControl("nope", control("x", 1))))._tag).toBe("RolloutNotFound")
      expect((await failure(operator.sendControl("c6", control("bad id!", 1)))).message).toMatch(/invalid control/)
      await run(operator.sendControl("c6", control("b", 20, "ABORT")))
      await run(operator.sendControl("c6", control("a", 10)))
      // The same request sent twice (a retried send) is one control.
      await run(operator.sendControl("c6", control("a", 10)))
      expect((await run(writer.pendingControls("c6"))).map((c) => c.id)).toEqual(["a", "b"])
      await run(writer.ackControls("c6", ["a"]))
      expect((await run(writer.pendingControls("c6"))).map((c) => c.id)).toEqual(["b"])
      await run(writer.ackControls("c6", ["b"]))
      expect(await run(writer.pendingControls("c6"))).toEqual([])
    })
  })

  describe("every stored object is decoded: a bad one is an error naming it, never a crash", () => {
    it("a head whose head.json is not a head, an unknown key, a journal line that is not an entry", async () => {
      const ns = namespace()
      const store = await openStore(ns)
      await run(store.create(header("d1")))
      await run(store.acquire("d1", "me"))
      await run(store.append("d1", [event(1)]))
      await run(store.release("d1", "me"))
      const { core } = kube()
      const patch = (data: Record<string, string | null>) =>
        core.patchNamespacedConfigMap({ name: "sluice-d1", namespace: ns, body: { data } }, mergePatch)
      const head = (await core.readNamespacedConfigMap({ name: "sluice-d1", namespace: ns })).data!
      await patch({ "tail.ndjson": `${head["tail.ndjson"]}null\n` })
      let e = await failure(store.read("d1"))
      expect(e._tag).toBe("StoreError")
      expect(e.message).toMatch(/journal line 2 \(in configmap .*\/sluice-d1\) is corrupt/)
      await patch({ "head.json": "[]" })
      e = await failure(store.read("d1"))
      expect(e.message).toMatch(/configmap .*\/sluice-d1 is not a rollout head: head.json/)
      await patch({ "head.json": JSON.stringify({ ...JSON.parse(head["head.json"]!), extra: 1 }) })
      e = await failure(store.read("d1"))
      expect(e.message).toMatch(/extra/)
      await patch({ "head.json": head["head.json"]!, "tail.ndjson": head["tail.ndjson"]!, surprise: "x" })
      e = await failure(store.read("d1"))
      expect(e.message).toMatch(/sluice-d1.*surprise/)
    })

    it("a corrupt header chunk is named", async () => {
      const ns = namespace()
      const store = await openStore(ns)
      await run(store.create(header("d2")))
      const [chunk] = await configMaps(ns, "sluice.dev/rollout=d2,sluice.dev/part=header")
      const name = chunk!.metadata!.name!
      // Immutable: an operator (or a bug) can only replace it, by deleting it first.
      await kube().core.deleteNamespacedConfigMap({ name, namespace: ns })
      await kube().core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name, labels: chunk!.metadata!.labels! }, data: { "header.json": '{"rolloutId": 1}' } }
      })
      const e = await failure(store.read("d2"))
      expect(e.message).toContain(name)
      expect(e.message).toMatch(/rolloutId/)
    })

    it("a malformed control is taken out of the inbox (relabelled) and the others still arrive", async () => {
      const ns = namespace()
      const store = await openStore(ns)
      await run(store.create(header("d3")))
      await run(store.sendControl("d3", control("good", 5, "APPROVE")))
      const labels = {
        "app.kubernetes.io/managed-by": "sluice",
        "sluice.dev/rollout": "d3",
        "sluice.dev/part": "control"
      }
      const annotations = { "sluice.dev/rollout-id": "d3" }
      await kube().core.createNamespacedConfigMap({
        namespace: ns,
        body: {
          metadata: { name: "bad-control-1", labels, annotations },
          data: { "control.json": '{"id":"x","signal":"EXPLODE","at":1}' }
        }
      })
      await kube().core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: "bad-control-2", labels, annotations }, data: { "control.json": "null" } }
      })
      expect((await run(store.pendingControls("d3"))).map((c) => c.id)).toEqual(["good"])
      const bad = await kube().core.readNamespacedConfigMap({ name: "bad-control-1", namespace: ns })
      expect(bad.metadata?.labels?.["sluice.dev/part"]).toBe("quarantined")
    })
  })

  describe("the lease: one writer per rollout", () => {
    it("a second store is refused with RolloutLocked naming the holder; after release it takes the next generation", async () => {
      const ns = namespace()
      const a = await openStore(ns, { identity: "replica-a" })
      const b = await openStore(ns, { identity: "replica-b" })
      await run(a.create(header("l1")))
      await run(a.acquire("l1", "run-a"))
      const locked = await failure(b.acquire("l1", "run-b"))
      expect(locked._tag).toBe("RolloutLocked")
      expect(locked.owner).toBe("replica-a")
      expect(await run(b.owner("l1"))).toBe("replica-a")
      const lease = () =>
        kube().config.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "sluice-l1", namespace: ns })
      expect((await lease()).spec?.leaseTransitions).toBe(1)
      await run(a.release("l1", "run-a"))
      expect(await run(b.owner("l1"))).toBeUndefined()
      await run(b.acquire("l1", "run-b"))
      expect((await lease()).spec?.holderIdentity).toBe("replica-b")
      expect((await lease()).spec?.leaseTransitions).toBe(2)
      await run(b.append("l1", [event(1)]))
      await run(b.release("l1", "run-b"))
    })

    it("8 stores acquiring one rollout at once, 5 times: exactly one wins each time, the others name it", async () => {
      const ns = namespace()
      const stores = await Promise.all(Array.from({ length: 8 }, (_, i) => openStore(ns, { identity: `p${i}` })))
      for (let k = 0; k < 5; k++) {
        const id = `race-${k}`
        await run(stores[0]!.create(header(id)))
        const outcomes = await Promise.all(
          stores.map((s, i) =>
            Effect.runPromise(
              s.acquire(id, `p${i}`).pipe(
                Effect.as("won"),
                Effect.catchTag("RolloutLocked", (e) => Effect.succeed(`locked:${e.owner}`))
              )
            )
          )
        )
        const winners = outcomes.flatMap((o, i) => (o === "won" ? [`p${i}`] : []))
        expect(winners, outcomes.join(", ")).toHaveLength(1)
        for (const o of outcomes) if (o !== "won") expect(o).toBe(`locked:${winners[0]}`)
        // Only the winner can append.
        const appended = await Promise.all(
          stores.map((s) => Effect.runPromise(Effect.result(s.append(id, [event(k)]))))
        )
        expect(appended.filter((r) => r._tag === "Success")).toHaveLength(1)
        const w = Number(winners[0]!.slice(1))
        await run(stores[w]!.release(id, `p${w}`))
      }
    })
  })

  describe("fencing: a writer whose lease was taken over cannot append", () => {
    it("a stale writer (its lease expired while it was paused, another took over) gets a StoreError, not a write", async () => {
      const ns = namespace()
      // A long lease: the stale writer's renewal does not run during the test (it is "paused").
      // Small segments: every append seals one, so the refused ones leave segments to clean up.
      const stale = await openStore(ns, { identity: "stale", leaseDurationSeconds: 60, segmentBytes: 64 })
      const fresh = await openStore(ns, { identity: "fresh", leaseDurationSeconds: 60, segmentBytes: 64 })
      await run(stale.create(header("f1")))
      const before = await run(stale.read("f1"))
      expect(before.entries).toEqual([])
      await run(stale.acquire("f1", "stale-run"))
      await run(stale.append("f1", [event(1)]))
      // The stale writer stops renewing (a GC pause, a partition): its lease looks expired to others.
      const coordination = kube().config.makeApiClient(CoordinationV1Api)
      const lease = await coordination.readNamespacedLease({ name: "sluice-f1", namespace: ns })
      const expired = new V1MicroTime(Date.now() - 3_600_000)
      lease.spec = { ...lease.spec, renewTime: expired, acquireTime: expired }
      await coordination.replaceNamespacedLease({ name: "sluice-f1", namespace: ns, body: lease })
      await run(fresh.read("f1"))
      await run(fresh.acquire("f1", "fresh-run"))
      // The stale writer has not noticed (its renewal has not run): the apiserver refuses it anyway.
      const refused = await failure(stale.append("f1", [event(2, "from the stale writer")]))
      expect(refused._tag).toBe("StoreError")
      expect(refused.message).toMatch(/lease of rollout f1 was lost.*generation 2 is held by fresh/)
      // It stays refused, and its snapshot too.
      expect((await failure(stale.append("f1", [event(3)])))._tag).toBe("StoreError")
      expect((await failure(stale.writeSnapshot("f1", { seq: 1, machine: { value: "x", context: {} } })))._tag).toBe(
        "StoreError"
      )
      await run(fresh.append("f1", [event(4, "from the new holder")]))
      // The segments the refused appends created are gone: every journal object is the head's.
      const head = await kube().core.readNamespacedConfigMap({ name: "sluice-f1", namespace: ns })
      const listed = JSON.parse(head.data?.["head.json"] ?? "{}").segments as string[]
      expect(listed.length).toBeGreaterThan(0)
      const objects = await configMaps(ns, "sluice.dev/rollout=f1,sluice.dev/part=journal")
      expect(objects.map((o) => o.metadata?.name).sort()).toEqual([...listed].sort())
      const after = await run(fresh.read("f1"))
      expect(after.entries.map((e) => (e.kind === "event" && e.event.type === "ABORT" ? e.event.reason : ""))).toEqual([
        "r1",
        "from the new holder"
      ])
      await run(fresh.release("f1", "fresh-run"))
    })

    it("a holder that read an older journal than the fence it took is told to read again", async () => {
      const ns = namespace()
      const a = await openStore(ns, { identity: "a", leaseDurationSeconds: 60 })
      const b = await openStore(ns, { identity: "b", leaseDurationSeconds: 60 })
      await run(a.create(header("f2")))
      await run(b.read("f2")) // b looks, 0 entries
      await run(a.acquire("f2", "a"))
      await run(a.append("f2", [event(1)]))
      await run(a.release("f2", "a"))
      const e = await failure(b.acquire("f2", "b"))
      expect(e.message).toMatch(/grew from 0 to 1 entries since it was read/)
      await run(b.read("f2"))
      await run(b.acquire("f2", "b"))
      await run(b.release("f2", "b"))
    })
  })

  describe("a store that cannot be used is a StoreError when it is made, never a hang", () => {
    const work = tmpDir()
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

    it("no apiserver at the address", async () => {
      const file = path.join(work, "nowhere.kubeconfig")
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "x", cluster: { server: "https://127.0.0.1:1", "insecure-skip-tls-verify": true } }],
          users: [{ name: "x", user: { token: "t" } }],
          contexts: [{ name: "x", context: { cluster: "x", user: "x" } }],
          "current-context": "x"
        })
      )
      const e = await failure(KubernetesStore.make({ kubeconfig: file, namespace: "default", requestTimeoutMs: 3000 }))
      expect(e._tag).toBe("StoreError")
      expect(e.message).toMatch(/kubernetes:\/\/default: cannot list .*cannot reach https:\/\/127.0.0.1:1/)
    })

    it("an unknown context is a StoreError naming it", async () => {
      const e = await failure(
        KubernetesStore.make({ kubeconfig: kubeconfigPath(), context: "nope", namespace: "default" })
      )
      expect(e._tag).toBe("StoreError")
      expect(e.message).toMatch(/context "nope"/)
    })

    describe("RBAC: examples/k8s/store-rbac.yaml", () => {
      const suffix = uniqueSuffix()
      const rbac = () => kube().config.makeApiClient(RbacAuthorizationV1Api)
      const rules = (): V1PolicyRule[] => {
        const docs = parseAllDocuments(fs.readFileSync(STORE_RBAC, "utf8")).map((d) => d.toJS())
        return docs.find((d) => d.kind === "Role").rules
      }
      /** A kubeconfig with a token of a new ServiceAccount bound (in the test namespace) to `roleRules`. */
      const account = async (name: string, roleRules: V1PolicyRule[] | undefined) => {
        const ns = namespace()
        const { core } = kube()
        await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } })
        if (roleRules !== undefined) {
          await rbac().createNamespacedRole({
            namespace: ns,
            body: { metadata: { name: `${name}-${suffix}` }, rules: roleRules }
          })
          await rbac().createNamespacedRoleBinding({
            namespace: ns,
            body: {
              metadata: { name: `${name}-${suffix}` },
              roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${name}-${suffix}` },
              subjects: [{ kind: "ServiceAccount", name, namespace: ns }]
            }
          })
        }
        return serviceAccountKubeconfig(work, ns, name)
      }
      let noRole = ""
      let withRole = ""
      beforeAll(async () => {
        noRole = await account("store-none", undefined)
        withRole = await account("store-role", rules())
      })

      it("without the role: a StoreError naming the verb and resource", async () => {
        const e = await failure(KubernetesStore.make({ kubeconfig: noRole, namespace: namespace() }))
        expect(e._tag).toBe("StoreError")
        expect(e.message).toMatch(/forbidden: cannot list (configmaps|leases)/)
      })

      it("with exactly the file's Role: a rollout's whole life (create, lease, append, snapshot, controls, release)", async () => {
        const store = await run(
          KubernetesStore.make({ kubeconfig: withRole, namespace: namespace(), leaseDurationSeconds: 30 })
        )
        await run(store.create(header("rbac-1")))
        await run(store.acquire("rbac-1", "sa"))
        await run(store.append("rbac-1", [event(1)]))
        await run(store.writeSnapshot("rbac-1", { seq: 1, machine: { value: "x", context: {} } }))
        await run(store.writeSnapshot("rbac-1", { seq: 1, machine: { value: "y", context: {} } }))
        await run(store.sendControl("rbac-1", control("p", 1)))
        expect((await run(store.pendingControls("rbac-1"))).map((c) => c.id)).toEqual(["p"])
        await run(store.ackControls("rbac-1", ["p"]))
        expect((await run(store.read("rbac-1"))).entries).toHaveLength(1)
        expect(await run(store.list())).toContain("rbac-1")
        await run(store.release("rbac-1", "sa"))
        // The release went through (update on leases): the lease is free.
        expect(await run(store.owner("rbac-1"))).toBeUndefined()
      })
    })
  })
})
