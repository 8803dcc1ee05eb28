import { Effect, type Result, Stream } from "effect"
import * as Tar from "effect/encoding/Tar"

/**
 * The one tar reader and writer (policy bundles, the Docker Engine's archive endpoints), on
 * effect's Tar codec: ustar, GNU long names and base-256 numbers, PAX headers, checksums and
 * truncation checked. In memory only: bundles and config files are small.
 */

export type TarError = Tar.TarError

/** A regular file of an archive. */
export interface TarFile {
  /** The path as written in the archive (PAX and GNU long names applied); callers normalize it. */
  readonly path: string
  readonly content: Uint8Array
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** A file to write: mode 0644, uid and gid 0 and mtime at the epoch unless given. */
export interface TarFileInput {
  readonly path: string
  readonly content: string | Uint8Array
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  readonly mtime?: Date
}

/**
 * The regular files of a tar archive, by path in archive order (a later entry with the same path
 * replaces an earlier one, as extraction would). Directories, links and devices are skipped.
 */
export const readTarEffect = (archive: Uint8Array): Effect.Effect<ReadonlyMap<string, TarFile>, TarError> =>
  Stream.succeed(archive).pipe(
    Stream.pipeThroughChannel(Tar.decode()),
    // Each body is read before the next entry is pulled, as the decoder requires.
    Stream.mapEffect((entry) =>
      entry.header.type === "File"
        ? Effect.map(Stream.mkUint8Array(entry.body), (content) => ({ header: entry.header, content }))
        : Effect.as(Stream.runDrain(entry.body), undefined)
    ),
    Stream.runFold(
      () => new Map<string, TarFile>(),
      (files, file) => {
        if (file !== undefined) {
          const { header, content } = file
          files.set(header.path, { path: header.path, content, mode: header.mode, uid: header.uid, gid: header.gid })
        }
        return files
      }
    )
  )

/** {@link readTarEffect}, run now (the codec does no I/O on an in-memory archive). */
export const readTar = (archive: Uint8Array): Result.Result<ReadonlyMap<string, TarFile>, TarError> =>
  Effect.runSync(Effect.result(readTarEffect(archive)))

/** A ustar archive (PAX headers where ustar cannot hold a field) of regular files. */
export const writeTarEffect = (files: ReadonlyArray<TarFileInput>): Effect.Effect<Uint8Array, TarError> =>
  Stream.fromIterable(
    files.map((f) =>
      Tar.file(f.path, f.content, {
        ...(f.mode !== undefined ? { mode: f.mode } : {}),
        ...(f.uid !== undefined ? { uid: f.uid } : {}),
        ...(f.gid !== undefined ? { gid: f.gid } : {}),
        ...(f.mtime !== undefined ? { mtime: f.mtime } : {})
      })
    )
  ).pipe(Stream.pipeThroughChannel(Tar.encode()), Stream.mkUint8Array)

/** {@link writeTarEffect}, run now. */
export const writeTar = (files: ReadonlyArray<TarFileInput>): Result.Result<Uint8Array, TarError> =>
  Effect.runSync(Effect.result(writeTarEffect(files)))
