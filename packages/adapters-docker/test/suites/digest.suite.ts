/**
 * The scan gate is bound to the image digest (issue 12), end to end with the sluice CLI on a real
 * Docker engine, the local registry and a real Trivy (built from Go modules by
 * scripts/docker/build-trivy.sh): push v2, scan it, push a different image under the same tag, roll
 * out → denied naming both digests, nothing touched; scan what the tag names now, roll out → the
 * container runs that digest, and the journal header records it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  docker,
  engineReady,
  imageInspect,
  inspect,
  type Json,
  registryPassword,
  removeSuiteContainers,
  repoRoot,
  socketPath,
  writeLocalAdapterConfig
} from "../support/engine.js"
import { createAgent, tempDir } from "../support/fleet.js"

const SUITE = "digest"
const REGISTRY = "localhost:5000"
const REPO = `${REGISTRY}/sluice/digest-agent`
const IMAGE = `${REPO}:v2`
const NAME = "dg-a0"
const cli = path.join(repoRoot, "examples/cli/dist/main.js")
/** scripts/docker/build-trivy.sh's output, or the copy it keeps in the tools cache outside the clone. */
const trivy = [
  path.join(repoRoot, ".tools/bin/trivy"),
  path.join(process.env.SLUICE_TOOLS_CACHE ?? path.join(os.homedir(), ".cache/sluice-tools"), "trivy-v0.74.0/trivy")
].find((p) => fs.existsSync(p)) as string
const ready = engineReady && registryPassword !== undefined && trivy !== undefined
if (engineReady && !ready) {
  const message =
    "the digest-binding suite needs the local registry (bash scripts/docker/registry.sh) and Trivy (bash scripts/docker/build-trivy.sh; both are steps of scripts/setup.sh)"
  // A CI run must not pass by skipping.
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING: ${message}\n`)
}

/** Tags a local test image as IMAGE and pushes it to the local registry; the digest the registry gave it. */
const push = async (source: string): Promise<string> => {
  await docker.getImage(source).tag({ repo: REPO, tag: "v2" })
  const stream = await docker
    .getImage(IMAGE)
    .push({ authconfig: { username: "sluice", password: registryPassword, serveraddress: REGISTRY } } as {})
  let digest: string | undefined
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (e: Json) => {
        if (e.error) reject(new Error(String(e.error)))
        if (typeof e.aux?.Digest === "string") digest = e.aux.Digest
      }
    )
  )
  if (digest === undefined) throw new Error(`push of ${IMAGE} reported no digest`)
  return digest
}

describe.skipIf(!ready)("scan reports bound to the image digest (real registry, real Trivy)", () => {
  let dir: string
  let store: string
  let adapterFile: string
  const reports = () => path.join(dir, "scans")
  const sluice = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args, "--store", store, "--adapter-config", adapterFile], {
      cwd: dir,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, NO_COLOR: "1" }
    })
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` }
  }
  /** Trivy scans the image as the engine has it now (RepoDigests and ImageID come from there). */
  const scan = () => {
    fs.mkdirSync(reports(), { recursive: true })
    const out = path.join(reports(), "digest-agent-v2.json")
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
        out,
        "--cache-dir",
        path.join(dir, "trivy-cache"),
        "--quiet",
        IMAGE
      ],
      { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, stdio: ["ignore", "inherit", "inherit"] }
    )
    return JSON.parse(fs.readFileSync(out, "utf8")) as Json
  }
  const spec = (id: string) => {
    const f = path.join(dir, `${id}.json`)
    fs.writeFileSync(
      f,
      JSON.stringify({
        apiVersion: "sluice.dev/v1alpha1",
        kind: "Rollout",
        metadata: { name: "digest-agent" },
        spec: {
          target: { adapter: "docker", selector: { labels: { "io.sluice.test.suite": SUITE } } },
          artifact: { image: IMAGE },
          strategy: { rolling: { batchSize: 1 } },
          health: { progressDeadline: "60s" },
          gates: { policy: { enabled: false }, scan: { enabled: true, reportsDir: reports() } }
        }
      })
    )
    return f
  }

  beforeAll(async () => {
    execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-b", "examples/cli"], {
      cwd: repoRoot,
      stdio: "inherit"
    })
    dir = tempDir("sluice-digest-")
    store = path.join(dir, "store")
    adapterFile = writeLocalAdapterConfig(dir, REGISTRY)
    await removeSuiteContainers(SUITE)
    await createAgent({ suite: SUITE, name: NAME, group: "a", image: "sluice-test/agent:v1", rich: false })
  }, 300_000)
  afterAll(async () => {
    await removeSuiteContainers(SUITE)
  }, 60_000)

  it("a report for the bytes the tag named before denies, naming both digests; a report for what it names now lets it run by that digest", async () => {
    const scanned = await push("sluice-test/agent:v2")
    const report = scan()
    expect(report.Metadata.RepoDigests).toContain(`${REPO}@${scanned}`)

    // The tag moves: another image (v4, which runs as root) is pushed under the same name after the scan.
    const moved = await push("sluice-test/agent:v4")
    expect(moved).not.toBe(scanned)
    const before = await inspect(NAME)

    const denied = sluice("apply", "-f", spec("denied"), "--id", "dg-denied", "--plain")
    expect(denied.status, denied.out).toBe(2)
    expect(denied.out).toContain("scan/digest-mismatch")
    expect(denied.out).toContain(scanned)
    expect(denied.out).toContain(moved)
    const untouched = await inspect(NAME)
    expect(untouched.Id).toBe(before.Id)
    expect(untouched.Config.Image).toBe("sluice-test/agent:v1")

    // Scanned again, the report names what the tag names now: the rollout runs it by digest.
    expect(scan().Metadata.RepoDigests).toContain(`${REPO}@${moved}`)
    const applied = sluice("apply", "-f", spec("bound"), "--id", "dg-bound", "--plain")
    expect(applied.status, applied.out).toBe(0)
    const after = await inspect(NAME)
    expect(after.Config.Image).toBe(`${IMAGE}@${moved}`)
    expect(after.Image).toBe((await imageInspect(`${REPO}@${moved}`)).Id)
    const header = JSON.parse(fs.readFileSync(path.join(store, "dg-bound", "header.json"), "utf8"))
    expect(header.config.artifactDigest).toMatchObject({ digest: moved, source: "registry", reference: IMAGE })
  }, 300_000)
})
