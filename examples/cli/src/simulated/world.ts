import * as fs from "node:fs"
import * as path from "node:path"
import { FileStore, type Lease, makeFileLock } from "@sluice/core"
import {
  type Latency,
  makeSimulatedFleet,
  type SimTarget,
  type SimTargetState,
  type SimulatedFleet,
  simTargetState
} from "@sluice/core/testing"
import { Cause, Effect, Exit } from "effect"
import { UserError } from "../errors.js"
import type { FaultSpec } from "./faults.js"

/** Write-to-temp, fsync, rename, fsync the directory: the file is either old or new, never torn. */
const writeFileAtomic = (file: string, data: string) => {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  const fd = fs.openSync(tmp, "w", 0o600)
  try {
    fs.writeSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  const dir = fs.openSync(path.dirname(file), "r")
  try {
    fs.fsyncSync(dir)
  } finally {
    fs.closeSync(dir)
  }
}

/**
 * The simulated fleet lives next to the rollouts, in `<store>/.simulated-fleet/`, so every command
 * sees the same fleet, like a real cluster: `apply` of v2 then of v2.1 works on the fleet v2
 * left, `resume` after a crash continues on the fleet as the killed process left it, and
 * `rollback` restores it. (`.simulated-fleet` can never be a rollout id, which must start with a
 * letter or digit.)
 *
 * `fleet.ndjson` is an append-only log: a `fleet` line (size, zones, seed, initial image), then
 * one line per target change, written synchronously before the change is reported to the
 * interpreter — so the journal never records what the fleet file does not hold. Lines are
 * flushed to the OS (they survive kill -9) but not fsync'd. The log is compacted when opened.
 * A lease in `locks/` (the file store's, see `lockFleet`) keeps two processes from driving the
 * fleet at once.
 */
export const WORLD_DIR = ".simulated-fleet"
const LOG = "fleet.ndjson"
const LOCKS = "locks"

export interface WorldOptions {
  readonly size: number
  readonly zones: ReadonlyArray<string>
  readonly seed: number
  /** The image every target runs when the fleet is created. */
  readonly image: string
}

/** Per-rollout simulation settings, kept in `<store>/<id>/simulated.json` so `resume` behaves the same. */
export interface SimRunOptions {
  readonly faultsText?: string
  readonly faults: FaultSpec
  readonly applyLatency: Latency
  readonly readyLatency: Latency
}

type LogLine =
  | ({ readonly kind: "fleet"; readonly version: 1; readonly createdAt: number } & WorldOptions)
  | ({ readonly kind: "target"; readonly id: string } & SimTargetState)
  | {
      readonly kind: "change"
      readonly id: string
      readonly image: string
      readonly phase: "running" | "stopped"
      readonly startedAt: number | null
      readonly readyAfterMs: number
      readonly pushed?: ReadonlyArray<SimTargetState["history"][number]>
    }

export interface WorldState {
  readonly options: WorldOptions
  readonly createdAt: number
  readonly targets: Record<string, SimTargetState>
  readonly lines: number
}

export const worldDir = (storeRoot: string) => path.join(storeRoot, WORLD_DIR)
export const simRunFile = (storeRoot: string, rolloutId: string) => path.join(storeRoot, rolloutId, "simulated.json")

/** Replays the log; `undefined` when there is no simulated fleet yet. A torn last line is ignored. */
export const readWorld = (storeRoot: string): WorldState | undefined => {
  const file = path.join(worldDir(storeRoot), LOG)
  if (!fs.existsSync(file)) return undefined
  const lines = fs.readFileSync(file, "utf8").split("\n")
  let options: WorldOptions | undefined
  let createdAt = 0
  const targets: Record<string, SimTargetState> = {}
  let count = 0
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!
    if (raw.trim() === "") continue
    let line: LogLine
    try {
      line = JSON.parse(raw) as LogLine
    } catch (e) {
      if (i >= lines.length - 2) break
      throw new Error(`${file}: line ${i + 1} is corrupt: ${(e as Error).message}`)
    }
    count++
    if (line.kind === "fleet") {
      options = { size: line.size, zones: line.zones, seed: line.seed, image: line.image }
      createdAt = line.createdAt
    } else if (line.kind === "target") {
      const { kind: _k, id, ...state } = line
      targets[id] = state
    } else {
      const before = targets[line.id]
      targets[line.id] = {
        image: line.image,
        phase: line.phase,
        startedAt: line.startedAt,
        readyAfterMs: line.readyAfterMs,
        history: [...(before?.history ?? []), ...(line.pushed ?? [])]
      }
    }
  }
  if (options === undefined) throw new Error(`${file} has no fleet header line`)
  return { options, createdAt, targets, lines: count }
}

/**
 * Locks the simulated fleet with the lease the file store uses for rollouts (core's
 * `makeFileLock`: an exclusive create per generation, a heartbeat, a stale timeout; a lease of a
 * process of this host that is gone is free at once).
 */
const lockFleet = async (dir: string, rolloutId: string): Promise<Lease> => {
  const lock = await Effect.runPromise(makeFileLock(path.join(dir, LOCKS)).pipe(Effect.provide(FileStore.NodeServices)))
  const exit = await Effect.runPromiseExit(lock.acquire(`rollout ${rolloutId}`))
  if (Exit.isSuccess(exit)) return exit.value
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && error.value._tag === "LockHeld") {
    throw new UserError({
      message: `the simulated fleet in ${dir} is in use by ${error.value.holder}; wait for it to finish, pause/abort it, or use another --store`
    })
  }
  const reason = error._tag === "Some" ? error.value.message : Cause.pretty(exit.cause)
  throw new UserError({ message: `cannot lock the simulated fleet in ${dir}: ${reason}` })
}

export interface OpenedWorld {
  readonly fleet: SimulatedFleet
  readonly created: boolean
  readonly options: WorldOptions
  readonly release: () => Promise<void>
}

const fleetFrom = (
  options: WorldOptions,
  state: Record<string, SimTargetState> | undefined,
  run: SimRunOptions,
  seed: number,
  onChange?: (t: SimTarget) => void
) =>
  makeSimulatedFleet({
    size: options.size,
    zones: options.zones,
    seed,
    image: options.image,
    versions: run.faults.versions,
    faults: run.faults.faults,
    applyLatency: run.applyLatency,
    readyLatency: run.readyLatency,
    ...(state === undefined ? {} : { state }),
    ...(onChange === undefined ? {} : { onChange })
  })

/** A fleet to look at (`plan`): the persisted one, or a fresh one from the options; never written. */
export const viewWorld = (storeRoot: string, create: WorldOptions, run: SimRunOptions) => {
  const state = readWorld(storeRoot)
  return {
    fleet: fleetFrom(state?.options ?? create, state?.targets, run, (state?.options ?? create).seed),
    exists: state !== undefined,
    options: state?.options ?? create
  }
}

/**
 * Opens the fleet for driving: locks it, creates it from `create` when there is none, compacts the
 * log, and persists every change from now on.
 */
export const openWorld = async (
  storeRoot: string,
  create: WorldOptions,
  run: SimRunOptions,
  rolloutId: string
): Promise<OpenedWorld> => {
  const dir = worldDir(storeRoot)
  fs.mkdirSync(dir, { recursive: true })
  const lease = await lockFleet(dir, rolloutId)
  try {
    const existing = readWorld(storeRoot)
    const options = existing?.options ?? create
    const file = path.join(dir, LOG)
    const compact = existing === undefined || existing.lines > 2 * options.size + 200
    if (compact) {
      const header: LogLine = { kind: "fleet", version: 1, createdAt: existing?.createdAt ?? Date.now(), ...options }
      const body = [
        header,
        ...Object.entries(existing?.targets ?? {}).map(([id, s]): LogLine => ({ kind: "target", id, ...s }))
      ]
      writeFileAtomic(file, body.map((l) => `${JSON.stringify(l)}\n`).join(""))
    }
    const persisted = new Map<string, number>()
    for (const [id, s] of Object.entries(existing?.targets ?? {})) persisted.set(id, s.history.length)
    const fd = fs.openSync(file, "a")
    const onChange = (t: SimTarget) => {
      const done = persisted.get(t.target.id) ?? 0
      const s = simTargetState(t)
      const line: LogLine = {
        kind: "change",
        id: t.target.id,
        image: s.image,
        phase: s.phase,
        startedAt: s.startedAt,
        readyAfterMs: s.readyAfterMs,
        ...(t.history.length > done ? { pushed: t.history.slice(done) } : {})
      }
      fs.writeSync(fd, `${JSON.stringify(line)}\n`)
      persisted.set(t.target.id, t.history.length)
    }
    // A resumed process must not replay the same random faults: the seed moves with the log.
    const fleet = fleetFrom(options, existing?.targets, run, options.seed + (existing?.lines ?? 0), onChange)
    let released = false
    return {
      fleet,
      created: existing === undefined,
      options,
      release: async () => {
        if (released) return
        released = true
        fs.closeSync(fd)
        await Effect.runPromise(lease.release)
      }
    } satisfies OpenedWorld
  } catch (e) {
    await Effect.runPromise(lease.release)
    throw e
  }
}

export const writeSimRun = (storeRoot: string, rolloutId: string, run: SimRunOptions) =>
  writeFileAtomic(simRunFile(storeRoot, rolloutId), `${JSON.stringify({ version: 1, ...run }, null, 2)}\n`)

export const readSimRun = (storeRoot: string, rolloutId: string): SimRunOptions | undefined => {
  const file = simRunFile(storeRoot, rolloutId)
  if (!fs.existsSync(file)) return undefined
  const { version: _v, ...run } = JSON.parse(fs.readFileSync(file, "utf8")) as SimRunOptions & { version: number }
  return run
}

export const DEFAULT_WORLD = {
  size: 500,
  zones: ["zone-a", "zone-b", "zone-c"],
  seed: 1,
  image: "registry.sluice.dev/agents/node-agent:1.0.0"
} as const satisfies WorldOptions

export const DEFAULT_APPLY_LATENCY: Latency = { minMs: 20, maxMs: 80 }
export const DEFAULT_READY_LATENCY: Latency = { minMs: 50, maxMs: 250 }
