#!/usr/bin/env node
import { setFlagsFromString } from "node:v8"
import { nodeVersionProblem } from "./nodeVersion.js"

// Before anything is allocated. V8's allocation-site pretenuring, meant for objects that live
// long, can decide at a mark-compact that overlaps a wave that Effect's fiber stacks do: every
// later fiber's stack is then allocated in the old generation and keeps what it refers to alive
// through scavenges. At 100,000 targets that made the peak RSS ~580 MiB instead of ~340 in about
// one run in two (bench/core-interpreter.bench.mjs); without it, 356-385 MiB in every run.
// Read at each GC, so it can be set here rather than on the command line.
setFlagsFromString("--no-allocation-site-pretenuring")

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
