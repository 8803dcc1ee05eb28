import type { RolloutHeader } from "@sluice/core"
import { Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { listRollouts, loadStatus } from "../describe.js"
import { UsageError, UserError } from "../errors.js"
import type { Io } from "../io.js"
import { versionOf } from "../render/text.js"
import { fileStore, reportFailure, runStoreEffect, storeRootOf } from "../runtime.js"
import { specFromHeader } from "../spec.js"
import { freeId, startFromStored } from "./retry.js"

/**
 * A rollout's revision history: the rollouts of the same `metadata.name` on the same adapter that
 * completed, oldest first; revision 1 is the oldest. (What ran before the first one is not a
 * revision Sluice recorded a spec for: `sluice rollback` restores it, per target.)
 */
const revisionsOf = (store: ReturnType<typeof fileStore>, of: RolloutHeader) =>
  Effect.gen(function* () {
    const name = specFromHeader(of.spec).metadata.name
    const headers = yield* listRollouts(store)
    const same = headers.filter(
      (h) =>
        (h.machineInput.mode ?? "rollout") === "rollout" &&
        h.adapter === of.adapter &&
        specFromHeader(h.spec).metadata.name === name
    )
    const completed: Array<RolloutHeader> = []
    for (const h of same) {
      const { status } = yield* loadStatus(store, h.rolloutId)
      if (status.outcome === "completed") completed.push(h)
    }
    return { name, revisions: completed.reverse() }
  })

/**
 * `sluice undo <id> [--to-revision N]`: rolls the workload out again at an earlier revision (by
 * default the one before <id>'s), as a new gated rollout `<id>-undo` with that revision's stored
 * spec. `--history` lists the revisions and changes nothing.
 */
export const runUndo = async (io: Io, parsed: Parsed): Promise<number> => {
  const id = parsed.positionals[0]!
  const storeRoot = storeRootOf(io, parsed)
  const store = fileStore(storeRoot)
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { header } = loaded.value.inspected
  if ((header.machineInput.mode ?? "rollout") === "rollback")
    throw new UserError({ message: `${id} is a rollback run; undo the rollout it rolled back instead` })
  const history = await runStoreEffect(store, revisionsOf(store, header))
  if (Exit.isFailure(history)) return reportFailure(io, history.cause)
  const { name, revisions } = history.value
  if (flag(parsed, "history")) {
    if (revisions.length === 0) io.out(`no completed rollout of ${name} in ${storeRoot}\n`)
    revisions.forEach((h, i) =>
      io.out(
        `${String(i + 1).padStart(3)}  ${h.rolloutId}  ${versionOf(h.image)}  ${new Date(h.createdAt).toISOString()}\n`
      )
    )
    return 0
  }
  const current = revisions.findIndex((h) => h.rolloutId === id)
  const toText = str(parsed, "to-revision")
  let n: number
  if (toText === undefined) {
    if (current < 0)
      throw new UserError({
        message: `rollout ${id} did not complete, so it is not a revision of ${name}; \`sluice retry ${id}\` starts it again, \`sluice undo ${id} --to-revision N\` picks one (\`--history\` lists them)`
      })
    if (current === 0)
      throw new UserError({
        message: `${id} is the first revision of ${name} in this store; \`sluice rollback ${id}\` restores what ran before it`
      })
    n = current // the revision before <id>'s (1-based numbers: <id> is current + 1)
  } else {
    n = Number(toText)
    if (!Number.isInteger(n) || n < 1 || n > revisions.length)
      throw new UsageError({
        message: `--to-revision "${toText}": ${name} has ${revisions.length === 0 ? "no revision" : `revisions 1..${revisions.length}`} (\`sluice undo ${id} --history\`)`,
        command: "undo"
      })
  }
  const source = revisions[n - 1]!
  const newId = str(parsed, "id") ?? freeId(storeRoot, `${id}-undo`)
  return startFromStored(io, parsed, {
    command: "undo",
    storeRoot,
    source,
    newId,
    note: `undo: ${name} back to revision ${n} (${source.rolloutId}, ${versionOf(source.image)}) as ${newId}`
  })
}
