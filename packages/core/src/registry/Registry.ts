/**
 * A reader of container registries (the Distribution API), the one the adapters and the signature
 * verifier share: a repository's manifests and blobs behind the registry's auth challenge (Basic,
 * or a Bearer token from its realm, with a password or an identity token), over https — and over
 * plain http first for a registry on this host, as docker and cosign do — each request within a
 * time limit. On Effect's `HttpClient` (provide `FetchHttpClient.layer` from `effect/http`).
 *
 * `manifestDigest` is what a rollout deploys by (the digest a pull by tag gets now); `imageConfig`
 * reads an image's configuration without pulling it (for the policy gate).
 */
import { Duration, Effect, Redacted, Result, Schema } from "effect"
import { Base64 } from "effect/encoding"
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"
import type { ImageRef } from "../spec/ImageRef.js"
import { sha256Hex } from "../util/hash.js"

/** Registry credentials: user + password, or an identity token (an OAuth refresh token). */
export const RegistryCredentials = Schema.Union([
  Schema.Struct({ username: Schema.String, password: Schema.RedactedFromValue(Schema.String) }),
  Schema.Struct({ identityToken: Schema.RedactedFromValue(Schema.String) })
])
export type RegistryCredentials = typeof RegistryCredentials.Type

/**
 * A registry request that did not give what was asked. `unreachable`: no answer (connection,
 * time limit) or a server error, worth a retry; `unauthorized`: 401/403 (no or refused
 * credentials); `notFound`: the registry does not know the manifest or blob; `invalid`: an answer
 * that cannot be trusted or read (bytes that do not hash to their digest, not JSON, another status).
 */
export class RegistryError extends Schema.TaggedError<RegistryError>()("RegistryError", {
  reason: Schema.Literals(["unreachable", "unauthorized", "notFound", "invalid"]),
  registry: Schema.String,
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect())
}) {}

export interface RegistryOptions {
  /** For the registry's auth challenge; without them a registry that asks fails `unauthorized`. */
  readonly credentials?: RegistryCredentials | undefined
  /** Per request, token requests included (default 30 s). */
  readonly timeoutMs?: number
}

/** What a pull of a tag would fetch now, and its configuration's digest for a single-platform image. */
export interface ManifestDigest {
  /** `sha256:<hex>` of the manifest (or index) bytes the registry serves for the reference. */
  readonly digest: string
  /** The image configuration's digest (an image's Id, a scan report's `ImageID`); absent for an index. */
  readonly configDigest?: string
  readonly mediaType?: string
}

/** The Accept types of a manifest request: multi-platform indexes and single manifests, OCI and Docker. */
export const MANIFEST_ACCEPT: ReadonlyArray<string> = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json"
]

const DIGEST = /^sha256:[a-f0-9]{64}$/

/** A registry on this host: docker and cosign try it over plain http before https. */
export const isLocalRegistry = (registry: string): boolean =>
  /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry)

/** The API roots to try, in order. Docker Hub's API host is not its reference name. */
const rootsOf = (registry: string): ReadonlyArray<string> => {
  const host = registry === "docker.io" ? "registry-1.docker.io" : registry
  return isLocalRegistry(registry) ? [`http://${host}`, `https://${host}`] : [`https://${host}`]
}

/**
 * The keys Docker's config.json (and a `kubernetes.io/dockerconfigjson` Secret) may file a
 * registry's credentials under: the host, with a scheme, with the old `/v1/` path; Docker Hub's
 * historical names for itself.
 */
export const registryConfigKeys = (registry: string): ReadonlyArray<string> =>
  registry === "docker.io" || registry === "registry-1.docker.io"
    ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "https://docker.io", "registry-1.docker.io"]
    : [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`]

/**
 * One `auths` entry of a Docker config. Strict: these are the fields of Docker's AuthConfig; any
 * other is an error, so a misspelt `pasword` is not read as "no credentials".
 */
const DockerAuthEntry = Schema.Struct({
  auth: Schema.optionalKey(Schema.String),
  username: Schema.optionalKey(Schema.String),
  password: Schema.optionalKey(Schema.String),
  email: Schema.optionalKey(Schema.String),
  serveraddress: Schema.optionalKey(Schema.String),
  identitytoken: Schema.optionalKey(Schema.String),
  registrytoken: Schema.optionalKey(Schema.String)
})

/**
 * A Docker client config as far as credentials go: `auths`. Its other members (credsStore,
 * credHelpers, proxies, HttpHeaders, plugins' settings …) are Docker's business and not read, so
 * they are let through; `auths` itself is then decoded strictly.
 */
const DockerConfigDocument = Schema.Struct({ auths: Schema.optionalKey(Schema.Unknown) })
const DockerConfigAuths = Schema.Record(Schema.String, DockerAuthEntry)

/**
 * The credentials a Docker config document (`~/.docker/config.json`, the `.dockerconfigjson` of a
 * `kubernetes.io/dockerconfigjson` Secret) holds for `registry` in `auths`, `undefined` when it
 * holds none; an error message (with the path) when the document is not such a config.
 */
export const credentialsFromDockerConfig = (
  document: unknown,
  registry: string
): Result.Result<RegistryCredentials | undefined, string> => {
  const outer = Schema.decodeUnknownResult(DockerConfigDocument, { onExcessProperty: "ignore" })(document)
  if (Result.isFailure(outer)) return Result.fail(String(outer.failure.message))
  const decoded = Schema.decodeUnknownResult(DockerConfigAuths, { errors: "all", onExcessProperty: "error" })(
    outer.success.auths ?? {}
  )
  if (Result.isFailure(decoded)) return Result.fail(`auths: ${decoded.failure.message}`)
  const auths = decoded.success
  for (const key of registryConfigKeys(registry)) {
    const entry = auths[key]
    if (entry === undefined) continue
    if (entry.identitytoken !== undefined && entry.identitytoken !== "")
      return Result.succeed({ identityToken: Redacted.make(entry.identitytoken) })
    let username = entry.username
    let password = entry.password
    if (entry.auth !== undefined && entry.auth !== "") {
      const pair = Base64.decodeString(entry.auth)
      const text = Result.isSuccess(pair) ? pair.success : ""
      const colon = text.indexOf(":")
      if (colon <= 0) return Result.fail(`auths["${key}"].auth is not base64 of user:password`)
      username = text.slice(0, colon)
      password = text.slice(colon + 1)
    }
    if (username !== undefined && password !== undefined)
      return Result.succeed({ username, password: Redacted.make(password) })
  }
  return Result.succeed(undefined)
}

const basicOf = (c: RegistryCredentials | undefined): string | undefined =>
  c !== undefined && "username" in c
    ? `Basic ${Base64.encode(`${c.username}:${Redacted.value(c.password)}`)}`
    : undefined

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
const challengeParams = (challenge: string): Record<string, string> => {
  const params: Record<string, string> = {}
  for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string
  return params
}

const TokenAnswer = Schema.Struct({
  token: Schema.optionalKey(Schema.String),
  access_token: Schema.optionalKey(Schema.String)
})

/** One repository of a registry, read with the registry's auth (found on the first 401, then kept). */
export interface RepositoryReader {
  readonly registry: string
  readonly repository: string
  /**
   * GET `/v2/<repository>/<path>`, answered whatever its status (the caller says what a 404
   * means); fails only when no scheme answers within the time limit.
   */
  readonly get: (
    path: string,
    accept?: ReadonlyArray<string>
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError>
}

/**
 * A reader of `registry/repository`. The first request finds the scheme that answers (http, then
 * https, for a registry on this host; only a transport failure moves on: an answer, even a 401, is
 * the registry's) and the authorization its challenge asks for; both are kept for the next ones.
 */
export const openRepository = (registry: string, repository: string, options: RegistryOptions = {}) =>
  Effect.map(Effect.service(HttpClient.HttpClient), (client): RepositoryReader => {
    const timeoutMs = options.timeoutMs ?? 30_000
    const credentials = options.credentials
    const roots = rootsOf(registry)
    let root: string | undefined
    let authorization: string | undefined
    const fail = (reason: RegistryError["reason"], message: string, extra: { status?: number; cause?: unknown } = {}) =>
      new RegistryError({ reason, registry, message, ...extra })

    const send = (request: HttpClientRequest.HttpClientRequest, what: string) =>
      client.execute(request).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(timeoutMs),
          orElse: () => Effect.fail(fail("unreachable", `${what}: no answer within ${timeoutMs} ms`))
        }),
        Effect.catchTag("HttpClientError", (e) =>
          Effect.fail(fail("unreachable", `${what}: ${e.message}`, { cause: e }))
        )
      )

    /** The token (or Basic header) the registry's 401 challenge asks for; `undefined` when it cannot be met. */
    const authorize = (challenge: string) =>
      Effect.gen(function* () {
        const basic = basicOf(credentials)
        if (/^basic/i.test(challenge)) return basic
        if (!/^bearer/i.test(challenge)) return undefined
        const params = challengeParams(challenge)
        if (params.realm === undefined) return undefined
        const scope = params.scope ?? `repository:${repository}:pull`
        const what = `token from ${params.realm}`
        const res =
          credentials !== undefined && "identityToken" in credentials
            ? yield* send(
                HttpClientRequest.post(params.realm).pipe(
                  HttpClientRequest.bodyUrlParams({
                    grant_type: "refresh_token",
                    refresh_token: Redacted.value(credentials.identityToken),
                    service: params.service ?? "",
                    scope,
                    client_id: "sluice"
                  })
                ),
                what
              )
            : yield* send(
                HttpClientRequest.get(params.realm).pipe(
                  HttpClientRequest.appendUrlParams({
                    ...(params.service === undefined ? {} : { service: params.service }),
                    scope
                  }),
                  HttpClientRequest.setHeaders(basic === undefined ? {} : { authorization: basic })
                ),
                what
              )
        if (res.status === 401 || res.status === 403)
          return yield* fail(
            "unauthorized",
            `${registry}: the token endpoint refused the credentials (${res.status})`,
            {
              status: res.status
            }
          )
        if (res.status !== 200)
          return yield* fail(res.status >= 500 ? "unreachable" : "invalid", `${what} answered ${res.status}`, {
            status: res.status
          })
        const body = yield* res.json.pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(TokenAnswer)),
          Effect.mapError((e) => fail("invalid", `${what}: the answer is not a token (${e.message})`, { cause: e }))
        )
        const token = body.token ?? body.access_token
        return token === undefined ? undefined : `Bearer ${token}`
      })

    const request = (url: string, accept: ReadonlyArray<string>) =>
      HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders({
          ...(accept.length > 0 ? { accept: accept.join(", ") } : {}),
          ...(authorization === undefined ? {} : { authorization })
        })
      )

    const get = (path: string, accept: ReadonlyArray<string> = []) =>
      Effect.gen(function* () {
        let res: HttpClientResponse.HttpClientResponse | undefined
        if (root === undefined) {
          const transport: Array<RegistryError> = []
          for (const candidate of roots) {
            const answer = yield* Effect.result(
              send(request(`${candidate}/v2/${repository}/${path}`, accept), candidate.split(":")[0] as string)
            )
            if (Result.isSuccess(answer)) {
              root = candidate
              res = answer.success
              break
            }
            transport.push(answer.failure)
          }
          if (res === undefined)
            return yield* fail(
              "unreachable",
              `registry ${registry} does not answer (${transport.map((e) => e.message).join("; ")})`,
              transport[0]?.cause === undefined ? {} : { cause: transport[0].cause }
            )
        }
        const url = `${root}/v2/${repository}/${path}`
        res ??= yield* send(request(url, accept), `GET ${url}`)
        if (res.status === 401 && authorization === undefined) {
          authorization = yield* authorize(res.headers["www-authenticate"] ?? "")
          if (authorization !== undefined) res = yield* send(request(url, accept), `GET ${url}`)
        }
        return res
      })

    return { registry, repository, get }
  })

/** What a status other than 200 means for `what` (a manifest, a blob). */
const refusal = (
  registry: string,
  res: HttpClientResponse.HttpClientResponse,
  what: string,
  hasCredentials: boolean
) =>
  res.status === 401 || res.status === 403
    ? new RegistryError({
        reason: "unauthorized",
        registry,
        status: res.status,
        message: `registry ${registry} refused to serve ${what} (${res.status}: ${hasCredentials ? "the credentials were refused" : "authentication required and no credentials were given"})`
      })
    : res.status === 404
      ? new RegistryError({ reason: "notFound", registry, status: 404, message: `registry ${registry} has no ${what}` })
      : new RegistryError({
          reason: res.status >= 500 || res.status === 429 ? "unreachable" : "invalid",
          registry,
          status: res.status,
          message: `registry ${registry} answered ${res.status} for ${what}`
        })

/** The whole body of `res`, `what` (a manifest, a blob); one cut off mid-way is a transient failure, as no answer is. */
const bodyOf = (registry: string, res: HttpClientResponse.HttpClientResponse, what: string) =>
  res.arrayBuffer.pipe(
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.mapError(
      (e) =>
        new RegistryError({
          reason: "unreachable",
          registry,
          message: `${what}: the body was cut off (${e.message})`,
          cause: e
        })
    )
  )

/** A manifest's bytes, checked: they hash to the digest the registry states and, when asked by digest, to that one. */
const readManifest = (reader: RepositoryReader, reference: string, hasCredentials: boolean) =>
  Effect.gen(function* () {
    const what = `manifest ${reader.repository}:${reference}`.replace(/:sha256:/, "@sha256:")
    const res = yield* reader.get(`manifests/${reference}`, MANIFEST_ACCEPT)
    if (res.status !== 200) return yield* refusal(reader.registry, res, what, hasCredentials)
    const bytes = yield* bodyOf(reader.registry, res, what)
    const digest = `sha256:${sha256Hex(bytes)}`
    const stated = res.headers["docker-content-digest"]
    const invalid = (message: string) =>
      new RegistryError({ reason: "invalid", registry: reader.registry, message: `${what}: ${message}` })
    if (stated !== undefined && stated !== digest)
      return yield* invalid(`the registry says it is ${stated}, its bytes hash to ${digest}`)
    if (DIGEST.test(reference) && reference !== digest)
      return yield* invalid(`the bytes served for ${reference} hash to ${digest}`)
    let document: unknown
    try {
      document = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      return yield* invalid("not JSON")
    }
    const decoded = Schema.decodeUnknownResult(ManifestDocument, { onExcessProperty: "ignore" })(document)
    if (Result.isFailure(decoded)) return yield* invalid(`not an image manifest or index: ${decoded.failure.message}`)
    return { digest, manifest: decoded.success, mediaType: res.headers["content-type"] }
  })

/**
 * The fields of a manifest or index this reader uses; the rest (layers, annotations, …) is the
 * registry's and not read, so it is let through.
 */
const Descriptor = Schema.Struct({ mediaType: Schema.optionalKey(Schema.String), digest: Schema.String })
const ManifestDocument = Schema.Struct({
  mediaType: Schema.optionalKey(Schema.String),
  config: Schema.optionalKey(Descriptor),
  manifests: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        digest: Schema.String,
        platform: Schema.optionalKey(
          Schema.Struct({ os: Schema.optionalKey(Schema.String), architecture: Schema.optionalKey(Schema.String) })
        )
      })
    )
  )
})

/**
 * The manifest digest `image` names in its registry now (its digest when it has one, else its
 * tag, else `latest`): the sha256 of the manifest bytes as served, which must agree with the
 * registry's `Docker-Content-Digest`. For a single-platform image, its configuration's digest too.
 */
export const manifestDigest = Effect.fn("Registry.manifestDigest")(function* (
  image: Pick<ImageRef, "registry" | "repository" | "tag" | "digest">,
  options: RegistryOptions = {}
) {
  const reader = yield* openRepository(image.registry, image.repository, options)
  const read = yield* readManifest(reader, image.digest ?? image.tag ?? "latest", options.credentials !== undefined)
  const configDigest = read.manifest.config?.digest
  const result: ManifestDigest = {
    digest: read.digest,
    ...(configDigest !== undefined && DIGEST.test(configDigest) ? { configDigest } : {}),
    ...(read.mediaType === undefined ? {} : { mediaType: read.mediaType })
  }
  return result
})

export interface ImageConfig {
  /** The manifest the configuration was read through (the platform's, for an index). */
  readonly manifestDigest: string
  readonly configDigest: string
  /** The configuration blob (OCI image config: architecture, os, config.User, config.Env, …), as JSON. */
  readonly config: unknown
}

/**
 * An image's configuration, read from its registry without pulling it: the manifest (for an
 * index, the `linux/<architecture>` one, else the first linux one), then its config blob, whose
 * bytes must hash to its digest.
 */
export const imageConfig = Effect.fn("Registry.imageConfig")(function* (
  image: Pick<ImageRef, "registry" | "repository" | "tag" | "digest">,
  architecture: string,
  options: RegistryOptions = {}
) {
  const reader = yield* openRepository(image.registry, image.repository, options)
  const hasCredentials = options.credentials !== undefined
  const name = `${image.registry}/${image.repository}`
  const invalid = (message: string) => new RegistryError({ reason: "invalid", registry: image.registry, message })
  let read = yield* readManifest(reader, image.digest ?? image.tag ?? "latest", hasCredentials)
  if (read.manifest.manifests !== undefined) {
    const pick =
      read.manifest.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === architecture) ??
      read.manifest.manifests.find((m) => m.platform?.os === "linux")
    if (pick === undefined) return yield* invalid(`${name}: no linux/${architecture} image in the index`)
    read = yield* readManifest(reader, pick.digest, hasCredentials)
  }
  const configDigest = read.manifest.config?.digest
  if (configDigest === undefined || !DIGEST.test(configDigest))
    return yield* invalid(`${name}: the manifest names no sha256 config (schema 1 manifests are not supported)`)
  const res = yield* reader.get(`blobs/${configDigest}`)
  if (res.status !== 200) return yield* refusal(image.registry, res, `config blob ${configDigest}`, hasCredentials)
  const bytes = yield* bodyOf(image.registry, res, `config blob ${configDigest}`)
  if (`sha256:${sha256Hex(bytes)}` !== configDigest)
    return yield* invalid(`${name}: the registry served other bytes for config blob ${configDigest}`)
  let config: unknown
  try {
    config = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return yield* invalid(`${name}: config blob ${configDigest} is not JSON`)
  }
  const result: ImageConfig = { manifestDigest: read.digest, configDigest, config }
  return result
})
