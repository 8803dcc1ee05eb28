/**
 * Reads an image's configuration straight from its registry (Distribution API: manifest, then the
 * config blob) without pulling it, so the policy gate can judge an image before any host fetches it.
 */
import { createHash } from "node:crypto"
import type { AuthConfig } from "./auth.js"
import type { ParsedImageRef } from "./imageRef.js"
import type { Json } from "./recreate.js"

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json"
].join(", ")

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" }

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number
  ) {
    super(message)
  }
}

const isLocal = (registry: string) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry)

const base = (registry: string, scheme: string) =>
  `${scheme}://${registry === "docker.io" ? "registry-1.docker.io" : registry}`

const basic = (auth: AuthConfig | undefined) =>
  auth?.username !== undefined && auth.password !== undefined
    ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`
    : undefined

/** Follows the registry's auth challenge: Basic, or a Bearer token from its realm. */
const authorize = async (
  challenge: string,
  auth: AuthConfig | undefined,
  repository: string,
  signal: AbortSignal
): Promise<string | undefined> => {
  if (/^basic/i.test(challenge)) return basic(auth)
  if (!/^bearer/i.test(challenge)) return undefined
  const params: Record<string, string> = {}
  for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string
  if (!params.realm) return undefined
  const url = new URL(params.realm)
  if (params.service) url.searchParams.set("service", params.service)
  url.searchParams.set("scope", params.scope ?? `repository:${repository}:pull`)
  const headers: Record<string, string> = {}
  const b = basic(auth)
  if (b) headers.Authorization = b
  if (auth?.identitytoken) {
    const res = await fetch(params.realm, {
      method: "POST",
      signal,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: auth.identitytoken,
        service: params.service ?? "",
        scope: params.scope ?? `repository:${repository}:pull`,
        client_id: "sluice"
      })
    })
    if (!res.ok) throw new RegistryError(`token endpoint answered ${res.status}`, res.status)
    const body = (await res.json()) as { access_token?: string; token?: string }
    return `Bearer ${body.access_token ?? body.token}`
  }
  const res = await fetch(url, { headers, signal })
  if (!res.ok) throw new RegistryError(`token endpoint answered ${res.status}`, res.status)
  const body = (await res.json()) as { token?: string; access_token?: string }
  return `Bearer ${body.token ?? body.access_token}`
}

/** Tries https (and plain http for a registry on this host) until one answers. */
const overSchemes = async <A>(ref: ParsedImageRef, f: (root: string) => Promise<A>): Promise<A> => {
  const schemes = isLocal(ref.registry) ? ["http", "https"] : ["https"]
  let lastError: unknown
  for (const scheme of schemes) {
    try {
      return await f(base(ref.registry, scheme))
    } catch (e) {
      lastError = e
      if (e instanceof RegistryError) throw e
    }
  }
  throw lastError
}

export const fetchImageConfig = (
  ref: ParsedImageRef,
  auth: AuthConfig | undefined,
  signal: AbortSignal
): Promise<Json> => overSchemes(ref, (root) => fetchWith(root, ref, auth, signal))

/**
 * The manifest digest the reference names now (what `docker pull name@digest` fetches): the
 * sha256 of the manifest's bytes as the registry serves them, which must agree with its
 * `Docker-Content-Digest` header when it sends one. For a single-platform manifest, the digest of
 * its config blob too (a scan report's `ImageID`).
 */
export const resolveManifestDigest = (
  ref: ParsedImageRef,
  auth: AuthConfig | undefined,
  signal: AbortSignal
): Promise<{ readonly digest: string; readonly configDigest?: string }> =>
  overSchemes(ref, async (root) => {
    const get = registryGetter(root, ref, auth, signal)
    const res = await get(`manifests/${ref.digest ?? ref.tag ?? "latest"}`, ACCEPT)
    const bytes = Buffer.from(await res.arrayBuffer())
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`
    const header = res.headers.get("docker-content-digest")
    if (header !== null && header !== digest)
      throw new RegistryError(`${ref.raw}: the registry says the manifest is ${header}, its bytes hash to ${digest}`)
    if (ref.digest !== undefined && ref.digest !== digest)
      throw new RegistryError(`${ref.raw}: the manifest served for ${ref.digest} hashes to ${digest}`)
    let manifest: Json
    try {
      manifest = JSON.parse(bytes.toString("utf8")) as Json
    } catch {
      throw new RegistryError(`${ref.raw}: the manifest is not JSON`)
    }
    const configDigest: unknown = manifest?.config?.digest
    return typeof configDigest === "string" ? { digest, configDigest } : { digest }
  })

const registryGetter = (root: string, ref: ParsedImageRef, auth: AuthConfig | undefined, signal: AbortSignal) => {
  let authorization: string | undefined
  const get = async (path: string, accept?: string): Promise<Response> => {
    const doGet = () =>
      fetch(`${root}/v2/${ref.repository}/${path}`, {
        signal,
        headers: { ...(accept ? { Accept: accept } : {}), ...(authorization ? { Authorization: authorization } : {}) }
      })
    let res = await doGet()
    if (res.status === 401 && authorization === undefined) {
      const challenge = res.headers.get("www-authenticate") ?? ""
      authorization = await authorize(challenge, auth, ref.repository, signal)
      if (authorization === undefined) {
        throw new RegistryError(
          `unauthorized: authentication required${auth ? "" : " (no credentials configured)"}`,
          401
        )
      }
      res = await doGet()
    }
    if (res.status === 401 || res.status === 403)
      throw new RegistryError(`unauthorized: the registry refused the credentials (${res.status})`, res.status)
    if (res.status === 404) throw new RegistryError(`${ref.raw}: manifest unknown`, 404)
    if (!res.ok) throw new RegistryError(`GET ${path} answered ${res.status}`, res.status)
    return res
  }
  return get
}

const fetchWith = async (
  root: string,
  ref: ParsedImageRef,
  auth: AuthConfig | undefined,
  signal: AbortSignal
): Promise<Json> => {
  const get = registryGetter(root, ref, auth, signal)
  let manifest = (await (await get(`manifests/${ref.digest ?? ref.tag ?? "latest"}`, ACCEPT)).json()) as Json
  let manifestDigest: string | undefined = ref.digest
  if (Array.isArray(manifest.manifests)) {
    const arch = GOARCH[process.arch] ?? process.arch
    const pick =
      manifest.manifests.find((m: Json) => m.platform?.os === "linux" && m.platform?.architecture === arch) ??
      manifest.manifests.find((m: Json) => m.platform?.os === "linux")
    if (!pick) throw new RegistryError(`${ref.raw}: no linux/${arch} image in the index`)
    manifestDigest = pick.digest
    manifest = (await (await get(`manifests/${pick.digest}`, ACCEPT)).json()) as Json
  }
  const configDigest: string | undefined = manifest.config?.digest
  if (!configDigest)
    throw new RegistryError(`${ref.raw}: the manifest has no config (schema 1 manifests are not supported)`)
  const cfg = (await (await get(`blobs/${configDigest}`)).json()) as Json
  // Shaped like the Engine's image inspect, which is what the policy layer normalizes.
  return {
    Id: configDigest,
    RepoTags: ref.tag ? [ref.raw] : [],
    RepoDigests: manifestDigest ? [`${ref.fromImage}@${manifestDigest}`] : [],
    Created: cfg.created,
    Architecture: cfg.architecture,
    Os: cfg.os,
    Config: cfg.config ?? {},
    Author: cfg.author,
    Source: "registry"
  }
}
