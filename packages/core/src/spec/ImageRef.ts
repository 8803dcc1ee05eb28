import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

/**
 * A parsed container image reference (Docker reference grammar, sha256 digests only).
 *
 * `registry` and `repository` are normalized the way Docker does it: a reference without a
 * registry is on `docker.io`, and a single-component Docker Hub repository gets the `library/`
 * prefix (`agent:1` → `docker.io/library/agent:1`). `raw` keeps the text as written.
 */
export interface ImageRef {
  /** The reference as written in the spec. */
  readonly raw: string
  /** Registry host with optional port, e.g. `registry.sluice.dev`, `localhost:5000`, `docker.io`. */
  readonly registry: string
  /** Repository path inside the registry, e.g. `agents/node-agent`, `library/agent`. */
  readonly repository: string
  /** The tag when one was written (no implicit `latest`). */
  readonly tag?: string
  /** `sha256:<64 hex>` when one was written. */
  readonly digest?: string
}

export class ImageRefError extends Schema.TaggedError<ImageRefError>()("ImageRefError", {
  raw: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid image reference ${JSON.stringify(this.raw)}: ${this.reason}`
  }
}

export const DEFAULT_REGISTRY = "docker.io"
const MAX_NAME_LENGTH = 255

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/
const IPV6 = /^\[[a-fA-F0-9:.]+\]$/
const PORT = /^[0-9]+$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^sha256:[a-f0-9]{64}$/

const fail = (raw: string, reason: string): Result.Result<never, ImageRefError> =>
  Result.fail(new ImageRefError({ raw, reason }))

function validateDomain(domain: string): string | undefined {
  let host = domain
  let port: string | undefined
  if (domain.startsWith("[")) {
    const end = domain.indexOf("]")
    if (end < 0) return `registry ${JSON.stringify(domain)} has an unclosed IPv6 bracket`
    host = domain.slice(0, end + 1)
    const rest = domain.slice(end + 1)
    if (rest !== "") {
      if (!rest.startsWith(":")) return `registry ${JSON.stringify(domain)} is not host[:port]`
      port = rest.slice(1)
    }
    if (!IPV6.test(host)) return `registry ${JSON.stringify(domain)} has an invalid IPv6 address`
  } else {
    const colon = domain.indexOf(":")
    if (colon >= 0) {
      host = domain.slice(0, colon)
      port = domain.slice(colon + 1)
    }
    if (host === "") return `registry ${JSON.stringify(domain)} has an empty host`
    for (const component of host.split(".")) {
      if (!DOMAIN_COMPONENT.test(component)) {
        return `registry host ${JSON.stringify(host)} is not a valid domain name`
      }
    }
  }
  if (port !== undefined && !PORT.test(port)) {
    return `registry port ${JSON.stringify(port)} must be a number`
  }
  return undefined
}

/**
 * Parses an image reference: `[registry[:port]/]repo/path[:tag][@sha256:<64 hex>]`.
 *
 * The first path component is a registry when it contains a `.` or a `:`, is `localhost`, or
 * contains an uppercase letter (as Docker decides). A `:` before the last `/` is a port, not a tag.
 * Repository components are lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or dashes.
 */
export function parseImageRef(raw: string): Result.Result<ImageRef, ImageRefError> {
  if (typeof raw !== "string") return fail(String(raw), "expected a string")
  if (raw === "") return fail(raw, "empty reference")
  if (/\s/.test(raw)) return fail(raw, "must not contain whitespace")

  let rest = raw
  let digest: string | undefined
  const at = rest.indexOf("@")
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) {
      return fail(raw, `digest ${JSON.stringify(digest)} must be sha256:<64 lowercase hex characters>`)
    }
  }

  let tag: string | undefined
  const lastSlash = rest.lastIndexOf("/")
  const lastColon = rest.lastIndexOf(":")
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!TAG.test(tag)) {
      return fail(raw, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`)
    }
  }

  if (rest === "") return fail(raw, "missing repository name")
  if (rest.length > MAX_NAME_LENGTH) return fail(raw, `name longer than ${MAX_NAME_LENGTH} characters`)

  let registry = DEFAULT_REGISTRY
  let remote = rest
  const slash = rest.indexOf("/")
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (first.includes(".") || first.includes(":") || first === "localhost" || first.toLowerCase() !== first) {
      registry = first
      remote = rest.slice(slash + 1)
      const domainError = validateDomain(registry)
      if (domainError !== undefined) return fail(raw, domainError)
      if (registry === "index.docker.io") registry = DEFAULT_REGISTRY
    }
  }
  if (remote === "") return fail(raw, "missing repository name")
  for (const component of remote.split("/")) {
    if (component === "") return fail(raw, "empty repository path component")
    if (!PATH_COMPONENT.test(component)) {
      const reason =
        component.toLowerCase() !== component
          ? `repository path component ${JSON.stringify(component)} must be lowercase`
          : `repository path component ${JSON.stringify(component)} must be [a-z0-9]+ separated by '.', '_', '__' or '-'`
      return fail(raw, reason)
    }
  }
  if (registry === DEFAULT_REGISTRY && !remote.includes("/")) remote = `library/${remote}`

  return Result.succeed({
    raw,
    registry,
    repository: remote,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {})
  })
}

/** The canonical, fully qualified form: `registry/repository[:tag][@digest]`. */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${
    ref.digest !== undefined ? `@${ref.digest}` : ""
  }`
}

/**
 * The canonical form used for comparisons: like {@link formatImageRef}, but a reference with
 * neither tag nor digest means `:latest` (as the container runtimes pull it).
 */
export function canonicalImage(ref: ImageRef): string {
  return ref.tag === undefined && ref.digest === undefined
    ? `${ref.registry}/${ref.repository}:latest`
    : formatImageRef(ref)
}

/**
 * Whether `running` (an image string as an adapter reports it) is exactly `desired`: same
 * registry, repository, tag and digest after normalization (`agent:1` = `docker.io/library/agent:1`;
 * no tag and no digest = `:latest`). An unparsable `running` image is compared verbatim.
 */
export function isSameImage(desired: ImageRef, running: string): boolean {
  const parsed = parseImageRef(running)
  if (Result.isFailure(parsed)) return running === desired.raw
  return canonicalImage(parsed.success) === canonicalImage(desired)
}

/** The reference as written, pinned to `digest` (`name:tag@digest`); a reference that has a digest is returned as is. */
export function formatDigested(ref: ImageRef, digest: string): string {
  return ref.digest !== undefined ? ref.raw : `${ref.raw}@${digest}`
}

/**
 * The name as written, without tag and digest: what a runtime's pull takes as the image to fetch
 * (`localhost:5000/sluice/agent`; `agent` stays `agent`).
 */
export function imageName(ref: ImageRef): string {
  const cut = (ref.tag === undefined ? 0 : ref.tag.length + 1) + (ref.digest === undefined ? 0 : ref.digest.length + 1)
  return ref.raw.slice(0, ref.raw.length - cut)
}

/** What a person calls the version: the tag (with the digest when both are written), else the digest, else `latest`. */
export function imageVersion(ref: ImageRef): string {
  if (ref.tag === undefined) return ref.digest ?? "latest"
  return ref.digest === undefined ? ref.tag : `${ref.tag}@${ref.digest}`
}

const MAX_REMEMBERED = 1024
const repositories = new Map<string, string>()

/**
 * The normalized repository of an image string (`agent:1` → `docker.io/library/agent`), to tell
 * whether two images are versions of one thing. A string that is not an image reference (an image
 * id, a runtime's odd form) is its own repository: it matches only itself.
 */
export function imageRepository(image: string): string {
  let repository = repositories.get(image)
  if (repository === undefined) {
    const parsed = parseImageRef(image)
    repository = Result.isSuccess(parsed) ? `${parsed.success.registry}/${parsed.success.repository}` : image
    // A fleet runs a handful of images, but this is asked per target and container: remembered,
    // within a bound so that a stream of distinct strings cannot grow it without end.
    if (repositories.size >= MAX_REMEMBERED) repositories.clear()
    repositories.set(image, repository)
  }
  return repository
}

/** The decoded (type) side of {@link ImageRefFromString}. */
export const ImageRefType = Schema.Struct({
  raw: Schema.String,
  registry: Schema.String,
  repository: Schema.String,
  tag: Schema.optionalKey(Schema.String),
  digest: Schema.optionalKey(Schema.String)
})

/** `registry/repo[:tag][@sha256:…]` string ⇄ {@link ImageRef}; encodes back to `raw`. */
export const ImageRefFromString = Schema.String.pipe(
  Schema.decodeTo(
    ImageRefType,
    SchemaTransformation.transformEffect({
      decode: (raw: string) => {
        const parsed = parseImageRef(raw)
        return Result.isSuccess(parsed)
          ? Effect.succeed(parsed.success)
          : Effect.fail(new SchemaIssue.InvalidValue({ message: parsed.failure.message }))
      },
      encode: (ref: ImageRef) => Effect.succeed(ref.raw)
    })
  )
).annotate({ expected: "an image reference registry/repo[:tag][@sha256:<64 hex>]" })
