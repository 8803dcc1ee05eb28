/**
 * Turning a container's inspect output back into the create request that reproduces it, on a new
 * image. Pure functions; the adapter feeds them the Engine's JSON.
 *
 * What belongs to the container (set by whoever ran it) is copied; what came from the old image
 * (its Env, Labels, Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Volumes, Healthcheck,
 * StopSignal, Shell) is dropped, so the new image's own defaults apply — otherwise v2 would keep
 * v1's `ENV VERSION=v1` and v1's HEALTHCHECK.
 */

// biome-ignore lint/suspicious/noExplicitAny: Engine API JSON
export type Json = any

export interface NetworkAttachment {
  readonly name: string
  readonly aliases?: ReadonlyArray<string>
  readonly ipamConfig?: Json
  readonly links?: ReadonlyArray<string>
  readonly driverOpts?: Readonly<Record<string, string>>
}

/** Everything needed to create the container again (JSON, kept in `Revision.data`). */
export interface CreateSpec {
  readonly name: string
  /** `Config` fields the container sets itself (never `Image`). */
  readonly config: Readonly<Record<string, Json>>
  readonly hostConfig: Readonly<Record<string, Json>>
  /** The first is the primary network (`HostConfig.NetworkMode`); the others are connected after create. */
  readonly networks: ReadonlyArray<NetworkAttachment>
}

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)

/** Deep equality of JSON values where null, undefined, "" and empty collections are equal. */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (isEmpty(a) && isEmpty(b)) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  if (
    typeof a === "object" &&
    a !== null &&
    typeof b === "object" &&
    b !== null &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) if (!jsonEqual((a as Json)[k], (b as Json)[k])) return false
    return true
  }
  return a === b
}

const envKey = (e: string): string => {
  const i = e.indexOf("=")
  return i === -1 ? e : e.slice(0, i)
}

/** The container's env entries that its image did not set (same `K=V`). */
export const userEnv = (
  containerEnv: ReadonlyArray<string> | null | undefined,
  imageEnv: ReadonlyArray<string> | null | undefined
) => {
  const fromImage = new Set(imageEnv ?? [])
  return (containerEnv ?? []).filter((e) => !fromImage.has(e))
}

const subtractMap = (
  c: Record<string, Json> | null | undefined,
  i: Record<string, Json> | null | undefined,
  byValue: boolean
) => {
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(c ?? {})) {
    if (i && k in i && (!byValue || jsonEqual(i[k], v))) continue
    out[k] = v
  }
  return out
}

/** Overrides `env` entries by key (config-only env change). */
export const mergeEnv = (env: ReadonlyArray<string>, overrides: Readonly<Record<string, string>>): Array<string> => {
  const keys = new Set(Object.keys(overrides))
  return [...env.filter((e) => !keys.has(envKey(e))), ...Object.entries(overrides).map(([k, v]) => `${k}=${v}`)]
}

/** `/other:/self/alias` (inspect form) → `other:alias` (create form). */
const convertLink = (link: string): string => {
  const [src, dst] = link.split(":")
  if (src === undefined || dst === undefined) return link
  const alias = dst.split("/").pop() ?? dst
  return `${src.replace(/^\//, "")}:${alias}`
}

const HOST_CONFIG_DROP = new Set([
  "ContainerIDFile",
  // Deprecated; a non-zero value is rejected by newer engines.
  "KernelMemory",
  "KernelMemoryTCP"
])

export interface ExtractOptions {
  /** Destinations of mounts that come from `VolumesFrom` containers (not carried as explicit mounts). */
  readonly inheritedDestinations?: ReadonlySet<string>
}

/**
 * The create request that reproduces `container` (its inspect JSON). `oldImage` is the inspect of
 * the image it runs; without it every Config field is kept as is.
 */
export const extractCreateSpec = (
  container: Json,
  oldImage: Json | undefined,
  options: ExtractOptions = {}
): CreateSpec => {
  const c: Json = container.Config ?? {}
  const ic: Json = oldImage?.Config ?? {}
  const id: string = container.Id ?? ""
  const config: Record<string, Json> = {}
  const keepIfDiffers = (field: string) => {
    if (c[field] === undefined) return
    if (oldImage === undefined || !jsonEqual(c[field], ic[field])) config[field] = c[field]
  }

  // Docker defaults the hostname to the short id: keep only a hostname somebody chose.
  if (c.Hostname && c.Hostname !== id.slice(0, 12)) config.Hostname = c.Hostname
  if (c.Domainname) config.Domainname = c.Domainname
  keepIfDiffers("User")
  for (const f of ["AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"]) {
    if (c[f] !== undefined) config[f] = c[f]
  }
  const env = oldImage === undefined ? (c.Env ?? []) : userEnv(c.Env, ic.Env)
  if (env.length > 0) config.Env = env
  keepIfDiffers("Cmd")
  keepIfDiffers("Entrypoint")
  keepIfDiffers("WorkingDir")
  keepIfDiffers("Healthcheck")
  keepIfDiffers("StopSignal")
  keepIfDiffers("Shell")
  const exposed = oldImage === undefined ? (c.ExposedPorts ?? {}) : subtractMap(c.ExposedPorts, ic.ExposedPorts, false)
  if (!isEmpty(exposed)) config.ExposedPorts = exposed
  const volumes = oldImage === undefined ? (c.Volumes ?? {}) : subtractMap(c.Volumes, ic.Volumes, false)
  if (!isEmpty(volumes)) config.Volumes = volumes
  const labels = oldImage === undefined ? (c.Labels ?? {}) : subtractMap(c.Labels, ic.Labels, true)
  if (!isEmpty(labels)) config.Labels = labels
  if (c.StopTimeout !== undefined && c.StopTimeout !== null) config.StopTimeout = c.StopTimeout
  if (c.NetworkDisabled) config.NetworkDisabled = true
  if (c.MacAddress) config.MacAddress = c.MacAddress

  // HostConfig: the container's own, field for field.
  const hostConfig: Record<string, Json> = {}
  for (const [k, v] of Object.entries((container.HostConfig ?? {}) as Record<string, Json>)) {
    if (HOST_CONFIG_DROP.has(k)) continue
    hostConfig[k] = v
  }
  if (Array.isArray(hostConfig.Links)) hostConfig.Links = hostConfig.Links.map(convertLink)

  // Anonymous volumes (an image VOLUME, or `-v /path`): carry them as explicit mounts of the same
  // volume, so the new container keeps their data (as `docker compose` does when it recreates).
  const explicit = new Set<string>()
  for (const b of (hostConfig.Binds ?? []) as Array<string>) {
    const parts = b.split(":")
    if (parts[1] !== undefined) explicit.add(parts[1])
  }
  for (const m of (hostConfig.Mounts ?? []) as Array<Json>) if (m?.Target) explicit.add(m.Target)
  const carried: Array<Json> = []
  for (const m of (container.Mounts ?? []) as Array<Json>) {
    if (m?.Type !== "volume" || !m.Name || !m.Destination) continue
    if (explicit.has(m.Destination) || options.inheritedDestinations?.has(m.Destination)) continue
    carried.push({ Type: "volume", Source: m.Name, Target: m.Destination, ReadOnly: m.RW === false })
  }
  if (carried.length > 0) hostConfig.Mounts = [...((hostConfig.Mounts ?? []) as Array<Json>), ...carried]

  // Networks, primary first.
  const mode: string = hostConfig.NetworkMode ?? "default"
  const networks: Array<NetworkAttachment> = []
  const shared = mode === "host" || mode === "none" || mode.startsWith("container:")
  if (!shared) {
    const primary = mode === "default" ? "bridge" : mode
    const entries = Object.entries((container.NetworkSettings?.Networks ?? {}) as Record<string, Json>)
    entries.sort(([a], [b]) => (a === primary ? -1 : b === primary ? 1 : a.localeCompare(b)))
    for (const [name, ep] of entries) {
      const userDefined = name !== "bridge" && name !== "host" && name !== "none"
      // Docker adds the short id as an alias on user-defined networks: not the user's.
      const aliases = userDefined
        ? ((ep?.Aliases ?? []) as Array<string>).filter((a) => a !== id.slice(0, 12) && a !== id)
        : []
      const att: { -readonly [K in keyof NetworkAttachment]: NetworkAttachment[K] } = { name }
      if (aliases.length > 0) att.aliases = aliases
      if (!isEmpty(ep?.IPAMConfig)) att.ipamConfig = ep.IPAMConfig
      if (!isEmpty(ep?.Links)) att.links = (ep.Links as Array<string>).map(convertLink)
      if (!isEmpty(ep?.DriverOpts)) att.driverOpts = ep.DriverOpts
      networks.push(att)
    }
    if (networks.length === 0) networks.push({ name: primary })
  }

  const name = String(container.Name ?? "").replace(/^\//, "")
  return { name, config, hostConfig, networks }
}

const endpointConfig = (n: NetworkAttachment): Json => ({
  ...(n.aliases ? { Aliases: [...n.aliases] } : {}),
  ...(n.ipamConfig ? { IPAMConfig: n.ipamConfig } : {}),
  ...(n.links ? { Links: [...n.links] } : {}),
  ...(n.driverOpts ? { DriverOpts: { ...n.driverOpts } } : {})
})

export interface CreateRequest {
  /** The body of `POST /containers/create` (with `name`). */
  readonly create: Json
  /** Networks to connect after create, before start (API < 1.44 takes one network at create). */
  readonly connect: ReadonlyArray<{ readonly network: string; readonly endpoint: Json }>
}

export const buildCreateRequest = (
  spec: CreateSpec,
  image: string,
  name: string,
  envOverrides?: Readonly<Record<string, string>>
): CreateRequest => {
  const config: Record<string, Json> = { ...spec.config }
  if (envOverrides && Object.keys(envOverrides).length > 0) {
    config.Env = mergeEnv((config.Env ?? []) as Array<string>, envOverrides)
  }
  const [primary, ...rest] = spec.networks
  const create: Json = {
    ...config,
    name,
    Image: image,
    HostConfig: { ...spec.hostConfig },
    ...(primary ? { NetworkingConfig: { EndpointsConfig: { [primary.name]: endpointConfig(primary) } } } : {})
  }
  return { create, connect: rest.map((n) => ({ network: n.name, endpoint: endpointConfig(n) })) }
}

/**
 * Why the new container cannot run beside the old one (so the old one must stop first), or
 * `undefined` when it can: fixed host ports, static addresses, a fixed MAC, the host network.
 */
export const surgeConflict = (spec: CreateSpec): string | undefined => {
  const hc = spec.hostConfig
  for (const [port, bindings] of Object.entries((hc.PortBindings ?? {}) as Record<string, Json>)) {
    for (const b of (bindings ?? []) as Array<Json>) {
      if (b?.HostPort && b.HostPort !== "0") return `host port ${b.HostPort} (${port}) is bound`
    }
  }
  if (hc.NetworkMode === "host") return "host network"
  if (spec.config.MacAddress) return "fixed MAC address"
  for (const n of spec.networks) {
    if (n.ipamConfig && (n.ipamConfig.IPv4Address || n.ipamConfig.IPv6Address)) return `static address on ${n.name}`
  }
  return undefined
}

/** Env entries of the container (for the config-only path's "already applied?" check). */
export const envMap = (env: ReadonlyArray<string> | null | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const e of env ?? []) {
    const i = e.indexOf("=")
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1)
  }
  return out
}
