/**
 * The test images are on a registry nobody answers at (`registry.sluice.dev`; kwok nodes pull
 * nothing), so a rollout of them through the `sluice` CLI is told to deploy its tags as written
 * instead of resolving them to their registry digest first (which it would fail to do, fail closed):
 * `--adapter-config` with `resolveDigests: false`. test/adapter/digest.test.ts covers the resolution.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

let file: string | undefined

/** `["--adapter-config", <a file with resolveDigests: false>]`, for `sluice apply`. */
export const tagsAsWritten = (): ReadonlyArray<string> => {
  if (file === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-tags-"))
    file = path.join(dir, "adapter.yaml")
    fs.writeFileSync(file, "resolveDigests: false\n")
  }
  return ["--adapter-config", file]
}
