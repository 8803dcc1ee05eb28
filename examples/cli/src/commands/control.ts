import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { type ControlSignal, parseDuration, resumeRollout, type RolloutResult } from "@sluice/core"
import { Cause, Exit, Layer } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { loadStatus, type RolloutStatus, type statusOf } from "../describe.js"
import { UsageError, UserError } from "../errors.js"
import { ExitCode, exitCodeFor } from "../exitCodes.js"
import { gateLayer } from "../gates.js"
import type { Io } from "../io.js"
import { makeStyle } from "../render/style.js"
import { summaryLines } from "../render/summary.js"
import {
  checkAdapterName,
  checkConnectionFlags,
  existingWorldOptions,
  fileStore,
  openAdapter,
  outputModeOf,
  reportFailure,
  runRollout,
  runStoreEffect,
  simRunFor,
  storeRootOf,
  worldOptionsOf,
  logOptionsOf
} from "../runtime.js"
import { specFromHeader } from "../spec.js"

const verb: Record<ControlSignal, string> = {
  PAUSE: "pause",
  RESUME: "resume",
  ABORT: "abort",
  APPROVE: "approval",
  PROMOTE: "promotion",
  PROMOTE_FULL: "full promotion"
}

/** Whether the control makes sense in this state; a message when it does not. */
const refusal = (signal: ControlSignal, s: RolloutStatus): string | undefined => {
  switch (signal) {
    case "APPROVE":
      return s.awaitingApproval ? undefined : `rollout ${s.rolloutId} is not waiting for an approval (${s.phase})`
    case "PROMOTE":
      return /paused(Timed|UntilResumed)$/.test(s.state)
        ? undefined
        : `rollout ${s.rolloutId} is not in a pause that can be promoted (${s.phase}); \`sluice promote ${s.rolloutId} --full\` skips every remaining pause, approval and analysis`
    case "PROMOTE_FULL":
      return s.state.startsWith("progressing")
        ? undefined
        : `rollout ${s.rolloutId} is not progressing through its waves yet (${s.phase}); nothing to promote`
    default:
      return undefined
  }
}

/**
 * Waits until the running process has journaled the control (it acts on it right after): `true`,
 * or the reason it was journaled without effect (it came after the outcome); `false` on timeout.
 */
const waitForAck = async (storeRoot: string, id: string, controlId: string, ms: number) => {
  const store = fileStore(storeRoot)
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const read = await runStoreEffect(store, store.read(id))
    if (Exit.isSuccess(read)) {
      for (const e of read.value.entries)
        if (e.kind === "control" && e.request.id === controlId) return e.ignored === undefined ? true : e.ignored
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

export const runControl = async (io: Io, parsed: Parsed, asked: ControlSignal, command: string): Promise<number> => {
  const signal: ControlSignal = asked === "PROMOTE" && flag(parsed, "full") ? "PROMOTE_FULL" : asked
  // Checked before anything is opened (takeOver reads them again): a usage error must leave
  // nothing half set up.
  logOptionsOf(parsed, command)
  const id = parsed.positionals[0]!
  const storeRoot = storeRootOf(io, parsed)
  const store = fileStore(storeRoot)
  const timeoutText = str(parsed, "timeout")
  const waitMs = timeoutText === undefined ? 10_000 : parseDuration(timeoutText)
  if (waitMs === undefined)
    throw new UsageError({ message: `--timeout "${timeoutText}" is not a duration (like 10s)`, command })
  if (flag(parsed, "force-unlock")) {
    const unlocked = await forceUnlock(io, store, id)
    if (unlocked !== undefined) return unlocked
  }
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { status, inspected } = loaded.value
  const style = makeStyle(io.color)
  if (status.finished) {
    if (signal === "RESUME") {
      io.out(`rollout ${id} already finished:\n`)
      io.out(
        `${summaryLines({ header: inspected.header, result: inspected.result!, waveIndex: inspected.snapshot.context.waveIndex }, style).join("\n")}\n`
      )
      return resultExit(inspected.header.machineInput.mode, inspected.result!)
    }
    throw new UserError({ message: `rollout ${id} already finished (${status.outcome}); nothing to ${command}` })
  }
  const refused = refusal(signal, status)
  if (refused !== undefined) throw new UserError({ message: refused })
  const request = {
    id: randomUUID().slice(0, 12),
    signal,
    at: Date.now(),
    ...(signal === "ABORT" && str(parsed, "reason") !== undefined ? { reason: str(parsed, "reason")! } : {})
  }
  if (status.running) {
    if (signal === "RESUME" && !status.paused) {
      io.out(`rollout ${id} is running (${status.owner}) and not paused (${status.phase}); nothing to resume\n`)
      return ExitCode.ok
    }
    if (signal === "PAUSE" && status.paused) {
      io.out(`rollout ${id} is already paused (${status.phase})\n`)
      return ExitCode.ok
    }
    const sent = await runStoreEffect(store, store.sendControl(id, request))
    if (Exit.isFailure(sent)) return reportFailure(io, sent.cause)
    const acked = await waitForAck(storeRoot, id, request.id, waitMs)
    if (!acked) {
      io.err(
        `warning: the ${verb[signal]} is queued, but the process running ${id} (${status.owner}) has not taken it within ${timeoutText ?? "10s"}\n`
      )
      return ExitCode.ok
    }
    if (typeof acked === "string")
      throw new UserError({ message: `the ${verb[signal]} was not applied to ${id}: ${acked}` })
    const after = await runStoreEffect(store, loadStatus(store, id))
    const phase = Exit.isSuccess(after) ? after.value.status.phase : "?"
    io.out(`${command}${command.endsWith("e") ? "d" : "ed"} ${id}: ${phase}\n`)
    return ExitCode.ok
  }
  // Nobody runs it: queue the control (if it means something) and continue it here.
  if (signal === "PAUSE") {
    io.out(
      `rollout ${id} is not running (no live process; ${status.phase}); nothing to pause. \`sluice resume ${id}\` continues it\n`
    )
    return ExitCode.ok
  }
  if (signal !== "RESUME" || status.paused) {
    const sent = await runStoreEffect(store, store.sendControl(id, request))
    if (Exit.isFailure(sent)) return reportFailure(io, sent.cause)
  }
  io.err(`no live process runs ${id}: continuing it here from its journal\n`)
  return takeOver(io, parsed, id, inspected)
}

/**
 * `resume --force-unlock`: breaks the rollout's lease when its holder stopped heartbeating (a
 * process on another host that is gone); refused while the heartbeat is fresh. An exit code when
 * it cannot go on, `undefined` to continue.
 */
const forceUnlock = async (io: Io, store: ReturnType<typeof fileStore>, id: string) => {
  if (store.forceUnlock === undefined) return undefined
  const broke = await runStoreEffect(
    store,
    store.forceUnlock(id, `sluice resume --force-unlock (pid ${process.pid} on ${os.hostname()})`)
  )
  if (Exit.isFailure(broke)) {
    const error = Cause.findErrorOption(broke.cause)
    if (error._tag === "Some" && error.value._tag === "RolloutLocked") {
      io.err(`error: --force-unlock refused: rollout ${id} is held by ${error.value.owner}\n`)
      return ExitCode.usage
    }
    return reportFailure(io, broke.cause)
  }
  io.err(
    broke.value === undefined
      ? `note: nobody holds rollout ${id}'s lease; nothing to unlock\n`
      : `note: broke the lease of ${broke.value} on rollout ${id}\n`
  )
  return undefined
}

type Inspected = Parameters<typeof statusOf>[0]

/** A rollback run succeeds when it rolled back; a rollout when it completed. */
export const resultExit = (mode: "rollout" | "rollback" | undefined, result: RolloutResult) =>
  mode === "rollback"
    ? result.outcome === "rolledBack"
      ? ExitCode.ok
      : exitCodeFor(result.outcome)
    : exitCodeFor(result.outcome)

/** Continues a rollout nobody runs in this process, from its journal. */
export const takeOver = async (io: Io, parsed: Parsed, id: string, inspected: Inspected): Promise<number> => {
  const { header } = inspected
  const storeRoot = storeRootOf(io, parsed)
  checkAdapterName(header.adapter, "resume")
  checkConnectionFlags(parsed, header.adapter, "resume")
  // The rollout's lease first, before its fleet is opened: of several processes taking it over at
  // once, one runs it and the others are told who does (RolloutLocked, exit 64).
  const store = fileStore(storeRoot)
  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const leased = await runStoreEffect(store, store.acquire(id, owner))
  if (Exit.isFailure(leased)) return reportFailure(io, leased.cause)
  try {
    const mode = header.machineInput.mode ?? "rollout"
    const gates = mode === "rollback" ? Layer.empty : await gateLayer(specFromHeader(header.spec))
    const world = existingWorldOptions(io, storeRoot, header.adapter, worldOptionsOf(parsed, "resume"))
    const sim = simRunFor(storeRoot, id, parsed)
    const opened = await openAdapter(io, parsed, header.adapter, storeRoot, id, world, sim, { continuing: id })
    return await runRollout({
      io,
      metricsPort: str(parsed, "metrics-port"),
      otlpEndpoint: str(parsed, "otlp-endpoint"),
      cdeventsUrl: str(parsed, "cdevents-url"),
      logs: logOptionsOf(parsed, "resume"),
      mode: outputModeOf(io, parsed),
      verbose: flag(parsed, "verbose"),
      store,
      adapter: opened,
      gates,
      header,
      seed: (r) => r.model.seed(inspected.snapshot.context),
      rolloutId: id,
      program: resumeRollout(id, owner),
      exitCode: (result) => resultExit(mode, result)
    })
  } finally {
    await runStoreEffect(store, store.release(id, owner))
  }
}
