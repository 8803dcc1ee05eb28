/**
 * The scan gate is bound to the image digest (issue 12), end to end with the sluice CLI on a real
 * Docker engine, the local registry and a real Trivy (built from Go modules by
 * scripts/docker/build-trivy.sh): push v2, scan it, push a different image under the same tag, roll
 * out → denied naming both digests, nothing touched; scan what the tag names now, roll out → the
 * container runs that digest, and the journal header records it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { trivy, trivyScan } from "../../../core/test/support/trivy.js"
import { expectUntouched, pushImage, REGISTRY, suiteReady, useCliSuite, writeRolloutSpec } from "../support/cli.js"
import { imageInspect, inspect, registryPassword, socketPath } from "../support/engine.js"

const SUITE = "digest"
const REPO = `${REGISTRY}/sluice/digest-agent`
const IMAGE = `${REPO}:v2`
const NAME = "dg-a0"
const ready = suiteReady(
  registryPassword !== undefined && trivy !== undefined,
  "the digest-binding suite needs the local registry (bash scripts/docker/registry.sh) and Trivy (bash scripts/docker/build-trivy.sh; both are steps of scripts/setup.sh)"
)

/** Tags a local test image as IMAGE and pushes it to the local registry; the digest the registry gave it. */
const push = (source: string) => pushImage(REPO, source, "v2")

describe.skipIf(!ready)("scan reports bound to the image digest (real registry, real Trivy)", () => {
  const suite = useCliSuite({ suite: SUITE, name: NAME, prefix: "sluice-digest-" })
  const reports = () => path.join(suite.dir, "scans")
  /** Trivy scans the image as the engine has it now (RepoDigests and ImageID come from there). */
  const scan = () => {
    fs.mkdirSync(reports(), { recursive: true })
    return trivyScan({
      image: IMAGE,
      output: path.join(reports(), "digest-agent-v2.json"),
      cacheDir: path.join(suite.dir, "trivy-cache"),
      env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }
    })
  }
  const spec = (id: string) =>
    writeRolloutSpec({
      dir: suite.dir,
      id,
      name: "digest-agent",
      suite: SUITE,
      image: IMAGE,
      gates: { policy: { enabled: false }, scan: { enabled: true, reportsDir: reports() } }
    })

  it("a report for the bytes the tag named before denies, naming both digests; a report for what it names now lets it run by that digest", async () => {
    const scanned = await push("sluice-test/agent:v2")
    const report = scan()
    expect(report.Metadata.RepoDigests).toContain(`${REPO}@${scanned}`)

    // The tag moves: another image (v4, which runs as root) is pushed under the same name after the scan.
    const moved = await push("sluice-test/agent:v4")
    expect(moved).not.toBe(scanned)
    const before = await inspect(NAME)

    const denied = suite.sluice("apply", "-f", spec("denied"), "--id", "dg-denied", "--plain")
    expect(denied.status, denied.out).toBe(2)
    expect(denied.out).toContain("scan/digest-mismatch")
    expect(denied.out).toContain(scanned)
    expect(denied.out).toContain(moved)
    await expectUntouched(NAME, before)

    // Scanned again, the report names what the tag names now: the rollout runs it by digest.
    expect(scan().Metadata.RepoDigests).toContain(`${REPO}@${moved}`)
    const applied = suite.sluice("apply", "-f", spec("bound"), "--id", "dg-bound", "--plain")
    expect(applied.status, applied.out).toBe(0)
    const after = await inspect(NAME)
    expect(after.Config.Image).toBe(`${IMAGE}@${moved}`)
    expect(after.Image).toBe((await imageInspect(`${REPO}@${moved}`)).Id)
    const header = JSON.parse(fs.readFileSync(path.join(suite.store, "dg-bound", "header.json"), "utf8"))
    expect(header.config.artifactDigest).toMatchObject({ digest: moved, source: "registry", reference: IMAGE })
  }, 300_000)
})
