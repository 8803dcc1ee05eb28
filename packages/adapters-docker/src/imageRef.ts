/**
 * Docker image references, normalized the way the Docker CLI does it
 * (`agent` → `docker.io/library/agent:latest`).
 */
export interface ParsedImageRef {
  /** As given. */
  readonly raw: string
  /** Registry host (`docker.io`, `localhost:5000`, `registry.example.com`). */
  readonly registry: string
  /** Repository path inside the registry (`library/agent`, `sluice/agent`). */
  readonly repository: string
  readonly tag?: string
  readonly digest?: string
  /** What to give the Engine's `fromImage` (`localhost:5000/sluice/agent`, `agent` stays `agent`). */
  readonly fromImage: string
}

export const DOCKER_HUB = "docker.io"

const REF =
  /^(?<name>[a-z0-9][a-z0-9._/:-]*?)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}))?$/

export const parseImageRef = (raw: string): ParsedImageRef | undefined => {
  const m = REF.exec(raw.trim())
  if (!m?.groups) return undefined
  const name = m.groups.name as string
  const tag = m.groups.tag
  const digest = m.groups.digest
  const slash = name.indexOf("/")
  const first = slash === -1 ? "" : name.slice(0, slash)
  const hasRegistry = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost")
  const registry = hasRegistry ? first : DOCKER_HUB
  let repository = hasRegistry ? name.slice(slash + 1) : name
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`
  if (repository === "" || repository.includes(":")) return undefined
  return {
    raw,
    registry: registry === "index.docker.io" || registry === "registry-1.docker.io" ? DOCKER_HUB : registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    fromImage: name
  }
}

/** Kubernetes' default: always pull `:latest` and untagged references, otherwise only when missing. */
export const defaultPullsAlways = (ref: ParsedImageRef): boolean =>
  ref.digest === undefined && (ref.tag === undefined || ref.tag === "latest")

/** The keys Docker's config.json may use for a registry (`auths`, `credHelpers`). */
export const configKeysFor = (registry: string): ReadonlyArray<string> =>
  registry === DOCKER_HUB
    ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "https://docker.io", "registry-1.docker.io"]
    : [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`]
