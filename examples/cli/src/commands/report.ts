import * as fs from "node:fs"
import * as path from "node:path"
import { Exit } from "effect"
import { type Parsed, str } from "../args.js"
import { listRollouts, loadStatus } from "../describe.js"
import { UserError } from "../errors.js"
import type { Io } from "../io.js"
import { renderReport } from "../report/html.js"
import { fileStore, reportFailure, runStoreEffect, storeLabelOf, storeRootOf } from "../runtime.js"

export const runReport = async (io: Io, parsed: Parsed): Promise<number> => {
  const root = storeRootOf(io, parsed)
  const store = fileStore(root)
  let id = parsed.positionals[0]
  if (id === undefined) {
    const all = await runStoreEffect(store, listRollouts(store))
    if (Exit.isFailure(all)) return reportFailure(io, all.cause)
    id = all.value[0]?.rolloutId
    if (id === undefined) throw new UserError({ message: `no rollouts in ${storeLabelOf(root)}` })
  }
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { inspected, status } = loaded.value
  const html = renderReport({
    header: inspected.header,
    entries: inspected.entries,
    progress: inspected.progress,
    result: inspected.result,
    state: status.phase
  })
  const file = str(parsed, "html")
  if (file === undefined) {
    io.out(html)
    return 0
  }
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  fs.writeFileSync(file, html)
  io.out(`wrote ${file} (${status.finished ? status.outcome : status.phase})\n`)
  return 0
}
