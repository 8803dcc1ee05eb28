/**
 * What the signature-gate suites share beyond ./cli.ts: the real cosign (built by
 * scripts/docker/build-cosign.sh), run with the suite's Docker config (it pushes signatures through
 * it, the CLI's gate reads them through it), the signature manifests in the registry, and the gate's
 * decision in the CLI's events.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { REGISTRY, suiteReady } from "./cli.js"
import { type Json, registryPassword, repoRoot } from "./engine.js"

const API = "http://127.0.0.1:5000/v2"
const MANIFEST = "application/vnd.oci.image.manifest.v1+json"

/** scripts/docker/build-cosign.sh's output, or the copy it keeps in the tools cache outside the clone. */
export const cosign = [
  path.join(repoRoot, ".tools/bin/cosign"),
  path.join(process.env.SLUICE_TOOLS_CACHE ?? path.join(os.homedir(), ".cache/sluice-tools"), "cosign-v2.6.5/cosign")
].find((p) => fs.existsSync(p))

/** Whether a signature suite (`what`) runs: the engine, the local registry and cosign (see ./cli.ts's suiteReady). */
export const signingReady = (what: string) =>
  suiteReady(
    registryPassword !== undefined && cosign !== undefined,
    `${what} needs the local registry (bash scripts/docker/registry.sh) and cosign (bash scripts/docker/build-cosign.sh; both are steps of scripts/setup.sh)`
  )

const auth = () => `Basic ${Buffer.from(`sluice:${registryPassword}`).toString("base64")}`
/** `localhost:5000/sluice/agent` → `sluice/agent`. */
const repoPath = (repo: string) => repo.slice(`${REGISTRY}/`.length)
export const sigTag = (digest: string) => `sha256-${digest.slice("sha256:".length)}.sig`

/**
 * Deletes the signatures stored for `digest`: the registry outlives a run (and the same test image
 * pushed again has the same digest), so each test starts from the signatures it makes itself.
 */
export const dropSignatures = async (repo: string, digest: string) => {
  const manifests = `${API}/${repoPath(repo)}/manifests`
  const head = await fetch(`${manifests}/${sigTag(digest)}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST, Authorization: auth() }
  })
  if (head.status === 404) return
  const manifest = head.headers.get("docker-content-digest")
  if (head.status !== 200 || manifest === null) throw new Error(`HEAD ${sigTag(digest)} answered ${head.status}`)
  const del = await fetch(`${manifests}/${manifest}`, { method: "DELETE", headers: { Authorization: auth() } })
  if (del.status !== 202) throw new Error(`DELETE ${manifest} answered ${del.status}`)
}

/**
 * Copies the signatures of `from` under the signature tag of `to` (their layers are in the same
 * repository): a valid signature that vouches for other bytes.
 */
export const copySignatures = async (repo: string, from: string, to: string) => {
  const manifests = `${API}/${repoPath(repo)}/manifests`
  const sig = await fetch(`${manifests}/${sigTag(from)}`, { headers: { Accept: MANIFEST, Authorization: auth() } })
  if (sig.status !== 200) throw new Error(`GET ${sigTag(from)} answered ${sig.status}`)
  const put = await fetch(`${manifests}/${sigTag(to)}`, {
    method: "PUT",
    headers: { "Content-Type": MANIFEST, Authorization: auth() },
    body: Buffer.from(await sig.arrayBuffer())
  })
  if (put.status !== 201) throw new Error(`PUT ${sigTag(to)} answered ${put.status}`)
}

/** Runs the real cosign with the suite's Docker config (and a password for the keys it makes). */
export const cosignRun = (dockerConfig: string, args: ReadonlyArray<string>, cwd: string) =>
  execFileSync(cosign as string, args, {
    cwd,
    env: { ...process.env, COSIGN_PASSWORD: "sluice-test", DOCKER_CONFIG: dockerConfig },
    stdio: ["ignore", "pipe", "pipe"]
  })

/** Whether `cosign verify` with these flags accepts the image: the reference the gate is compared with. */
export const cosignVerifies = (dockerConfig: string, args: ReadonlyArray<string>, cwd: string) =>
  spawnSync(cosign as string, ["verify", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, DOCKER_CONFIG: dockerConfig }
  }).status === 0

/** The `gateDecided` event of the signature gate in `--json` output. */
export const signatureDecision = (stdout: string): Json =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l))
    .find((e) => e.type === "gateDecided" && e.gate === "signature")
