import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Clock, Effect, FileSystem, Layer, Path, Result } from "effect"
import * as Base64 from "effect/encoding/Base64"
import { type FileLock, type FileLockOptions, type Lease, makeFileLock } from "./FileLock.js"
import {
  type ControlRequest,
  type JournalEntry,
  type JournalSnapshot,
  pendingInOrder,
  type RolloutHeader,
  RolloutLocked,
  RolloutNotFound,
  RolloutStore,
  type RolloutStoreShape,
  StoreError,
  type StoredRollout
} from "./RolloutStore.js"
import {
  ControlRequestFile,
  checkHeader,
  decodeHeader,
  decodeJournalLine,
  decodeJson,
  decodeValue,
  SnapshotFile
} from "./StoredFiles.js"

export interface FileStoreOptions {
  /** The single-writer lease's heartbeat and stale timeout (see {@link FileLockOptions}). */
  readonly lock?: FileLockOptions
}

const ROLLOUT_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/
const NEWLINE = 0x0a
const encoder = new TextEncoder()

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e))
const isTag = (e: unknown, tag: string) =>
  typeof e === "object" && e !== null && (e as { reason?: { _tag?: string } }).reason?._tag === tag

/**
 * The text JSON.stringify makes of `value`, in pieces: the first levels (a header, its plan) are
 * opened up entry by entry, and so are the large arrays and objects a little deeper (the plan's
 * targets, the previous revisions); everything else is stringified whole. A 100,000-target header
 * is 20 MB of JSON: as one string it stayed in the old generation to the end of the rollout once a
 * collection had promoted it during the write.
 */
export const jsonPieces = (value: unknown): Generator<string> => piecesOf(resolved(value, ""), 0)

/** What JSON.stringify writes for a value under `key`: what its `toJSON`, if any, returns. */
const resolved = (value: unknown, key: string): unknown =>
  value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function"
    ? (value as { toJSON: (key: string) => unknown }).toJSON(key)
    : value

function* piecesOf(v: unknown, depth: number): Generator<string> {
  const container =
    v !== null &&
    typeof v === "object" &&
    (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)
  const keys = container && !Array.isArray(v) ? Object.keys(v as object) : undefined
  const size = keys === undefined ? (v as ReadonlyArray<unknown>)?.length : keys.length
  if (!container || depth >= 4 || (depth >= 2 && size < 64)) {
    yield JSON.stringify(v) ?? "null"
    return
  }
  if (keys === undefined) {
    const list = v as ReadonlyArray<unknown>
    yield "["
    for (let i = 0; i < list.length; i++) {
      if (i > 0) yield ","
      yield* piecesOf(resolved(list[i], String(i)), depth + 1)
    }
    yield "]"
    return
  }
  yield "{"
  let first = true
  for (const k of keys) {
    const entry = resolved((v as Record<string, unknown>)[k], k)
    // What JSON.stringify leaves out of an object.
    if (entry === undefined || typeof entry === "function" || typeof entry === "symbol") continue
    yield `${first ? "" : ","}${JSON.stringify(k)}:`
    first = false
    yield* piecesOf(entry, depth + 1)
  }
  yield "}"
}

/** Pieces of text joined into strings of at least 64 K characters: fewer, larger encodes. */
function* chunked(pieces: Iterable<string>): Generator<string> {
  let text = ""
  for (const piece of pieces) {
    text += piece
    if (text.length >= 65_536) {
      yield text
      text = ""
    }
  }
  if (text !== "") yield text
}

/** One value as a JSON line, in pieces. */
function* jsonLine(value: unknown): Generator<string> {
  yield* jsonPieces(value)
  yield "\n"
}

/** Journal entries as JSON lines, each stringified whole (the largest names a wave's targets). */
function* entryLines(entries: ReadonlyArray<unknown>): Generator<string> {
  for (const e of entries) yield `${JSON.stringify(e)}\n`
}

/** Bytes per write of {@link writeText}. */
const WRITE_BUFFER = 1 << 20
let spareBuffer: Uint8Array | undefined

/**
 * Writes text given in pieces through a reused buffer, a buffer at a time. Encoding a whole file's
 * text at once made an ArrayBuffer as large as the text outside the heap, freed only when a full
 * collection found its wrapper, by then promoted: at 100,000 targets the header's 20 MB and every
 * journal batch stayed allocated to the end of the rollout. A write that finds the buffer in use
 * (another write in flight) makes its own.
 */
const writeText = (file: FileSystem.File, pieces: Iterable<string>) =>
  Effect.suspend(() => {
    const buffer = spareBuffer ?? new Uint8Array(WRITE_BUFFER)
    spareBuffer = undefined
    const it = pieces[Symbol.iterator]()
    let piece = ""
    let done = false
    /** Fills the buffer from the pieces; the number of bytes to write. */
    const fill = () => {
      let used = 0
      while (!done) {
        if (piece === "") {
          const next = it.next()
          if (next.done === true) {
            done = true
            break
          }
          piece = next.value
          continue
        }
        // encodeInto never splits a surrogate pair; `read` counts UTF-16 units.
        const { read, written } = encoder.encodeInto(piece, buffer.subarray(used))
        used += written
        piece = read === piece.length ? "" : piece.slice(read)
        if (piece !== "") break
      }
      return used
    }
    return Effect.whileLoop({
      while: () => !done || piece !== "",
      body: () => {
        const used = fill()
        return used === 0 ? Effect.void : file.writeAll(buffer.subarray(0, used))
      },
      step: () => {}
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          spareBuffer = buffer
        })
      )
    )
  })

/**
 * The embedded default, on Effect's `FileSystem` and `Path`. One directory per rollout:
 *
 * - `header.json`: what a resume needs (written atomically: temp file, fsync, rename, fsync the
 *   directory);
 * - `journal.ndjson`: the append-only journal; each `append` is one write and one fsync (the
 *   interpreter group-commits, so one append carries a batch). A torn last line (a crash or a full
 *   disk mid-append) is ignored on read, and cut off before the next append, its bytes kept in
 *   `torn/<offset>.json`;
 * - `snapshot.json`: the latest compaction point (atomic, like the header);
 * - `locks/`: the single-writer lease (see {@link makeFileLock}): an exclusive create per
 *   generation, a heartbeat, a stale timeout; an `append` by a holder whose lease was taken over
 *   fails. `acquire` is re-entrant for the same owner (counted); a held lease keeps a heartbeat
 *   fiber running (and so the process alive) until the matching `release`;
 * - `controls/`: the inbox for operator controls from other processes. A control file that does
 *   not decode is moved to `quarantine/` and reported (a warning naming it); it never stops the
 *   rollout.
 *
 * Every file is decoded with a Schema (`StoredFiles.ts`); a bad one is a StoreError naming it.
 */
export const make = Effect.fnUntraced(function* (root: string, options: FileStoreOptions = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = (id: string) => path.join(root, id)
  const fileOf = (id: string, name: string) => path.join(root, id, name)
  const error = (rolloutId: string, operation: string, message: string, file?: string, cause?: unknown) =>
    new StoreError({
      rolloutId,
      operation,
      message,
      ...(file === undefined ? {} : { path: file }),
      ...(cause === undefined ? {} : { cause })
    })
  /** Maps a platform failure to a StoreError saying what was being done to which file. */
  const io =
    (rolloutId: string, operation: string, what: string, file?: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.mapError(self, (e) => error(rolloutId, operation, `${what}: ${reasonOf(e)}`, file, e))
  const orElse =
    <B>(tag: string, value: B) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.catchIf(
        self,
        (e) => isTag(e, tag),
        () => Effect.succeed(value)
      )

  /** A warning about a stored file, annotated with it (`store`), so a log filter can tell it apart. */
  const warn = (file: string, message: string) =>
    Effect.logWarning(`store: ${message}`).pipe(Effect.annotateLogs({ store: file }))

  const fsyncDir = (d: string) => Effect.scoped(Effect.flatMap(fs.open(d, { flag: "r" }), (f) => f.sync))

  /** Temp file, fsync, rename, fsync the directory: the file is either old or new, never torn. */
  const writeAtomic = (file: string, value: unknown) =>
    Effect.gen(function* () {
      const tmp = `${file}.${process.pid}.${(yield* Clock.currentTimeMillis).toString(36)}.${Math.random().toString(36).slice(2, 8)}.tmp`
      yield* Effect.scoped(
        Effect.gen(function* () {
          const f = yield* fs.open(tmp, { flag: "wx", mode: 0o600 })
          yield* writeText(f, chunked(jsonLine(value)))
          yield* f.sync
        })
      )
      yield* fs.rename(tmp, file)
      yield* fsyncDir(path.dirname(file))
    })

  /** Creates `d` and its missing parents one level at a time (a recursive mkdir can hang on /proc). */
  const makeDirs = (d: string) =>
    Effect.gen(function* () {
      const missing: Array<string> = []
      for (let p = d; !(yield* fs.exists(p)); p = path.dirname(p)) {
        missing.unshift(p)
        if (path.dirname(p) === p) break
      }
      for (const m of missing) yield* fs.makeDirectory(m).pipe(orElse("AlreadyExists", undefined))
    })

  const exists = (id: string) => fs.exists(fileOf(id, "header.json")).pipe(orElse("PermissionDenied", false))
  const mustExist = (id: string) =>
    exists(id).pipe(
      io(id, "read", `cannot look at ${fileOf(id, "header.json")}`),
      Effect.flatMap((found) => (found ? Effect.void : Effect.fail(new RolloutNotFound({ rolloutId: id }))))
    )

  // --- the single-writer lease ---------------------------------------------------------------
  const locks = new Map<string, FileLock>()
  const lockOf = (id: string) =>
    Effect.suspend(() => {
      const known = locks.get(id)
      if (known !== undefined) return Effect.succeed(known)
      return makeFileLock(path.join(dir(id), "locks"), options.lock).pipe(
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, path),
        Effect.tap((lock) => Effect.sync(() => locks.set(id, lock)))
      )
    })
  /** Leases this store holds, by rollout: re-entrant for the same owner. */
  const held = new Map<string, { owner: string; lease: Lease; count: number }>()
  const fence = (rolloutId: string, operation: string) =>
    Effect.suspend(() => {
      const mine = held.get(rolloutId)
      if (mine === undefined) return Effect.void
      return mine.lease.check.pipe(
        Effect.mapError((e) =>
          error(
            rolloutId,
            operation,
            e._tag === "LockLost" ? `${e.message}; this process stops writing` : e.message,
            path.join(dir(rolloutId), "locks"),
            e
          )
        )
      )
    })

  // --- the journal ----------------------------------------------------------------------------
  /** Rollouts whose journal ends on a whole line (checked before this store's first append). */
  const wholeTail = new Set<string>()

  /** Cuts a torn last line off the journal, keeping its bytes in `torn/<offset>.json`. */
  const repairTail = (rolloutId: string) =>
    Effect.gen(function* () {
      const file = fileOf(rolloutId, "journal.ndjson")
      const torn = yield* Effect.scoped(
        Effect.gen(function* () {
          const f = yield* fs.open(file, { flag: "r" })
          const size = Number((yield* f.stat).size)
          if (size === 0) return undefined
          // Scan back from the end for the last newline, a chunk at a time.
          let end = size
          let start = size
          while (start > 0) {
            const from = Math.max(0, start - 65536)
            const chunk = new Uint8Array(start - from)
            yield* f.seek(BigInt(from), "start")
            let got = 0
            while (got < chunk.length) {
              const n = yield* f.read(chunk.subarray(got))
              if (n === 0) break
              got += n
            }
            const at = chunk.lastIndexOf(NEWLINE)
            if (at >= 0) {
              start = from + at + 1
              break
            }
            start = from
          }
          if (start === end) return undefined
          const bytes = new Uint8Array(end - start)
          yield* f.seek(BigInt(start), "start")
          let got = 0
          while (got < bytes.length) {
            const n = yield* f.read(bytes.subarray(got))
            if (n === 0) break
            got += n
          }
          end = start + got
          return { offset: start, bytes: bytes.subarray(0, got) }
        })
      )
      if (torn === undefined) return
      const tornDir = fileOf(rolloutId, "torn")
      yield* fs.makeDirectory(tornDir).pipe(orElse("AlreadyExists", undefined))
      const record = path.join(tornDir, `${torn.offset}.json`)
      yield* writeAtomic(record, {
        journal: "journal.ndjson",
        offset: torn.offset,
        length: torn.bytes.length,
        cutAt: yield* Clock.currentTimeMillis,
        base64: Base64.encode(torn.bytes)
      })
      yield* fs.truncate(file, torn.offset)
      yield* Effect.scoped(Effect.flatMap(fs.open(file, { flag: "r+" }), (f) => f.sync))
      yield* warn(
        file,
        `${file} ended in a torn line (${torn.bytes.length} bytes at offset ${torn.offset}, from an append that never completed); cut it off before appending, its bytes are kept in ${record}`
      )
    }).pipe(io(rolloutId, "append", `cannot repair the torn end of ${fileOf(rolloutId, "journal.ndjson")}`))

  const parseJournal = (rolloutId: string, file: string, text: string) =>
    Effect.suspend(() => {
      const lines = text.split("\n")
      // After the last newline: nothing, or a torn line from an append that never completed.
      lines.pop()
      const entries: Array<JournalEntry> = []
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!
        if (line.trim() === "") continue
        let value: unknown
        try {
          value = JSON.parse(line)
        } catch (e) {
          return Effect.fail(
            error(rolloutId, "read", `${file} line ${i + 1} is corrupt: not JSON (${(e as Error).message})`, file)
          )
        }
        const decoded = decodeJournalLine(value)
        if (Result.isFailure(decoded)) {
          return Effect.fail(error(rolloutId, "read", `${file} line ${i + 1} is corrupt: ${decoded.failure}`, file))
        }
        entries.push(decoded.success as JournalEntry)
      }
      return Effect.succeed(entries)
    })

  const readDecoded = <A>(
    rolloutId: string,
    file: string,
    decode: (text: string) => Result.Result<A, string>
  ): Effect.Effect<A, StoreError> =>
    fs.readFileString(file).pipe(
      io(rolloutId, "read", `cannot read ${file}`, file),
      Effect.flatMap((text) => {
        const decoded = decode(text)
        return Result.isSuccess(decoded)
          ? Effect.succeed(decoded.success)
          : Effect.fail(error(rolloutId, "read", `${file}: ${decoded.failure}`, file))
      })
    )

  // --- the control inbox ----------------------------------------------------------------------
  const inboxOf = (id: string) => path.join(dir(id), "controls")
  const controlName = (request: ControlRequest) => `${String(request.at).padStart(15, "0")}-${request.id}.json`

  /** Moves a control file that does not decode out of the inbox, and says so. */
  const quarantine = (rolloutId: string, file: string, why: string) =>
    Effect.gen(function* () {
      const to = path.join(dir(rolloutId), "quarantine")
      yield* fs.makeDirectory(to).pipe(orElse("AlreadyExists", undefined))
      const target = path.join(to, `controls-${path.basename(file)}`)
      yield* fs.rename(file, target).pipe(orElse("NotFound", undefined))
      yield* warn(file, `${file} is not a control request (${why}); moved to ${target}, ignored`)
    }).pipe(Effect.catch((e) => warn(file, `${file} is not a control request (${why}); cannot move it: ${e}`)))

  const inbox = (rolloutId: string) =>
    Effect.gen(function* () {
      const d = inboxOf(rolloutId)
      const names = (yield* fs.readDirectory(d).pipe(orElse("NotFound", [] as Array<string>)))
        .filter((n) => n.endsWith(".json"))
        .sort()
      const out: Array<{ readonly file: string; readonly request: ControlRequest }> = []
      for (const name of names) {
        const file = path.join(d, name)
        const text = yield* fs.readFileString(file).pipe(orElse("NotFound", undefined))
        if (text === undefined) continue // acknowledged meanwhile
        const decoded = decodeJson(ControlRequestFile, text)
        if (Result.isFailure(decoded)) yield* quarantine(rolloutId, file, decoded.failure)
        else out.push({ file, request: decoded.success })
      }
      return out
    }).pipe(io(rolloutId, "pendingControls", `cannot read ${inboxOf(rolloutId)}`, inboxOf(rolloutId)))

  const shape: RolloutStoreShape = {
    create: (header: RolloutHeader) => {
      const id = header.rolloutId
      return Effect.gen(function* () {
        if (!ROLLOUT_ID.test(id)) return yield* error(id, "create", `invalid rollout id "${id}"`)
        const checked = checkHeader(header)
        if (Result.isFailure(checked)) return yield* error(id, "create", `invalid header: ${checked.failure}`)
        yield* makeDirs(root).pipe(io(id, "create", `cannot create the store directory ${root}`, root))
        yield* fs
          .makeDirectory(dir(id))
          .pipe(
            Effect.mapError((e) =>
              isTag(e, "AlreadyExists")
                ? error(id, "create", `rollout ${id} already exists in ${root}`, dir(id))
                : error(id, "create", `cannot create ${dir(id)}: ${reasonOf(e)}`, dir(id), e)
            )
          )
        yield* Effect.gen(function* () {
          yield* fs.makeDirectory(inboxOf(id))
          yield* fs.makeDirectory(path.join(dir(id), "locks"))
          yield* fs.writeFileString(fileOf(id, "journal.ndjson"), "", { flag: "wx" })
          // One line: a 100,000-target header is parsed in half the time without indentation.
          yield* writeAtomic(fileOf(id, "header.json"), header)
          yield* fsyncDir(root)
        }).pipe(io(id, "create", `cannot write rollout ${id} in ${dir(id)}`, dir(id)))
        wholeTail.add(id)
      })
    },

    append: (rolloutId: string, entries: ReadonlyArray<JournalEntry>) =>
      Effect.gen(function* () {
        if (entries.length === 0) return
        yield* fence(rolloutId, "append")
        if (!wholeTail.has(rolloutId)) {
          yield* repairTail(rolloutId)
          wholeTail.add(rolloutId)
        }
        const file = fileOf(rolloutId, "journal.ndjson")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const f = yield* fs.open(file, { flag: "a" })
            yield* writeText(f, chunked(entryLines(entries)))
            yield* f.sync
          })
        ).pipe(
          // A failed write may have left part of a line: look at the end again before the next one.
          Effect.tapError(() => Effect.sync(() => wholeTail.delete(rolloutId))),
          io(rolloutId, "append", `cannot append to ${file}`, file)
        )
      }),

    read: (rolloutId: string) =>
      Effect.gen(function* () {
        yield* mustExist(rolloutId)
        const headerFile = fileOf(rolloutId, "header.json")
        const header = yield* readDecoded(rolloutId, headerFile, decodeHeader)
        if (header.rolloutId !== rolloutId) {
          return yield* error(
            rolloutId,
            "read",
            `${headerFile}: rolloutId: names rollout "${header.rolloutId}", not "${rolloutId}"`,
            headerFile
          )
        }
        const journalFile = fileOf(rolloutId, "journal.ndjson")
        const text = yield* fs
          .readFileString(journalFile)
          .pipe(io(rolloutId, "read", `cannot read ${journalFile}`, journalFile))
        const entries = yield* parseJournal(rolloutId, journalFile, text)
        // The snapshot only saves replay time (the journal holds everything): a bad one is ignored.
        const snapshotFile = fileOf(rolloutId, "snapshot.json")
        const snapshotText = yield* fs
          .readFileString(snapshotFile)
          .pipe(orElse("NotFound", undefined), io(rolloutId, "read", `cannot read ${snapshotFile}`, snapshotFile))
        let snapshot: JournalSnapshot | undefined
        if (snapshotText !== undefined) {
          const decoded = decodeJson(SnapshotFile, snapshotText)
          if (Result.isSuccess(decoded)) snapshot = decoded.success as JournalSnapshot
          else
            yield* warn(
              snapshotFile,
              `${snapshotFile} is not a snapshot (${decoded.failure}); ignored: the whole journal is replayed`
            )
        }
        return {
          header: header as unknown as RolloutHeader,
          entries,
          ...(snapshot === undefined ? {} : { snapshot })
        } satisfies StoredRollout
      }),

    writeSnapshot: (rolloutId: string, snapshot: JournalSnapshot) =>
      fence(rolloutId, "writeSnapshot").pipe(
        Effect.andThen(
          writeAtomic(fileOf(rolloutId, "snapshot.json"), snapshot).pipe(
            io(rolloutId, "writeSnapshot", `cannot write ${fileOf(rolloutId, "snapshot.json")}`)
          )
        )
      ),

    list: () =>
      Effect.gen(function* () {
        const names = yield* fs.readDirectory(root).pipe(orElse("NotFound", [] as Array<string>))
        const ids: Array<string> = []
        for (const name of names.filter((n) => ROLLOUT_ID.test(n)).sort()) if (yield* exists(name)) ids.push(name)
        return ids
      }).pipe(io("*", "list", `cannot list the store ${root}`, root)),

    acquire: (rolloutId: string, owner: string) =>
      Effect.gen(function* () {
        const mine = held.get(rolloutId)
        if (mine !== undefined && mine.owner === owner) {
          mine.count++
          return
        }
        if (mine !== undefined) return yield* new RolloutLocked({ rolloutId, owner: mine.owner })
        const found = yield* exists(rolloutId).pipe(io(rolloutId, "acquire", `cannot look at ${dir(rolloutId)}`))
        if (!found) return yield* error(rolloutId, "acquire", `no rollout ${rolloutId} in ${root}`)
        const lock = yield* lockOf(rolloutId)
        const lease = yield* lock
          .acquire(owner)
          .pipe(
            Effect.mapError((e) =>
              e._tag === "LockHeld"
                ? new RolloutLocked({ rolloutId, owner: e.owner === "unknown" ? e.holder : e.owner })
                : error(rolloutId, "acquire", e.message, lock.dir, e)
            )
          )
        held.set(rolloutId, { owner, lease, count: 1 })
        // A new holder looks at the journal's end again before its first append.
        wholeTail.delete(rolloutId)
      }),

    release: (rolloutId: string, owner: string) =>
      Effect.suspend(() => {
        const mine = held.get(rolloutId)
        if (mine === undefined || mine.owner !== owner) return Effect.void
        mine.count--
        if (mine.count > 0) return Effect.void
        held.delete(rolloutId)
        return mine.lease.release
      }),

    owner: (rolloutId: string) =>
      Effect.gen(function* () {
        const mine = held.get(rolloutId)
        if (mine !== undefined) return mine.owner
        if (!(yield* exists(rolloutId).pipe(io(rolloutId, "owner", `cannot look at ${dir(rolloutId)}`))))
          return undefined
        const lock = yield* lockOf(rolloutId)
        const state = yield* lock.inspect.pipe(
          Effect.mapError((e) => error(rolloutId, "owner", e.message, lock.dir, e))
        )
        return state.kind === "held" ? (state.owner === "unknown" ? state.holder : state.owner) : undefined
      }),

    forceUnlock: (rolloutId: string, by: string) =>
      Effect.gen(function* () {
        yield* mustExist(rolloutId)
        const lock = yield* lockOf(rolloutId)
        const broke = yield* lock.breakStale(by).pipe(
          Effect.mapError((e) =>
            e._tag === "LockHeld"
              ? new RolloutLocked({
                  rolloutId,
                  owner: `${e.holder}; its heartbeat is fresh, so it is alive: not broken`
                })
              : error(rolloutId, "forceUnlock", e.message, lock.dir, e)
          )
        )
        return broke === undefined || broke.kind === "free" ? undefined : broke.holder
      }),

    sendControl: (rolloutId: string, request: ControlRequest) =>
      Effect.gen(function* () {
        yield* mustExist(rolloutId)
        const checked = decodeValue(ControlRequestFile, request)
        if (Result.isFailure(checked))
          return yield* error(rolloutId, "sendControl", `invalid control request: ${checked.failure}`)
        const file = path.join(inboxOf(rolloutId), controlName(request))
        yield* writeAtomic(file, request).pipe(io(rolloutId, "sendControl", `cannot write ${file}`, file))
      }),

    pendingControls: (rolloutId: string) => inbox(rolloutId).pipe(Effect.map(pendingInOrder)),

    ackControls: (rolloutId: string, ids: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        if (ids.length === 0) return
        const wanted = new Set(ids)
        for (const { file, request } of yield* inbox(rolloutId)) {
          if (wanted.has(request.id)) {
            yield* fs
              .remove(file)
              .pipe(orElse("NotFound", undefined), io(rolloutId, "ackControls", `cannot remove ${file}`, file))
          }
        }
      })
  }
  return shape
})

/** The file store as a layer; needs `FileSystem` and `Path` (e.g. {@link NodeServices}). */
export const layer = (root: string, options?: FileStoreOptions) => Layer.effect(RolloutStore, make(root, options))

/** Node's `FileSystem` and `Path` (from `@effect/platform-node`). */
export const NodeServices: Layer.Layer<FileSystem.FileSystem | Path.Path> = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer
)

/** The file store on Node's file system: a layer that needs nothing. */
export const layerNode = (root: string, options?: FileStoreOptions) =>
  layer(root, options).pipe(Layer.provide(NodeServices))

/** The file store on Node's file system, as a plain value (a CLI, a test, a script). */
export const makeFileStore = (root: string, options?: FileStoreOptions): RolloutStoreShape =>
  Effect.runSync(make(root, options).pipe(Effect.provide(NodeServices)))

/** The embedded default `RolloutStore`: `FileStore.make(root)`, `.layer(root)`, `.layerNode(root)`. */
export const FileStore = { make, layer, layerNode, NodeServices } as const

/** `FileStore.layerNode(root)`: the file store on Node's file system. */
export const FileStoreLayer = layerNode
