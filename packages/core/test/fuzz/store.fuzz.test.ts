import * as fs from "node:fs"
import * as path from "node:path"
import { fc, test } from "@fast-check/vitest"
import { Cause, Effect, Exit, References, Result } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { makeFileStore } from "../../src/store/FileStore.js"
import type { JournalEntry } from "../../src/store/RolloutStore.js"
import { decodeHeader, decodeJournalLine, fastJournalLine } from "../../src/store/StoredFiles.js"
import { header, tmp } from "../store/support/store.js"
import {
  applyTextEdit,
  arbPlacedMutations,
  arbTextEdit,
  assertNoPrototypePollution,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  mutate
} from "./mutate.js"

// Fuzzing the file store's files (packages/core/src/store/StoredFiles.ts, FileStore.ts): a
// rollout's header, journal and snapshot are read back on resume, after a crash, a full disk or a
// hand edit. Valid files written by the store itself, mutated as values, as text and as bytes on
// disk. Every bad file is a StoreError naming the file (and the line and path inside it), never a
// defect; a journal line the fast path accepts is one the schema accepts.

const counter = new FuzzCounter("store files")
afterAll(() => console.log(counter.summary()))

const entries: ReadonlyArray<JournalEntry> = [
  { kind: "event", at: 1, event: { type: "VALIDATED" } },
  { kind: "intent", at: 2, command: { kind: "updateTargets", targetIds: ["n1", "n2"] }, dueAt: 3 },
  { kind: "applied", at: 4, targetId: "n1", revision: { image: "img:2", configHash: "abc", data: { id: 1 } } },
  {
    kind: "control",
    at: 5,
    request: { id: "c-1", signal: "PAUSE", at: 5, reason: "look" },
    ignored: "already paused"
  },
  { kind: "event", at: 6, event: { type: "TARGETS_HEALTHY", targetIds: ["n1"] } }
] as unknown as ReadonlyArray<JournalEntry>

const quiet = <A, E>(e: Effect.Effect<A, E>) => e.pipe(Effect.provideService(References.MinimumLogLevel, "None"))

let root: string
let files: { header: string; journal: string; snapshot: string }
beforeAll(async () => {
  root = tmp()
  const store = makeFileStore(root)
  await Effect.runPromise(quiet(store.create(header("r"))))
  await Effect.runPromise(quiet(store.append("r", entries)))
  await Effect.runPromise(
    quiet(store.writeSnapshot("r", { seq: 2, machine: { value: "running", context: { wave: 0 } } } as never))
  )
  const read = (f: string) => fs.readFileSync(path.join(root, "r", f), "utf8")
  files = { header: read("header.json"), journal: read("journal.ndjson"), snapshot: read("snapshot.json") }
})

/**
 * A rejection names where: it starts with a path (`previous["n1"]`, `$` for the document itself)
 * followed by `: `, or says the text is not JSON (with V8's position) or empty.
 */
const LOCATED = /^(empty$|not JSON \(|(\$|\[|[A-Za-z_]).*?: )/s

describe("fuzz: file store files", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop(
    [fc.constantFrom(...entries), arbPlacedMutations(3, ["kind", "at", "event", "command", "revision", "dueAt"])],
    {
      numRuns: fuzzRuns(5)
    }
  )(
    "journal lines: decoded, or refused naming the path; the fast path never accepts what the schema refuses",
    (entry, mutations) => {
      counter.hit("journal-line")
      const value = mutate(entry, mutations).value
      const decoded = decodeJournalLine(value)
      assertNoPrototypePollution()
      counter.outcome(`line ${Result.isSuccess(decoded) ? "accepted" : "refused"}`)
      if (Result.isFailure(decoded)) {
        if (!LOCATED.test(decoded.failure)) throw new Error(`refusal names no path: ${decoded.failure}`)
        expect(fastJournalLine(value)).toBe(false)
      }
    }
  )

  test.prop(
    [
      arbPlacedMutations(3, ["rolloutId", "previous", "plan", "config"]),
      fc.array(arbTextEdit(['"', ",", "{", "}", "\\u"]), { maxLength: 2 })
    ],
    {
      numRuns: fuzzRuns(3)
    }
  )("header text: decoded, or refused naming the path", (mutations, edits) => {
    counter.hit("header")
    let text = JSON.stringify(mutate(JSON.parse(files.header), mutations).value) ?? "null"
    for (const e of edits) text = applyTextEdit(text, e)
    const decoded = decodeHeader(text)
    assertNoPrototypePollution()
    counter.outcome(`header ${Result.isSuccess(decoded) ? "accepted" : "refused"}`)
    if (Result.isFailure(decoded)) {
      if (!LOCATED.test(decoded.failure)) throw new Error(`refusal names no path: ${decoded.failure}`)
    }
  })

  test.prop(
    [
      fc.constantFrom("header" as const, "journal" as const, "snapshot" as const),
      fc.array(arbTextEdit(['"', ",", "{", "}", "\n", "\\u", "\uFEFF"]), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 2 })
    ],
    { numRuns: fuzzRuns(1) }
  )(
    "files on disk: a damaged rollout reads, or fails with a StoreError naming the file, never a defect",
    async (which, edits, flips) => {
      counter.hit(`file-${which}`)
      const dir = path.join(root, "r")
      let text = files[which]
      for (const e of edits) text = applyTextEdit(text, e)
      const bytes = new TextEncoder().encode(text)
      // Bytes no string carries: invalid UTF-8 where the store decodes the file itself.
      for (const f of flips) if (bytes.length > 0) bytes[f % bytes.length] = 0xff
      const name = which === "journal" ? "journal.ndjson" : `${which}.json`
      fs.writeFileSync(path.join(dir, name), bytes)
      try {
        const exit = await Effect.runPromiseExit(quiet(makeFileStore(root).read("r")))
        assertNoPrototypePollution()
        if (Exit.isSuccess(exit)) {
          counter.outcome("read")
          return
        }
        const error = Cause.findErrorOption(exit.cause)
        if (error._tag === "None") throw new Error(`the store died instead of failing: ${Cause.pretty(exit.cause)}`)
        counter.outcome(error.value._tag)
        expect(error.value._tag).toBe("StoreError")
        // Which file is bad, so an operator can look at it.
        expect(`${error.value.message} ${"path" in error.value ? error.value.path : ""}`).toContain(name)
      } finally {
        fs.writeFileSync(path.join(dir, name), files[which])
      }
    }
  )
})
