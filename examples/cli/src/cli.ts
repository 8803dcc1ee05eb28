import { didYouMean } from "@sluice/core/text"
import { type CommandSpec, flag, formatHelp, type Parsed, parseArgs } from "./args.js"
import {
  abortCommand,
  applyCommand,
  approveCommand,
  listCommand,
  pauseCommand,
  planCommand,
  policyBuildCommand,
  policyEvalCommand,
  policyTestCommand,
  promoteCommand,
  resumeCommand,
  retryCommand,
  rollbackCommand,
  reportCommand,
  statusCommand,
  undoCommand
} from "./commands/specs.js"
import { UsageError, UserError } from "./errors.js"
import { EXIT_CODES_HELP, ExitCode } from "./exitCodes.js"
import { type Io, processIo } from "./io.js"

interface Command {
  readonly spec: CommandSpec
  readonly run: (io: Io, parsed: Parsed) => Promise<number>
}

// Runners load on demand: `--help` and usage errors answer without loading the core.
const control =
  (signal: "PAUSE" | "RESUME" | "ABORT" | "APPROVE" | "PROMOTE", name: string) => async (io: Io, p: Parsed) =>
    (await import("./commands/control.js")).runControl(io, p, signal, name)

const commands: ReadonlyArray<Command> = [
  { spec: planCommand, run: async (io, p) => (await import("./commands/plan.js")).runPlan(io, p) },
  { spec: applyCommand, run: async (io, p) => (await import("./commands/apply.js")).runApply(io, p) },
  { spec: statusCommand, run: async (io, p) => (await import("./commands/status.js")).runStatus(io, p) },
  { spec: reportCommand, run: async (io, p) => (await import("./commands/report.js")).runReport(io, p) },
  { spec: listCommand, run: async (io, p) => (await import("./commands/status.js")).runList(io, p) },
  { spec: pauseCommand, run: control("PAUSE", "pause") },
  { spec: resumeCommand, run: control("RESUME", "resume") },
  { spec: abortCommand, run: control("ABORT", "abort") },
  { spec: approveCommand, run: control("APPROVE", "approve") },
  { spec: promoteCommand, run: control("PROMOTE", "promote") },
  { spec: rollbackCommand, run: async (io, p) => (await import("./commands/rollback.js")).runRollback(io, p) },
  { spec: retryCommand, run: async (io, p) => (await import("./commands/retry.js")).runRetry(io, p) },
  { spec: undoCommand, run: async (io, p) => (await import("./commands/undo.js")).runUndo(io, p) },
  { spec: policyTestCommand, run: async (io, p) => (await import("./commands/policy.js")).runPolicyTest(io, p) },
  { spec: policyBuildCommand, run: async (io, p) => (await import("./commands/policy.js")).runPolicyBuild(io, p) },
  { spec: policyEvalCommand, run: async (io, p) => (await import("./commands/policy.js")).runPolicyEval(io, p) }
]

export const MAIN_HELP = `sluice — roll a new version of an agent across a fleet in gated, health-verified waves,
and roll back on its own when something goes wrong.

Usage: sluice <command> [options]       sluice <command> --help for its options

Rollouts:
  plan -f <spec>          show the waves a rollout would run
  apply -f <spec>         start a rollout and drive it to its outcome here
  status [id]             state, wave, counts and outcome (default: the newest rollout)
  list                    every rollout in the store

Control a rollout (from any shell; continues it here if its process died):
  pause <id>              finish the targets in flight, start no new one
  resume <id>             continue a paused rollout, or one whose process died
  abort <id>              stop and roll back every touched target
  approve <id>            approve the wave waiting for a manual approval
  promote <id>            end the current pause now
  rollback <id>           roll a finished rollout back to the previous revisions
  retry <id>              start an aborted, rolled-back or failed rollout again
  undo <id>               roll out an earlier revision again (--to-revision N, --history)

Policies:
  policy build <dir>             compile a folder of Rego into an OPA Wasm bundle
  policy test <bundle> <cases>   run policy cases against an OPA Wasm bundle (or a Rego folder)
  policy eval <bundle> <input>   evaluate one workload

Rollouts live in the store: --store <dir>, else $SLUICE_STORE, else .sluice/rollouts; or in a
cluster's API with --store kubernetes://<namespace> (several control-plane replicas share it).
The default adapter is a simulated fleet (500 targets in 3 zones), kept in the store too.

${EXIT_CODES_HELP}
`

const resolve = (argv: ReadonlyArray<string>): { command: Command; rest: ReadonlyArray<string> } | undefined => {
  const [first, second] = argv
  if (first === "policy") {
    const sub = commands.find((c) => c.spec.name === `policy ${second}`)
    if (sub !== undefined) return { command: sub, rest: argv.slice(2) }
    if (second === undefined || second === "--help" || second === "-h") return undefined
    throw new UsageError({
      message: `unknown policy command "${second}" (policy test, policy eval)`
    })
  }
  const command = commands.find((c) => c.spec.name === first)
  return command === undefined ? undefined : { command, rest: argv.slice(1) }
}

/** Runs one CLI invocation; resolves to the exit code. Never throws. */
export const main = async (argv: ReadonlyArray<string>, io: Io = processIo()): Promise<number> => {
  let current: string | undefined
  try {
    const [first] = argv
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      const topic = first === "help" ? argv.slice(1) : []
      if (topic.length > 0) return main([...topic, "--help"], io)
      io.out(MAIN_HELP)
      return first === undefined ? ExitCode.usage : ExitCode.ok
    }
    if (first === "--version") {
      io.out("sluice 0.1.0\n")
      return ExitCode.ok
    }
    const resolved = resolve(argv)
    if (resolved === undefined) {
      if (first === "policy") {
        io.out(`${formatHelp(policyTestCommand)}\n${formatHelp(policyEvalCommand)}`)
        return ExitCode.ok
      }
      const names = [...new Set(commands.map((c) => c.spec.name.split(" ")[0]!))]
      const hint = first.startsWith("-") ? undefined : didYouMean(first, names)
      throw new UsageError({
        message: first.startsWith("-")
          ? `expected a command before ${first}`
          : `unknown command "${first}"${hint === undefined ? "" : ` (did you mean ${hint}?)`}`
      })
    }
    current = resolved.command.spec.name
    const parsed = parseArgs(resolved.command.spec, resolved.rest)
    if (flag(parsed, "help")) {
      io.out(formatHelp(resolved.command.spec))
      return ExitCode.ok
    }
    return await resolved.command.run(io, parsed)
  } catch (e) {
    if (e instanceof Error && e.name === "SpecInvalid") {
      const { formatSpecInvalid } = await import("./spec.js")
      io.err(formatSpecInvalid(e as import("./spec.js").SpecInvalid))
      return ExitCode.usage
    }
    if (e instanceof UsageError) {
      const command = e.command ?? current
      io.err(
        `error: ${e.message}\n${command === undefined ? "Run `sluice --help` for the commands.\n" : `Run \`sluice ${command} --help\` for its options.\n`}`
      )
      return ExitCode.usage
    }
    if (e instanceof UserError) {
      io.err(`error: ${e.message}\n`)
      return ExitCode.usage
    }
    io.err(`internal error: ${e instanceof Error ? e.message : String(e)}\n`)
    if (io.env.SLUICE_DEBUG !== undefined && e instanceof Error) io.err(`${e.stack}\n`)
    return ExitCode.internal
  }
}
