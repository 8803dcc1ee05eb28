import { gunzipSync } from "node:zlib"
import { readTar as readTarFiles } from "@sluice/core"
import { Data, Result } from "effect"

/** An archive that is not a readable (gzipped) tar: what is wrong with it. */
export class BundleArchiveError extends Data.TaggedError("BundleArchiveError")<{ readonly message: string }> {}

/**
 * The regular files of a tar archive, enough for OPA bundles, read by core's tar reader (ustar,
 * GNU long names, PAX). Paths are relative: no leading `/` or `./`.
 */
export const readTar = (tar: Uint8Array): Result.Result<Map<string, Uint8Array>, BundleArchiveError> =>
  Result.match(readTarFiles(tar), {
    onFailure: (e) => Result.fail(new BundleArchiveError({ message: `tar: ${e.kind}: ${e.message}` })),
    onSuccess: (entries) => {
      const files = new Map<string, Uint8Array>()
      for (const [path, file] of entries) files.set(path.replace(/^(\.?\/)+/, ""), file.content)
      return Result.succeed(files)
    }
  })

/** Reads a `.tar.gz` (or plain `.tar`, detected by the gzip magic bytes). */
export const readTarGz = (bytes: Uint8Array): Result.Result<Map<string, Uint8Array>, BundleArchiveError> => {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return readTar(bytes)
  let tar: Uint8Array
  try {
    tar = new Uint8Array(gunzipSync(bytes))
  } catch (e) {
    return Result.fail(new BundleArchiveError({ message: `gzip: ${e instanceof Error ? e.message : String(e)}` }))
  }
  return readTar(tar)
}
