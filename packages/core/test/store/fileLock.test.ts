import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { type FileStoreOptions, makeFileStore } from "../../src/store/FileStore.js"
import type { JournalEntry } from "../../src/store/RolloutStore.js"
import { failure, header, run, tmp } from "./support/store.js"

const entry = (at: number): JournalEntry => ({ kind: "event", at, event: { type: "VALIDATED" } })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A store with one rollout `a`; `leaseFile(n)` is generation n of its lease. */
const setup = async (options: FileStoreOptions = {}) => {
  const root = tmp()
  const store = makeFileStore(root, options)
  await run(store.create(header("a")))
  const locks = path.join(root, "a", "locks")
  const leaseFile = (n: number) => path.join(locks, `${String(n).padStart(12, "0")}.json`)
  /** Writes generation n as held by someone, with its heartbeat `ageMs` old. */
  const plant = (
    n: number,
    holder: { host: string; pid: number; owner: string; pidNamespace?: string },
    ageMs: number
  ) => {
    fs.writeFileSync(leaseFile(n), JSON.stringify({ version: 1, state: "held", acquiredAt: 0, ...holder }))
    const t = (Date.now() - ageMs) / 1000
    fs.utimesSync(leaseFile(n), t, t)
  }
  return { root, store, locks, leaseFile, plant }
}
const pidNamespace = fs.readlinkSync("/proc/self/ns/pid")
const elsewhere = { host: "another-host.example", pid: process.pid, owner: "replica-2" }

describe("the file store's single-writer lease", () => {
  it("goes to one owner at a time, is re-entrant for its owner, and is free again once released", async () => {
    const { root, store } = await setup()
    await run(store.acquire("a", "me"))
    await run(store.acquire("a", "me"))
    expect(await run(store.owner("a"))).toBe("me")
    const other = makeFileStore(root)
    const locked = await failure(other.acquire("a", "you"))
    expect(locked).toMatchObject({ _tag: "RolloutLocked", owner: "me" })
    expect(await run(other.owner("a"))).toBe("me")
    await run(store.release("a", "me"))
    expect((await failure(other.acquire("a", "you")))._tag).toBe("RolloutLocked")
    await run(store.release("a", "me"))
    expect(await run(other.owner("a"))).toBeUndefined()
    await run(other.acquire("a", "you"))
    expect(await run(store.owner("a"))).toBe("you")
    await run(other.release("a", "you"))
  })

  it("is free at once when it names a process of this host (and PID namespace) that is gone", async () => {
    const { store, plant, leaseFile } = await setup()
    plant(1, { host: os.hostname(), pidNamespace, pid: 2 ** 22 + 17, owner: "ghost" }, 0)
    expect(await run(store.owner("a"))).toBeUndefined()
    await run(store.acquire("a", "me"))
    expect(JSON.parse(fs.readFileSync(leaseFile(2), "utf8"))).toMatchObject({ state: "held", owner: "me" })
    expect(fs.existsSync(leaseFile(1))).toBe(false)
    await run(store.release("a", "me"))
  })

  it("a PID of another PID namespace (a container with the same host name) is not looked up", async () => {
    const { store, plant } = await setup()
    plant(1, { host: os.hostname(), pidNamespace: "pid:[1]", pid: 2 ** 22 + 17, owner: "container" }, 0)
    expect(await failure(store.acquire("a", "me"))).toMatchObject({ _tag: "RolloutLocked", owner: "container" })
  })

  it("held by another host: live while its heartbeat is fresh, taken over once it is stale", async () => {
    const { store, plant, leaseFile } = await setup({ lock: { staleMs: 10_000 } })
    plant(7, elsewhere, 0)
    expect(await run(store.owner("a"))).toBe("replica-2")
    expect(await failure(store.acquire("a", "me"))).toMatchObject({ _tag: "RolloutLocked", owner: "replica-2" })
    plant(7, elsewhere, 60_000)
    expect(await run(store.owner("a"))).toBeUndefined()
    await run(store.acquire("a", "me"))
    expect(JSON.parse(fs.readFileSync(leaseFile(8), "utf8"))).toMatchObject({ state: "held", owner: "me" })
    await run(store.release("a", "me"))
    expect(JSON.parse(fs.readFileSync(leaseFile(8), "utf8"))).toMatchObject({ state: "released" })
  })

  it("force-unlock: refused while the heartbeat is fresh, breaks it once the holder stopped heartbeating", async () => {
    const { store, plant, leaseFile } = await setup({ lock: { heartbeatMs: 1000, staleMs: 60_000 } })
    plant(3, elsewhere, 0)
    const refused = await failure(store.forceUnlock!("a", "operator"))
    expect(refused._tag).toBe("RolloutLocked")
    expect(refused.owner).toContain("replica-2 (pid")
    expect(refused.owner).toContain("another-host.example")
    expect(refused.owner).toContain("heartbeat is fresh")
    expect(fs.readdirSync(path.dirname(leaseFile(3)))).toEqual([path.basename(leaseFile(3))])
    // Missed three heartbeats, not yet stale: still held, and an operator may break it.
    plant(3, elsewhere, 5_000)
    expect((await failure(store.acquire("a", "me")))._tag).toBe("RolloutLocked")
    expect(await run(store.forceUnlock!("a", "operator"))).toContain("replica-2")
    expect(JSON.parse(fs.readFileSync(leaseFile(4), "utf8"))).toMatchObject({ state: "broken", owner: "operator" })
    expect(await run(store.owner("a"))).toBeUndefined()
    expect(await run(store.forceUnlock!("a", "operator"))).toBeUndefined()
    await run(store.acquire("a", "me"))
    await run(store.release("a", "me"))
    expect((await failure(store.forceUnlock!("nope", "operator")))._tag).toBe("RolloutNotFound")
  })

  it("an unreadable lease file (a crash right after its exclusive create) is held until it is stale", async () => {
    const { store, leaseFile, plant } = await setup({ lock: { staleMs: 10_000 } })
    plant(1, elsewhere, 0)
    fs.writeFileSync(leaseFile(1), "")
    const locked = await failure(store.acquire("a", "me"))
    expect(locked.owner).toContain(`unreadable lease file ${leaseFile(1)}: empty`)
    const t = (Date.now() - 60_000) / 1000
    fs.utimesSync(leaseFile(1), t, t)
    await run(store.acquire("a", "me"))
    await run(store.release("a", "me"))
  })

  it("the holder's heartbeat keeps its lease from going stale", async () => {
    const { root, store } = await setup({ lock: { heartbeatMs: 50, staleMs: 1_000 } })
    await run(store.acquire("a", "me"))
    await sleep(2_500)
    const other = makeFileStore(root, { lock: { heartbeatMs: 50, staleMs: 1_000, host: "another-host.example" } })
    expect(await failure(other.acquire("a", "you"))).toMatchObject({ _tag: "RolloutLocked", owner: "me" })
    await run(store.release("a", "me"))
    await run(other.acquire("a", "you"))
    await run(other.release("a", "you"))
  })

  it("a holder whose lease was taken over cannot append any more (fencing)", async () => {
    // No heartbeat within the test: the first holder looks dead to the second.
    const options = { lock: { heartbeatMs: 600_000, staleMs: 200, host: "host-1" } }
    const { root, store } = await setup(options)
    await run(store.acquire("a", "slow"))
    await run(store.append("a", [entry(1)]))
    await sleep(400)
    const next = makeFileStore(root, { lock: { ...options.lock, host: "host-2" } })
    await run(next.acquire("a", "next"))
    const fenced = await failure(store.append("a", [entry(2)]))
    expect(fenced._tag).toBe("StoreError")
    expect(fenced.message).toContain("taken over by another process")
    expect((await failure(store.writeSnapshot("a", { seq: 1, machine: { value: 1, context: 1 } })))._tag).toBe(
      "StoreError"
    )
    await run(next.append("a", [entry(3)]))
    expect((await run(next.read("a"))).entries.map((e) => e.at)).toEqual([1, 3])
    await run(store.release("a", "slow"))
    expect(await run(next.owner("a"))).toBe("next")
    await run(next.release("a", "next"))
  })
})
