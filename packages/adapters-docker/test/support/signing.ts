/**
 * What the signature-gate suites share: pushing test images to the local registry, the real cosign
 * (built by scripts/docker/build-cosign.sh), a private Docker client config with the registry login
 * (cosign pushes signatures through it, the CLI's gate reads them through it), the signature
 * manifests in the registry, the CLI run against the suite's store, and its journal and events.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { docker, type Json, registryPassword, repoRoot } from "./engine.js"

export const REGISTRY = "localhost:5000"
const API = "http://127.0.0.1:5000/v2"
const MANIFEST = "application/vnd.oci.image.manifest.v1+json"
export const cli = path.join(repoRoot, "examples/cli/dist/main.js")

/** scripts/docker/build-cosign.sh's output, or the copy it keeps in the tools cache outside the clone. */
export const cosign = [
  path.join(repoRoot, ".tools/bin/cosign"),
  path.join(process.env.SLUICE_TOOLS_CACHE ?? path.join(os.homedir(), ".cache/sluice-tools"), "cosign-v2.6.5/cosign")
].find((p) => fs.existsSync(p))

const auth = () => `Basic ${Buffer.from(`sluice:${registryPassword}`).toString("base64")}`
/** `localhost:5000/sluice/agent` → `sluice/agent`. */
const repoPath = (repo: string) => repo.slice(`${REGISTRY}/`.length)
export const sigTag = (digest: string) => `sha256-${digest.slice("sha256:".length)}.sig`

/** Tags a local test image as repo:tag and pushes it to the local registry; the digest the registry gave it. */
export const pushImage = async (repo: string, source: string, tag: string): Promise<string> => {
  await docker.getImage(source).tag({ repo, tag })
  const stream = await docker
    .getImage(`${repo}:${tag}`)
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
  if (digest === undefined) throw new Error(`push of ${repo}:${tag} reported no digest`)
  return digest
}

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

/** A private Docker client config in `dir` with the local registry's login. */
export const writeDockerConfig = (dir: string): string => {
  const dockerConfig = path.join(dir, "docker-config")
  fs.mkdirSync(dockerConfig, { mode: 0o700 })
  fs.writeFileSync(
    path.join(dockerConfig, "config.json"),
    JSON.stringify({ auths: { [REGISTRY]: { auth: Buffer.from(`sluice:${registryPassword}`).toString("base64") } } }),
    { mode: 0o600 }
  )
  return dockerConfig
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

/** The CLI against the suite's store and adapter config, reading the registry as `cosign` does. */
export const sluiceRunner =
  (o: { readonly dir: string; readonly store: string; readonly adapterFile: string; readonly dockerConfig: string }) =>
  (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args, "--store", o.store, "--adapter-config", o.adapterFile], {
      cwd: o.dir,
      encoding: "utf8",
      timeout: 240_000,
      // The gate reads the signatures with the credentials `docker login` left here, as cosign does.
      env: { ...process.env, NO_COLOR: "1", DOCKER_CONFIG: o.dockerConfig }
    })
    return { status: r.status, stdout: r.stdout, out: `${r.stdout}\n${r.stderr}` }
  }

export const readJournal = (store: string, id: string): Json[] =>
  fs
    .readFileSync(path.join(store, id, "journal.ndjson"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l))

/** The journaled event of a type (`GATES_PASSED`, `GATES_DENIED`). */
export const journalEvent = (store: string, id: string, type: string): Json =>
  readJournal(store, id).find((e) => e.kind === "event" && e.event.type === type)?.event

/** The `gateDecided` event of the signature gate in `--json` output. */
export const signatureDecision = (stdout: string): Json =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l))
    .find((e) => e.type === "gateDecided" && e.gate === "signature")

/** The CLI is built once per suite file (the tests run its dist). */
export const buildCli = () =>
  execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-b", "examples/cli"], {
    cwd: repoRoot,
    stdio: "inherit"
  })
