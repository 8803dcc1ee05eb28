import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FileStore, makeFileStore } from "../../src/store/FileStore.js"
import { type ControlRequest, type JournalEntry, RolloutStore } from "../../src/store/RolloutStore.js"
import { Revision } from "../../src/domain/Target.js"
import { decodeValue, fastJournalLine, fastRevision, JournalLine } from "../../src/store/StoredFiles.js"
import { failure, header, run, tmp } from "./support/store.js"

const event = (at: number, type: string, extra: object = {}): JournalEntry =>
  ({ kind: "event", at, event: { type, ...extra } }) as JournalEntry

describe("file RolloutStore", () => {
  it("appends journal entries durably and reads them back in order", async () => {
    const store = makeFileStore(tmp())
    await run(store.create(header("a")))
    await run(store.append("a", [event(1, "VALIDATED")]))
    await run(store.append("a", [event(2, "GATES_PASSED"), event(3, "TARGETS_HEALTHY", { targetIds: ["n1", "n2"] })]))
    const read = await run(store.read("a"))
    expect(read.header.rolloutId).toBe("a")
    expect(read.entries).toEqual([
      event(1, "VALIDATED"),
      event(2, "GATES_PASSED"),
      event(3, "TARGETS_HEALTHY", { targetIds: ["n1", "n2"] })
    ])
  })

  it("runs on any FileSystem/Path: the layer needs them, the Node layer provides them", async () => {
    const root = tmp()
    const program = Effect.gen(function* () {
      const store = yield* RolloutStore
      yield* store.create(header("l"))
      yield* store.append("l", [event(1, "VALIDATED")])
      return (yield* store.read("l")).entries.length
    })
    expect(
      await run(program.pipe(Effect.provide(FileStore.layer(root).pipe(Layer.provide(FileStore.NodeServices)))))
    ).toBe(1)
    expect(await run(program.pipe(Effect.provide(FileStore.layerNode(tmp()))))).toBe(1)
    const made = await run(FileStore.make(root).pipe(Effect.provide(FileStore.NodeServices)))
    expect((await run(made.list())).includes("l")).toBe(true)
  })

  it("refuses to create a rollout twice and reports an unknown one as not found", async () => {
    const store = makeFileStore(tmp())
    await run(store.create(header("a")))
    const again = await failure(store.create(header("a")))
    expect(again.message).toContain("already exists")
    expect((await failure(store.read("nope")))._tag).toBe("RolloutNotFound")
  })

  it("rejects rollout ids that could escape the store directory", async () => {
    const store = makeFileStore(tmp())
    expect((await failure(store.create(header("../evil")))).message).toContain("invalid rollout id")
  })

  it("lists the rollouts that have a header, nothing else in the directory", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("b")))
    await run(store.create(header("a")))
    fs.mkdirSync(path.join(root, "half-created"))
    fs.mkdirSync(path.join(root, ".simulated-fleet"))
    expect(await run(store.list())).toEqual(["a", "b"])
    expect(await run(makeFileStore(path.join(root, "missing")).list())).toEqual([])
  })

  // A test timeout guards against a hang (Node's recursive mkdir never returns under /proc).
  it("an unusable root is a StoreError naming it: a path under /proc, a regular file", {
    timeout: 10_000
  }, async () => {
    const underProc = await failure(makeFileStore("/proc/nope/rollouts").create(header("a")))
    expect(underProc._tag).toBe("StoreError")
    expect(underProc.message).toContain("/proc/nope/rollouts")
    const file = path.join(tmp(), "file")
    fs.writeFileSync(file, "")
    for (const root of [file, path.join(file, "sub")]) {
      const e = await failure(makeFileStore(root).create(header("a")))
      expect(e._tag).toBe("StoreError")
      expect(e.message).toContain(root)
      expect((await failure(makeFileStore(root).list()))._tag).toBe("StoreError")
    }
  })

  it("keeps operator controls in an inbox until they are acknowledged", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("a")))
    await run(store.sendControl("a", { id: "c1", signal: "PAUSE", at: 1 }))
    await run(store.sendControl("a", { id: "c2", signal: "RESUME", at: 2 }))
    expect((await run(store.pendingControls("a"))).map((c) => c.id)).toEqual(["c1", "c2"])
    // Read, not acknowledged (a crash before the journal has them): still there for the next process.
    expect((await run(makeFileStore(root).pendingControls("a"))).map((c) => c.id)).toEqual(["c1", "c2"])
    await run(store.ackControls("a", ["c1"]))
    expect((await run(store.pendingControls("a"))).map((c) => c.id)).toEqual(["c2"])
    // A control id names a file: one that could escape the inbox is refused.
    const bad = await failure(store.sendControl("a", { id: "../x", signal: "ABORT", at: 3 }))
    expect(bad.message).toContain("invalid control request: id:")
  })
})

describe("every stored file is decoded: a bad one is an error naming it, never a TypeError", () => {
  const setup = async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("a")))
    await run(store.append("a", [event(1, "VALIDATED")]))
    return { root, store, file: (name: string) => path.join(root, "a", name) }
  }

  it.each([
    ["null", "$: expected an object, got null"],
    ["[]", "$: expected an object, got []"],
    ['{"kind":"event","at":1}', "event: missing"],
    ['{"kind":"event","at":"1","event":{"type":"VALIDATED"}}', "at: expected a number"],
    ['{"kind":"teleport","at":1}', "kind:"],
    ['{"kind":"applied","at":1,"targetId":"n1","revision":{"image":"x"},"extra":true}', "extra"],
    ["{not json", "not JSON"]
  ])("a journal line %s in the middle", async (line, problem) => {
    const { store, file } = await setup()
    fs.appendFileSync(file("journal.ndjson"), `${line}\n${JSON.stringify(event(2, "GATES_PASSED"))}\n`)
    const e = await failure(store.read("a"))
    expect(e._tag).toBe("StoreError")
    expect(e.message).toContain(`${file("journal.ndjson")} line 2 is corrupt`)
    expect(e.message).toContain(problem)
    expect(e.message).not.toMatch(/Cannot read properties/)
    expect(e.path).toBe(file("journal.ndjson"))
  })

  it.each([
    ["[]", "$: expected an object, got []"],
    ["null", "$: expected an object, got null"],
    ["", "empty"],
    ['{"rolloutId":"a"}', "createdAt: missing"]
  ])("a header.json of %j", async (text, problem) => {
    const { store, file } = await setup()
    fs.writeFileSync(file("header.json"), text)
    const e = await failure(store.read("a"))
    expect(e._tag).toBe("StoreError")
    expect(e.message).toContain(`${file("header.json")}: `)
    expect(e.message).toContain(problem)
  })

  it("a header.json with an unknown field, or naming another rollout", async () => {
    const { store, file } = await setup()
    const good = JSON.parse(fs.readFileSync(file("header.json"), "utf8"))
    fs.writeFileSync(file("header.json"), JSON.stringify({ ...good, owner: "x" }))
    expect((await failure(store.read("a"))).message).toContain("owner")
    fs.writeFileSync(file("header.json"), JSON.stringify({ ...good, rolloutId: "b" }))
    expect((await failure(store.read("a"))).message).toContain('names rollout "b", not "a"')
  })

  it("a bad snapshot is ignored (the journal holds everything), a good one is read", async () => {
    const { store, file } = await setup()
    await run(store.writeSnapshot("a", { seq: 1, machine: { value: "gating", context: {} }, commands: [] }))
    expect((await run(store.read("a"))).snapshot?.seq).toBe(1)
    for (const text of ["null", "[]", '{"seq":-1,"machine":{"value":1,"context":1}}', "{"]) {
      fs.writeFileSync(file("snapshot.json"), text)
      const read = await run(store.read("a"))
      expect(read.snapshot).toBeUndefined()
      expect(read.entries).toHaveLength(1)
    }
  })
})

describe("a torn last journal line", () => {
  const entryArb = fc
    .record({
      at: fc.nat({ max: 1e9 }),
      type: fc.constantFrom("VALIDATED", "TARGETS_HEALTHY", "PAUSE"),
      ids: fc.array(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { maxLength: 5 })
    })
    .map(({ at, type, ids }) => event(at, type, type === "TARGETS_HEALTHY" ? { targetIds: ids } : {}))
  const NL = 0x0a

  it("is ignored on read and cut off (and kept) before the next append, whatever its bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { maxLength: 6 }),
        fc.oneof(
          // A prefix of a real line (a write cut short)…
          fc.tuple(entryArb, fc.double({ min: 0, max: 1, noNaN: true })).map(([e, cut]) => {
            const bytes = new TextEncoder().encode(JSON.stringify(e))
            return bytes.subarray(0, Math.max(1, Math.floor(bytes.length * cut)))
          }),
          // …or whatever the disk left (no newline: that would make it a whole line).
          fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => b.map((x) => (x === NL ? 0x20 : x)))
        ),
        entryArb,
        async (entries, torn, next) => {
          const root = tmp()
          const writer = makeFileStore(root)
          await run(writer.create(header("t")))
          if (entries.length > 0) await run(writer.append("t", entries))
          const journal = path.join(root, "t", "journal.ndjson")
          const before = fs.statSync(journal).size
          fs.appendFileSync(journal, torn)
          // The process that crashed is gone: a new one reads and continues.
          const resumed = makeFileStore(root)
          expect((await run(resumed.read("t"))).entries).toEqual(entries)
          await run(resumed.append("t", [next]))
          expect((await run(resumed.read("t"))).entries).toEqual([...entries, next])
          expect(fs.readFileSync(journal, "utf8").endsWith("\n")).toBe(true)
          const record = JSON.parse(fs.readFileSync(path.join(root, "t", "torn", `${before}.json`), "utf8"))
          expect(record).toMatchObject({ journal: "journal.ndjson", offset: before, length: torn.length })
          expect(new Uint8Array(Buffer.from(record.base64, "base64"))).toEqual(torn)
          fs.rmSync(root, { recursive: true, force: true })
        }
      ),
      { numRuns: 60 }
    )
  })

  it("a torn line longer than the chunk the end is scanned by (a batch of 10,000 target ids)", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("big")))
    const first = event(1, "TARGETS_HEALTHY", { targetIds: Array.from({ length: 10_000 }, (_, i) => `node-${i}`) })
    await run(store.append("big", [first]))
    const journal = path.join(root, "big", "journal.ndjson")
    const before = fs.statSync(journal).size
    const line = JSON.stringify(
      event(2, "TARGETS_HEALTHY", { targetIds: Array.from({ length: 20_000 }, (_, i) => `n-${i}`) })
    )
    fs.appendFileSync(journal, line.slice(0, 200_000))
    const resumed = makeFileStore(root)
    await run(resumed.append("big", [event(3, "FINALIZED")]))
    expect((await run(resumed.read("big"))).entries).toEqual([first, event(3, "FINALIZED")])
    const record = JSON.parse(fs.readFileSync(path.join(root, "big", "torn", `${before}.json`), "utf8"))
    expect(Buffer.from(record.base64, "base64").toString()).toBe(line.slice(0, 200_000))
  })

  it("a journal that ends on a whole line is left as it is", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    await run(store.create(header("w")))
    await run(store.append("w", [event(1, "VALIDATED")]))
    await run(makeFileStore(root).append("w", [event(2, "GATES_PASSED")]))
    expect(fs.existsSync(path.join(root, "w", "torn"))).toBe(false)
    expect((await run(store.read("w"))).entries).toHaveLength(2)
  })
})

describe("the control inbox", () => {
  const requestsArb = fc.uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[a-z0-9]{1,10}$/),
      signal: fc.constantFrom("PAUSE", "RESUME", "ABORT", "APPROVE", "PROMOTE" as const),
      at: fc.nat({ max: 1e12 })
    }),
    { selector: (r) => r.id, minLength: 1, maxLength: 8 }
  )
  const garbage = [
    "",
    "null",
    "[]",
    '{"id":"g1"}',
    '{"id":"g2","signal":"PAUSE","at":1,"extra":1}',
    '{"id":"g3","signal":"STOP","at":1}',
    "{torn"
  ]

  it("reads duplicated, reordered and malformed files: each request once, oldest first; bad files quarantined", async () => {
    await fc.assert(
      fc.asyncProperty(
        requestsArb,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.subarray(garbage),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        async (requests, dupes, renames, bad, acked) => {
          const root = tmp()
          const store = makeFileStore(root)
          await run(store.create(header("c")))
          for (const r of requests) await run(store.sendControl("c", r as ControlRequest))
          const inbox = path.join(root, "c", "controls")
          const files = () => fs.readdirSync(inbox).sort()
          // Copies under other names (an operator's cp), and files whose names do not sort by time.
          for (const [i, n] of dupes.entries()) {
            const f = files()
            fs.copyFileSync(path.join(inbox, f[n % f.length]!), path.join(inbox, `copy-${i}.json`))
          }
          for (const [i, n] of renames.entries()) {
            const f = files()
            fs.renameSync(path.join(inbox, f[n % f.length]!), path.join(inbox, `${String(i).padStart(3, "0")}.json`))
          }
          for (const [i, text] of bad.entries()) fs.writeFileSync(path.join(inbox, `bad-${i}.json`), text)

          const expected = [...requests].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          expect(await run(store.pendingControls("c"))).toEqual(expected)
          const quarantined = fs.existsSync(path.join(root, "c", "quarantine"))
            ? fs.readdirSync(path.join(root, "c", "quarantine")).sort()
            : []
          expect(quarantined).toEqual(bad.map((_, i) => `controls-bad-${i}.json`).sort())

          const ack = requests.filter((_, i) => acked[i]).map((r) => r.id)
          await run(store.ackControls("c", ack))
          expect(await run(store.pendingControls("c"))).toEqual(expected.filter((r) => !ack.includes(r.id)))
          // Every copy of an acknowledged request is gone.
          for (const f of files()) {
            const id = JSON.parse(fs.readFileSync(path.join(inbox, f), "utf8")).id
            expect(ack).not.toContain(id)
          }
          fs.rmSync(root, { recursive: true, force: true })
        }
      ),
      { numRuns: 40 }
    )
  })
})

describe("the decoders' fast paths (a fleet's files hold 100,000 revisions and outcome lines)", () => {
  const loose = fc.oneof(fc.string(), fc.nat(), fc.double(), fc.constant(null), fc.boolean())
  const revisionLike = fc.oneof(
    fc.record(
      { image: fc.oneof(fc.string(), loose), configHash: fc.oneof(fc.string(), loose), data: fc.jsonValue(), x: loose },
      { requiredKeys: [] }
    ),
    fc.jsonValue()
  )
  // Near-valid lines of each kind (a required field sometimes wrong, an extra one sometimes there).
  const line = (kind: string, fields: Record<string, fc.Arbitrary<unknown>>) => {
    const all: Record<string, fc.Arbitrary<unknown>> = {
      kind: fc.oneof(fc.constant(kind), loose),
      at: fc.oneof(fc.nat(), fc.double(), loose),
      ...fields,
      extra: loose
    }
    return fc.record(all, { requiredKeys: ["kind", "at", ...Object.keys(fields).filter((k) => k !== "dueAt")] })
  }
  const lineLike = fc.oneof(
    line("event", {
      event: fc.oneof(fc.record({ type: fc.oneof(fc.string(), loose), targetIds: fc.array(fc.string()) }), loose)
    }),
    line("intent", {
      command: fc.oneof(fc.record({ kind: fc.oneof(fc.string(), loose), wave: fc.nat() }), loose),
      dueAt: fc.oneof(fc.nat(), loose)
    }),
    line("applied", { targetId: fc.oneof(fc.string(), loose), revision: revisionLike }),
    line("control", { request: fc.record({ id: fc.string(), signal: fc.string(), at: fc.nat() }) }),
    fc.jsonValue()
  )

  it("accept only what the schemas accept (and do accept the common shapes)", () => {
    let fastLines = 0
    let fastRevisions = 0
    fc.assert(
      fc.property(lineLike, revisionLike, (line, revision) => {
        if (fastJournalLine(line)) {
          fastLines++
          expect(Result.isSuccess(decodeValue(JournalLine, line)), JSON.stringify(line)).toBe(true)
        }
        if (fastRevision(revision)) {
          fastRevisions++
          expect(Result.isSuccess(decodeValue(Revision, revision)), JSON.stringify(revision)).toBe(true)
        }
      }),
      { numRuns: 3000 }
    )
    expect(fastLines).toBeGreaterThan(0)
    expect(fastRevisions).toBeGreaterThan(0)
    expect(fastJournalLine({ kind: "applied", at: 1, targetId: "n1", revision: { image: "i:1" } })).toBe(true)
    expect(fastJournalLine({ kind: "event", at: 1, event: { type: "TARGETS_HEALTHY", targetIds: ["a"] } })).toBe(true)
  })
})
