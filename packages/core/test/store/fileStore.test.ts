import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { makeFileStore, parseJournal } from "../../src/store/FileStore.js"
import type { RolloutHeader } from "../../src/store/RolloutStore.js"
import { configFor } from "../support/harness.js"

const header = (rolloutId: string): RolloutHeader => ({
  rolloutId,
  createdAt: 0,
  spec: {},
  image: "img:2",
  adapter: "simulated",
  config: configFor({ rolloutId }),
  machineInput: {
    waves: [],
    rollback: { onFailure: true, onAbort: true },
    progressDeadlineMs: 1,
    rollbackConcurrency: 1
  },
  plan: { strategy: "rolling", targets: [], waves: [], upToDate: [], fingerprint: "x" },
  previous: {}
})
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sluice-store-"))
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

describe("file RolloutStore", () => {
  it("appends journal entries durably and reads them back in order", async () => {
    const store = makeFileStore(tmp())
    await run(store.create(header("a")))
    await run(store.append("a", [{ kind: "event", at: 1, event: { type: "VALIDATED" } }]))
    await run(store.append("a", [{ kind: "event", at: 2, event: { type: "GATES_PASSED" } }]))
    const read = await run(store.read("a"))
    expect(read.header.rolloutId).toBe("a")
    expect(read.entries.map((e) => (e.kind === "event" ? e.event.type : e.kind))).toEqual(["VALIDATED", "GATES_PASSED"])
  })

  it("tolerates a torn last line (a crash mid-append) but not a corrupt line in the middle", () => {
    const good = `${JSON.stringify({ kind: "event", at: 1, event: { type: "VALIDATED" } })}\n`
    expect(parseJournal(`${good}{"kind":"ev`)).toHaveLength(1)
    expect(() => parseJournal(`${good}{"kind":"ev\n${good}`)).toThrow(/line 2 is corrupt/)
  })

  it("refuses to create a rollout twice and reports an unknown one as not found", async () => {
    const store = makeFileStore(tmp())
    await run(store.create(header("a")))
    const again = await Effect.runPromiseExit(store.create(header("a")))
    expect(Exit.isFailure(again)).toBe(true)
    const missing = await Effect.runPromiseExit(store.read("nope"))
    expect(JSON.stringify(missing)).toContain("RolloutNotFound")
  })

  it("gives the lease to one live owner at a time and frees it when the owner's process is gone", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("a")))
    await run(store.acquire("a", "me"))
    const other = await Effect.runPromiseExit(store.acquire("a", "someone-else"))
    expect(JSON.stringify(other)).toContain("RolloutLocked")
    // A lock left by a dead process (pid that does not exist) is free.
    fs.writeFileSync(
      path.join(root, "a", "lock"),
      JSON.stringify({ owner: "ghost", pid: 2 ** 22 + 17, host: os.hostname() })
    )
    expect(await run(store.owner("a"))).toBeUndefined()
    await run(store.acquire("a", "someone-else"))
    expect(await run(store.owner("a"))).toBe("someone-else")
  })

  it("keeps operator controls in an inbox until they are acknowledged", async () => {
    const store = makeFileStore(tmp())
    await run(store.create(header("a")))
    await run(store.sendControl("a", { id: "c1", signal: "PAUSE", at: 1 }))
    await run(store.sendControl("a", { id: "c2", signal: "RESUME", at: 2 }))
    expect((await run(store.pendingControls("a"))).map((c) => c.id)).toEqual(["c1", "c2"])
    await run(store.ackControls("a", ["c1"]))
    expect((await run(store.pendingControls("a"))).map((c) => c.id)).toEqual(["c2"])
  })

  it("rejects rollout ids that could escape the store directory", async () => {
    const store = makeFileStore(tmp())
    const exit = await Effect.runPromiseExit(store.create(header("../evil")))
    expect(JSON.stringify(exit)).toContain("invalid rollout id")
  })
})
