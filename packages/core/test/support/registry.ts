/**
 * The real local registry (scripts/docker/registry.sh: Distribution on 127.0.0.1:5000 with htpasswd
 * Basic auth, user `sluice`, its password in the state dir). Test images are pushed to it over the
 * Distribution API itself (blob uploads, manifest PUTs), so a test knows the exact bytes of what it
 * pushed and the registry's own `Docker-Content-Digest` answer is the oracle of each digest.
 *
 * Missing registry: fails under CI=true, skipped loudly otherwise.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

export const REGISTRY = "localhost:5000"
const stateDir = process.env.SLUICE_DOCKER_STATE ?? "/var/tmp/sluice-docker"

export const registryPassword: string | undefined = (() => {
  try {
    return fs.readFileSync(path.join(stateDir, "registry", "password"), "utf8").trim()
  } catch {
    return undefined
  }
})()

const answers = async (): Promise<boolean> => {
  try {
    return (await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(3_000) })).status === 401
  } catch {
    return false
  }
}

export const registryReady = registryPassword !== undefined && (await answers())
if (!registryReady) {
  const message =
    "the registry reader tests need the local registry with Basic auth (bash scripts/docker/registry.sh; a step of scripts/setup.sh)"
  // A CI run must not pass by skipping.
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING: ${message}\n`)
}

const basic = () => `Basic ${Buffer.from(`sluice:${registryPassword}`).toString("base64")}`
const sha = (b: Uint8Array | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`

const pushBlob = async (repository: string, bytes: Uint8Array): Promise<string> => {
  const digest = sha(bytes)
  const start = await fetch(`http://${REGISTRY}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: basic() }
  })
  if (start.status !== 202) throw new Error(`blob upload start answered ${start.status}`)
  const location = new URL(start.headers.get("location") ?? "", `http://${REGISTRY}`)
  location.searchParams.set("digest", digest)
  const put = await fetch(location, {
    method: "PUT",
    headers: { authorization: basic(), "content-type": "application/octet-stream" },
    body: bytes
  })
  if (put.status !== 201) throw new Error(`blob upload answered ${put.status}: ${await put.text()}`)
  return digest
}

/** PUTs a manifest under `reference`; the digest the registry answers with (checked against the bytes). */
export const pushManifest = async (
  repository: string,
  reference: string,
  manifest: unknown,
  mediaType: string
): Promise<{ digest: string; bytes: string }> => {
  const bytes = JSON.stringify(manifest)
  const res = await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: { authorization: basic(), "content-type": mediaType },
    body: bytes
  })
  if (res.status !== 201) throw new Error(`manifest PUT answered ${res.status}: ${await res.text()}`)
  const digest = res.headers.get("docker-content-digest") ?? ""
  if (digest !== sha(bytes)) throw new Error(`the registry says ${digest} for bytes hashing to ${sha(bytes)}`)
  return { digest, bytes }
}

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json"

/**
 * Pushes a one-layer image whose configuration carries `marker` (so each call with another marker
 * is other bytes) under `repository:tag`; its manifest digest and config digest.
 */
export const pushImage = async (
  repository: string,
  tag: string,
  marker: string,
  architecture = "amd64"
): Promise<{ digest: string; configDigest: string; config: Record<string, unknown> }> => {
  const layer = new TextEncoder().encode(`layer of ${marker}`)
  const layerDigest = await pushBlob(repository, layer)
  const config = {
    architecture,
    os: "linux",
    config: { User: "1000:1000", Env: [`MARKER=${marker}`] },
    rootfs: { type: "layers", diff_ids: [layerDigest] }
  }
  const configBytes = new TextEncoder().encode(JSON.stringify(config))
  const configDigest = await pushBlob(repository, configBytes)
  const { digest } = await pushManifest(
    repository,
    tag,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }]
    },
    OCI_MANIFEST
  )
  return { digest, configDigest, config }
}
