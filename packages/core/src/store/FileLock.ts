import * as os from "node:os"
import { Clock, Duration, Effect, Fiber, FileSystem, Path, Result, Schema } from "effect"
import { decodeJson } from "./StoredFiles.js"

/**
 * A single-writer lease kept in a directory, for one process at a time on any host that shares the
 * directory. Each acquisition creates the next **generation**, a file `<12 digits>.json`, created
 * exclusively and whole (written to a temp file, then hard-linked to its name, which fails when the
 * name exists): of two processes that take over the same generation, exactly one creates it. The
 * newest generation says who holds the lease (`held`) or that nobody does
 * (`released`, `broken`). Its holder touches it every `heartbeatMs` (its mtime is the heartbeat).
 *
 * A held lease is free again when its heartbeat is older than `staleMs`, whatever host holds it;
 * or at once when it names a process of this host (and PID namespace) that is gone. An operator may break it sooner
 * (`breakStale`), never while its heartbeat is younger than `freshMs`.
 *
 * The newest generation's file is never deleted (release rewrites it as `released`; a new holder
 * deletes only the older ones), so the generations only grow: a process that took an outdated
 * look and created an older generation sees the newer one right after and backs off, and a holder
 * that was only slow finds a newer generation at its next heartbeat or `check` (fencing).
 */
export interface FileLockOptions {
  /** How often the holder touches its lease file (default 1 s). */
  readonly heartbeatMs?: number
  /** A lease whose heartbeat is older than this is free (default 15 s). */
  readonly staleMs?: number
  /** `breakStale` is refused while the heartbeat is younger than this (default 3 heartbeats). */
  readonly freshMs?: number
  /** This host's name, compared with a lease's `host` (default `os.hostname()`). */
  readonly host?: string
}

/** What a lease file holds. */
export const LockFile = Schema.Struct({
  version: Schema.Literal(1),
  state: Schema.Literals(["held", "released", "broken"]),
  owner: Schema.String,
  host: Schema.String,
  pid: Schema.Int,
  acquiredAt: Schema.Number,
  /**
   * The holder's PID namespace (Linux: `/proc/self/ns/pid`): two containers may share a host name
   * but not their PIDs, so a PID is only looked up by a process of the same host and namespace.
   */
  pidNamespace: Schema.optionalKey(Schema.String),
  /** Who released or broke it, and why. */
  note: Schema.optionalKey(Schema.String)
})
export type LockFile = typeof LockFile.Type

/** Someone else holds the lease. `holder` describes them for a message. */
export class LockHeld extends Schema.TaggedError<LockHeld>()("LockHeld", {
  lock: Schema.String,
  owner: Schema.String,
  holder: Schema.String,
  generation: Schema.Int,
  heartbeatAgeMs: Schema.Number
}) {
  override get message(): string {
    return `${this.lock} is held by ${this.holder}`
  }
}

/** The lease directory could not be read or written. */
export class LockFailed extends Schema.TaggedError<LockFailed>()("LockFailed", {
  lock: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** The lease was taken over (it went stale, or an operator broke it): stop writing. */
export class LockLost extends Schema.TaggedError<LockLost>()("LockLost", {
  lock: Schema.String,
  generation: Schema.Int,
  message: Schema.String
}) {}

export type LockState =
  | { readonly kind: "free"; readonly generation: number; readonly why: string }
  | {
      readonly kind: "held"
      readonly generation: number
      readonly file: LockFile | undefined
      readonly owner: string
      readonly holder: string
      readonly heartbeatAgeMs: number
    }

export interface Lease {
  readonly generation: number
  /** Fails with LockLost when a newer generation exists (the lease went to someone else). */
  readonly check: Effect.Effect<void, LockLost | LockFailed>
  /** Stops the heartbeat and marks the lease released (if it is still ours). */
  readonly release: Effect.Effect<void>
}

export interface FileLock {
  readonly dir: string
  readonly inspect: Effect.Effect<LockState, LockFailed>
  readonly acquire: (owner: string) => Effect.Effect<Lease, LockHeld | LockFailed>
  /**
   * Breaks a held lease whose heartbeat is not fresh (a newer generation marked `broken`).
   * Returns what it broke, or `undefined` when nobody held it.
   */
  readonly breakStale: (by: string) => Effect.Effect<LockState | undefined, LockHeld | LockFailed>
}

const GEN = /^(\d{12})\.json$/
const genName = (n: number) => `${String(n).padStart(12, "0")}.json`

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`
const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e))
const isTag = (e: unknown, tag: string) =>
  typeof e === "object" && e !== null && (e as { reason?: { _tag?: string } }).reason?._tag === tag

/** A lease directory on `FileSystem`; the directory's parent must exist. */
export const makeFileLock = Effect.fnUntraced(function* (dir: string, options: FileLockOptions = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const heartbeatMs = options.heartbeatMs ?? 1000
  const staleMs = options.staleMs ?? 15_000
  const freshMs = Math.min(options.freshMs ?? 3 * heartbeatMs, staleMs)
  const host = options.host ?? os.hostname()
  const pidNamespace = yield* fs.readLink("/proc/self/ns/pid").pipe(
    Effect.map((link): string | undefined => link),
    Effect.orElseSucceed(() => undefined)
  )
  /** Whether `lock` names a process this one can look up by PID (and that process is gone). */
  const gone = (lock: LockFile) => lock.host === host && lock.pidNamespace === pidNamespace && !isAlive(lock.pid)
  const fail = (message: string) => (cause: unknown) =>
    new LockFailed({ lock: dir, message: `${message}: ${reasonOf(cause)}`, cause })

  const generations = fs.readDirectory(dir).pipe(
    Effect.map((names) =>
      names
        .map((n) => GEN.exec(n)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => b - a)
    ),
    Effect.catchIf(
      (e) => isTag(e, "NotFound"),
      () => Effect.succeed([] as Array<number>)
    ),
    Effect.mapError(fail(`cannot list ${dir}`))
  )

  /** The newest generation's state; `undefined` when its file vanished meanwhile (look again). */
  const stateOf = (generation: number): Effect.Effect<LockState | undefined, LockFailed> => {
    const file = path.join(dir, genName(generation))
    return Effect.gen(function* () {
      const read = yield* Effect.all([fs.readFileString(file), fs.stat(file)]).pipe(
        Effect.map((r) => r as readonly [string, FileSystem.File.Info] | undefined),
        Effect.catchIf(
          (e) => isTag(e, "NotFound"),
          () => Effect.succeed(undefined)
        ),
        Effect.mapError(fail(`cannot read ${file}`))
      )
      if (read === undefined) return undefined
      const [text, info] = read
      const now = yield* Clock.currentTimeMillis
      const heartbeatAgeMs = Math.max(0, now - (info.mtime._tag === "Some" ? info.mtime.value.getTime() : 0))
      const decoded = decodeJson(LockFile, text)
      if (Result.isFailure(decoded)) {
        // Torn or foreign: held by nobody we know, judged by its heartbeat alone (an exclusive
        // create leaves the file empty for a moment before its content is written).
        const holder = `an unknown process (unreadable lease file ${file}: ${decoded.failure})`
        if (heartbeatAgeMs > staleMs)
          return { kind: "free", generation, why: `${holder} is stale (${seconds(heartbeatAgeMs)})` }
        return { kind: "held", generation, file: undefined, owner: "unknown", holder, heartbeatAgeMs }
      }
      const lock = decoded.success
      if (lock.state !== "held") return { kind: "free", generation, why: `${lock.state} by ${lock.note ?? lock.owner}` }
      const holder = `${lock.owner} (pid ${lock.pid} on ${lock.host}, heartbeat ${seconds(heartbeatAgeMs)} ago)`
      if (gone(lock)) return { kind: "free", generation, why: `${holder}: its process is gone` }
      if (heartbeatAgeMs > staleMs) return { kind: "free", generation, why: `${holder}: stale` }
      return { kind: "held", generation, file: lock, owner: lock.owner, holder, heartbeatAgeMs }
    })
  }

  const inspect: Effect.Effect<LockState, LockFailed> = Effect.gen(function* () {
    for (let attempt = 0; attempt < 10; attempt++) {
      const gens = yield* generations
      if (gens.length === 0) return { kind: "free", generation: 0, why: "never held" } as const
      const state = yield* stateOf(gens[0]!)
      if (state !== undefined) return state
    }
    return yield* new LockFailed({ lock: dir, message: `${dir} keeps changing; try again` })
  })

  const heldError = (s: Extract<LockState, { kind: "held" }>) =>
    new LockHeld({
      lock: dir,
      owner: s.owner,
      holder: s.holder,
      generation: s.generation,
      heartbeatAgeMs: s.heartbeatAgeMs
    })

  /**
   * Creates generation `generation` exclusively, whole: the content goes to a temp file first, then
   * a hard link gives it the generation's name, which fails if the name exists (so a reader never
   * sees a half-written lease). False when another process created it first.
   */
  const create = (generation: number, body: LockFile) => {
    const file = path.join(dir, genName(generation))
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`
    return fs.writeFileString(tmp, `${JSON.stringify(body)}\n`, { flag: "wx" }).pipe(
      Effect.andThen(fs.link(tmp, file)),
      Effect.as(true),
      Effect.catchIf(
        (e) => isTag(e, "AlreadyExists"),
        () => Effect.succeed(false)
      ),
      Effect.ensuring(Effect.ignore(fs.remove(tmp))),
      Effect.mapError(fail(`cannot create ${file}`))
    )
  }

  const ensureDir = fs.makeDirectory(dir).pipe(
    Effect.catchIf(
      (e) => isTag(e, "AlreadyExists"),
      () => Effect.void
    ),
    Effect.mapError(fail(`cannot create ${dir}`))
  )

  const newer = (generation: number) =>
    generations.pipe(Effect.map((gens) => gens.length === 0 || gens[0]! > generation || !gens.includes(generation)))

  const check = (generation: number): Effect.Effect<void, LockLost | LockFailed> =>
    newer(generation).pipe(
      Effect.flatMap((lost) =>
        lost
          ? Effect.fail(
              new LockLost({
                lock: dir,
                generation,
                message: `the lease ${dir} (generation ${generation}) was taken over by another process`
              })
            )
          : Effect.void
      )
    )

  const lease = (generation: number, body: LockFile) =>
    Effect.gen(function* () {
      const file = path.join(dir, genName(generation))
      const beat = Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep(Duration.millis(heartbeatMs))
          if (yield* newer(generation)) return
          const now = yield* Clock.currentTimeMillis
          yield* fs.utimes(file, now / 1000, now / 1000)
        }
      }).pipe(Effect.ignore)
      const heartbeat = yield* Effect.forkDetach(beat)
      let released = false
      const release = Effect.suspend(() => {
        if (released) return Effect.void
        released = true
        return Effect.gen(function* () {
          yield* Fiber.interrupt(heartbeat)
          if (yield* newer(generation)) return
          const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
          yield* fs.writeFileString(tmp, `${JSON.stringify({ ...body, state: "released" } satisfies LockFile)}\n`)
          yield* fs.rename(tmp, file)
        }).pipe(Effect.ignore)
      })
      return { generation, check: check(generation), release } satisfies Lease
    })

  const acquire = (owner: string): Effect.Effect<Lease, LockHeld | LockFailed> =>
    Effect.gen(function* () {
      yield* ensureDir
      for (let attempt = 0; attempt < 10; attempt++) {
        const state = yield* inspect
        if (state.kind === "held") return yield* heldError(state)
        const generation = state.generation + 1
        const body: LockFile = {
          version: 1,
          state: "held",
          owner,
          host,
          pid: process.pid,
          acquiredAt: yield* Clock.currentTimeMillis,
          ...(pidNamespace === undefined ? {} : { pidNamespace })
        }
        if (!(yield* create(generation, body))) continue
        // Someone who looked at an older generation may have created a newer one meanwhile.
        const gens = yield* generations
        if (gens[0] !== generation) {
          const now = yield* inspect
          if (now.kind === "held") return yield* heldError(now)
          continue
        }
        for (const old of gens.slice(1)) yield* Effect.ignore(fs.remove(path.join(dir, genName(old))))
        return yield* lease(generation, body)
      }
      return yield* new LockFailed({ lock: dir, message: `could not take ${dir}: it keeps changing` })
    })

  const breakStale = (by: string): Effect.Effect<LockState | undefined, LockHeld | LockFailed> =>
    Effect.gen(function* () {
      const state = yield* inspect
      if (state.kind === "free") return undefined
      if (state.heartbeatAgeMs < freshMs) return yield* heldError(state)
      const broke = yield* create(state.generation + 1, {
        version: 1,
        state: "broken",
        owner: by,
        host,
        pid: process.pid,
        acquiredAt: yield* Clock.currentTimeMillis,
        note: `${by} broke the lease of ${state.holder}`
      })
      if (!broke) return yield* breakStale(by)
      return state
    })

  return { dir, inspect, acquire, breakStale } satisfies FileLock
})
