// One of N processes racing for the same rollouts' leases (fileLock.multiprocess.test.ts).
// argv: <store root> <sync dir> <trials> <name>. For each trial k: waits for <sync>/go-<k>, tries
// to acquire rollout r-<k> and writes the outcome to <sync>/res-<k>-<name>. Leases taken are kept
// until the test writes <sync>/end.
import * as fs from "node:fs"
import * as path from "node:path"

const [root, sync, trialsText, name] = process.argv.slice(2)
const { makeFileStore } = await import("../../../src/store/FileStore.ts")
const { Effect, Exit, Cause } = await import("effect")
const store = makeFileStore(root, { lock: { heartbeatMs: 200, staleMs: 60_000 } })
fs.writeFileSync(path.join(sync, `ready-${name}`), "")
for (let k = 0; k < Number(trialsText); k++) {
  while (!fs.existsSync(path.join(sync, `go-${k}`))) await new Promise((r) => setTimeout(r, 1))
  const exit = await Effect.runPromiseExit(store.acquire(`r-${k}`, name))
  let outcome = "won"
  if (Exit.isFailure(exit)) {
    const e = Cause.squash(exit.cause)
    outcome = e._tag === "RolloutLocked" ? `locked:${e.owner}` : `error:${e.message}`
  }
  // Written whole, then renamed into place: the test never reads half a result.
  fs.writeFileSync(path.join(sync, `.res-${k}-${name}`), outcome)
  fs.renameSync(path.join(sync, `.res-${k}-${name}`), path.join(sync, `res-${k}-${name}`))
}
// Hold the leases won until the test has looked at them.
while (!fs.existsSync(path.join(sync, "end"))) await new Promise((r) => setTimeout(r, 5))
process.exit(0)
