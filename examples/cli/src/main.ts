#!/usr/bin/env node
import { nodeVersionProblem } from "./nodeVersion.js"

// The version check comes first; the CLI itself is loaded only on a Node that can run it.
const problem = nodeVersionProblem(process.versions.node, process.execPath)
if (problem !== undefined) {
  process.stderr.write(`error: ${problem}\n`)
  process.exitCode = 1
} else {
  const { main } = await import("./cli.js")
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`internal error: ${String(e)}\n`)
      process.exitCode = 1
    }
  )
}
