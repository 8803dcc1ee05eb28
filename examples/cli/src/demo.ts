#!/usr/bin/env node
/**
 * `npm run demo`: node-agent 1.0.0 → 2.0.0 over a 500-node simulated fleet in 3 zones (canary 1%,
 * then 10%, then rolling 25% waves, spread by zone), with the built-in policy and scan gates;
 * then a bad 2.1.0 that crash-loops on a few nodes the 1% canary does not include, so it fails
 * health in its second wave and Sluice rolls every touched node back to 2.0.0 on its own.
 *
 * Everything goes through the CLI's own `main` (the code paths of `sluice apply`), on a fresh
 * store in a temporary directory.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { main } from "./cli.js"
import { builtinBundleReady } from "./gates.js"
import { captureIo, processIo } from "./io.js"
import { makeStyle } from "./render/style.js"
import { formatMs } from "./render/text.js"
import { readWorld } from "./simulated/world.js"

const demoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "demo")
const io = processIo()
const style = makeStyle(io.color)
const say = (text = "") => io.out(`${text}\n`)
const step = (n: number, title: string) => say(`\n${style.bold(style.cyan(`━━ ${n}. ${title}`))}\n`)
const shell = (args: ReadonlyArray<string>) =>
  say(style.dim(`$ sluice ${args.map((a) => (/[\s#]/.test(a) ? `'${a}'` : a)).join(" ")}`))

const versionsOnFleet = (store: string) => {
  const world = readWorld(store)
  const counts = new Map<string, number>()
  for (const t of Object.values(world?.targets ?? {})) {
    const tag = t.image.split(":").pop() ?? t.image
    counts.set(tag, (counts.get(tag) ?? 0) + 1)
  }
  const untouched = (world?.options.size ?? 0) - Object.keys(world?.targets ?? {}).length
  if (untouched > 0 && world !== undefined) {
    const tag = world.options.image.split(":").pop() ?? world.options.image
    counts.set(tag, (counts.get(tag) ?? 0) + untouched)
  }
  return [...counts.entries()].map(([v, n]) => `${n} on ${v}`).join(", ")
}

const run = async () => {
  const started = Date.now()
  // A fresh store, kept afterwards so `sluice status --store <dir>` can look at it.
  const store = process.env.SLUICE_DEMO_STORE || fs.mkdtempSync(path.join(os.tmpdir(), "sluice-demo-"))
  const common = ["--store", store]
  const gatesOff: string[] = []
  say(style.bold("Sluice demo: gated, health-verified waves with automatic rollback"))
  say(`store: ${store}`)
  if (!(await builtinBundleReady())) {
    gatesOff.push("--set", "spec.gates.policy.enabled=false", "--set", "spec.gates.scan.enabled=false")
    say(
      style.yellow("note: the built-in policy bundle is not built (packages/policies/dist/policy.wasm); gates are off")
    )
  }
  const v2 = path.join(demoDir, "rollout-v2.yaml")
  const v21 = path.join(demoDir, "rollout-v2.1.yaml")

  step(1, "The plan for node-agent 2.0.0 on a fresh simulated fleet (500 nodes, 3 zones, all on 1.0.0)")
  const planArgs = ["plan", "-f", v2, ...gatesOff, ...common]
  shell(planArgs)
  if ((await main(planArgs, io)) !== 0) return 1

  step(2, "Roll it out: policy + scan gates, then waves; each wave must be healthy before the next")
  const applyV2 = ["apply", "-f", v2, "--id", "node-agent-v2", ...gatesOff, ...common]
  shell(applyV2)
  const first = await main(applyV2, io)
  say(
    `\nexit code ${first} ${first === 0 ? style.green("(completed)") : style.red("(expected 0)")} — fleet: ${versionsOnFleet(store)}`
  )
  if (first !== 0) return 1

  step(3, "A bad release: 2.1.0 crash-loops on some nodes (a bug the 1% canary does not hit)")
  // Which nodes: three of the second wave's, from the same planner `sluice plan --json` uses.
  const plan = captureIo()
  if ((await main(["plan", "-f", v21, "--json", ...gatesOff, ...common], plan.io)) !== 0) {
    io.err(plan.stderr)
    return 1
  }
  const waves = (JSON.parse(plan.stdout) as { waves: Array<{ targets: string[] }> }).waves
  const second = waves[1]?.targets ?? []
  const bad = [second[3], second[20], second[37]].filter((t): t is string => t !== undefined)
  say(
    `Injected fault (simulation only): 2.1.0 crashes on start on ${bad.join(", ")}; the canary wave (${waves[0]?.targets.length ?? 0} nodes) has none of them.`
  )
  const applyV21 = [
    "apply",
    "-f",
    v21,
    "--id",
    "node-agent-v2-1",
    "--faults",
    `fail-after=:2.1.0@0s#${bad.join("+")}`,
    ...gatesOff,
    ...common
  ]
  shell(applyV21)
  const second21 = await main(applyV21, io)
  say(
    `\nexit code ${second21} ${second21 === 3 ? style.yellow("(rolled back)") : style.red("(expected 3)")} — fleet: ${versionsOnFleet(store)}`
  )

  step(4, "What the store remembers")
  shell(["list", ...common])
  await main(["list", ...common], io)
  say(
    `\nTry: sluice status node-agent-v2-1 --store ${store}\n     sluice rollback node-agent-v2 --store ${store}   (back to 1.0.0)`
  )
  say(style.dim(`\ndemo finished in ${formatMs(Date.now() - started)}`))
  return second21 === 3 ? 0 : 1
}

run().then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  }
)
