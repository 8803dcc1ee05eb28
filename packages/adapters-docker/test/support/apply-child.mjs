// A separate process that applies an image to targets, one after the other: the crash test kills
// it with SIGKILL at an arbitrary moment. Uses the built package (dist/), like a real CLI would.
import { Effect } from "effect"
import { makeDockerAdapter } from "@sluice/adapters-docker"

const job = JSON.parse(process.env.SLUICE_CHILD_JOB ?? "{}")
const adapter = await Effect.runPromise(
  makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${job.socket}` }], dockerConfig: false })
)
process.stdout.write("ready\n")
for (const name of job.names) {
  await Effect.runPromise(
    adapter.apply(
      { id: `local/${name}`, name, labels: {} },
      { image: { raw: job.image } },
      { rolloutId: job.rolloutId, wave: 0, mode: job.mode }
    )
  )
  process.stdout.write(`applied ${name}\n`)
}
process.stdout.write("done\n")
