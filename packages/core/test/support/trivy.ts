/**
 * The real Trivy (built from Go modules by scripts/docker/build-trivy.sh) for the suites that bind
 * scan reports to image digests: it scans an image as a Docker engine has it.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")

/** build-trivy.sh's output, or the copy it keeps in the tools cache outside the clone. */
export const trivy: string | undefined = [
  path.join(repoRoot, ".tools/bin/trivy"),
  path.join(process.env.SLUICE_TOOLS_CACHE ?? path.join(os.homedir(), ".cache/sluice-tools"), "trivy-v0.74.0/trivy")
].find((p) => fs.existsSync(p))

/**
 * `trivy image` of `image` as the Docker engine (`env` may name it: DOCKER_HOST) has it, with the
 * secret scanner only (no vulnerability database to download); the JSON report, written to `output`.
 */
// biome-ignore lint/suspicious/noExplicitAny: Trivy's report JSON
export const trivyScan = (o: { image: string; output: string; cacheDir: string; env?: NodeJS.ProcessEnv }): any => {
  if (trivy === undefined) throw new Error("trivy is not built (bash scripts/docker/build-trivy.sh)")
  execFileSync(
    trivy,
    [
      "image",
      "--image-src",
      "docker",
      "--scanners",
      "secret",
      "--format",
      "json",
      "--output",
      o.output,
      "--cache-dir",
      o.cacheDir,
      "--quiet",
      o.image
    ],
    { env: o.env ?? process.env, stdio: ["ignore", "inherit", "inherit"] }
  )
  return JSON.parse(fs.readFileSync(o.output, "utf8"))
}
