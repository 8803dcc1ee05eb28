import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import {
  type ControlRequest,
  type JournalEntry,
  type RolloutHeader,
  RolloutLocked,
  type JournalSnapshot,
  RolloutNotFound,
  RolloutStore,
  type RolloutStoreShape,
  StoreError
} from "./RolloutStore.js"

const fsyncDir = (dir: string) => {
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Write-to-temp, fsync, rename, fsync the directory: the file is either old or new, never torn. */
export const writeFileAtomic = (file: string, data: string) => {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  const fd = fs.openSync(tmp, "w", 0o600)
  try {
    fs.writeSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fsyncDir(path.dirname(file))
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Parses the journal, tolerating one torn line at the end (a crash in the middle of an append):
 * anything before it was fsync'd whole.
 */
export const parseJournal = (text: string): JournalEntry[] => {
  const lines = text.split("\n")
  const entries: JournalEntry[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === "") continue
    try {
      entries.push(JSON.parse(line) as JournalEntry)
    } catch (e) {
      if (i === lines.length - 1) break
      throw new Error(`journal line ${i + 1} is corrupt: ${(e as Error).message}`)
    }
  }
  return entries
}

/**
 * The embedded default: one directory per rollout holding `header.json` (atomic), an append-only
 * `journal.ndjson` fsync'd on every append, a `lock` naming the owning process, and a `controls/`
 * inbox for pause/resume/abort/approve sent from other processes.
 */
export const makeFileStore = (root: string): RolloutStoreShape => {
  const dir = (id: string) => path.join(root, id)
  const attempt = <A>(rolloutId: string, operation: string, f: () => A) =>
    Effect.try({
      try: f,
      catch: (e) => new StoreError({ rolloutId, operation, message: e instanceof Error ? e.message : String(e) })
    })
  const exists = (id: string) => fs.existsSync(path.join(dir(id), "header.json"))
  const lockFile = (id: string) => path.join(dir(id), "lock")
  const readOwner = (id: string): string | undefined => {
    try {
      const raw = fs.readFileSync(lockFile(id), "utf8")
      const { owner, pid, host } = JSON.parse(raw) as { owner: string; pid: number; host: string }
      if (host === os.hostname() && !isAlive(pid)) return undefined
      return owner
    } catch {
      return undefined
    }
  }
  return {
    create: (header: RolloutHeader) =>
      attempt(header.rolloutId, "create", () => {
        if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(header.rolloutId))
          throw new Error(`invalid rollout id "${header.rolloutId}"`)
        fs.mkdirSync(root, { recursive: true })
        fs.mkdirSync(dir(header.rolloutId))
        fs.mkdirSync(path.join(dir(header.rolloutId), "controls"))
        fs.writeFileSync(path.join(dir(header.rolloutId), "journal.ndjson"), "")
        writeFileAtomic(path.join(dir(header.rolloutId), "header.json"), `${JSON.stringify(header, null, 2)}\n`)
        fsyncDir(root)
      }),
    append: (rolloutId: string, entries: ReadonlyArray<JournalEntry>) =>
      attempt(rolloutId, "append", () => {
        if (entries.length === 0) return
        const fd = fs.openSync(path.join(dir(rolloutId), "journal.ndjson"), "a")
        try {
          fs.writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(""))
          fs.fsyncSync(fd)
        } finally {
          fs.closeSync(fd)
        }
      }),
    read: (rolloutId: string) =>
      Effect.gen(function* () {
        if (!exists(rolloutId)) return yield* new RolloutNotFound({ rolloutId })
        return yield* attempt(rolloutId, "read", () => {
          const snapshotFile = path.join(dir(rolloutId), "snapshot.json")
          const snapshot = fs.existsSync(snapshotFile)
            ? (JSON.parse(fs.readFileSync(snapshotFile, "utf8")) as JournalSnapshot)
            : undefined
          return {
            header: JSON.parse(fs.readFileSync(path.join(dir(rolloutId), "header.json"), "utf8")) as RolloutHeader,
            entries: parseJournal(fs.readFileSync(path.join(dir(rolloutId), "journal.ndjson"), "utf8")),
            ...(snapshot === undefined ? {} : { snapshot })
          }
        })
      }),
    writeSnapshot: (rolloutId: string, snapshot: JournalSnapshot) =>
      attempt(rolloutId, "writeSnapshot", () =>
        writeFileAtomic(path.join(dir(rolloutId), "snapshot.json"), `${JSON.stringify(snapshot)}\n`)
      ),
    list: () =>
      attempt("*", "list", () =>
        fs.existsSync(root)
          ? fs
              .readdirSync(root)
              .filter((id) => exists(id))
              .sort()
          : []
      ),
    acquire: (rolloutId: string, owner: string) =>
      Effect.gen(function* () {
        const current = readOwner(rolloutId)
        if (current !== undefined && current !== owner) return yield* new RolloutLocked({ rolloutId, owner: current })
        yield* attempt(rolloutId, "acquire", () =>
          writeFileAtomic(lockFile(rolloutId), JSON.stringify({ owner, pid: process.pid, host: os.hostname() }))
        )
      }),
    release: (rolloutId: string, owner: string) =>
      attempt(rolloutId, "release", () => {
        if (readOwner(rolloutId) === owner) fs.rmSync(lockFile(rolloutId), { force: true })
      }),
    owner: (rolloutId: string) => attempt(rolloutId, "owner", () => readOwner(rolloutId)),
    sendControl: (rolloutId: string, request: ControlRequest) =>
      Effect.gen(function* () {
        if (!exists(rolloutId)) return yield* new RolloutNotFound({ rolloutId })
        yield* attempt(rolloutId, "sendControl", () =>
          writeFileAtomic(
            path.join(dir(rolloutId), "controls", `${String(request.at).padStart(15, "0")}-${request.id}.json`),
            JSON.stringify(request)
          )
        )
      }),
    pendingControls: (rolloutId: string) =>
      attempt(rolloutId, "pendingControls", () => {
        const inbox = path.join(dir(rolloutId), "controls")
        if (!fs.existsSync(inbox)) return []
        return fs
          .readdirSync(inbox)
          .filter((f) => f.endsWith(".json"))
          .sort()
          .map((f) => JSON.parse(fs.readFileSync(path.join(inbox, f), "utf8")) as ControlRequest)
      }),
    ackControls: (rolloutId: string, ids: ReadonlyArray<string>) =>
      attempt(rolloutId, "ackControls", () => {
        const inbox = path.join(dir(rolloutId), "controls")
        if (!fs.existsSync(inbox)) return
        for (const f of fs.readdirSync(inbox)) {
          if (ids.some((id) => f.endsWith(`-${id}.json`))) fs.rmSync(path.join(inbox, f), { force: true })
        }
      })
  }
}

export const FileStoreLayer = (root: string) => Layer.succeed(RolloutStore, makeFileStore(root))
