/**
 * Field-by-field comparison of two `docker inspect` documents of "the same" container before and
 * after a recreate. This is the test oracle: it does not reuse the adapter's recreate logic.
 */
import type { Json } from "./engine.js"

export interface Difference {
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Every leaf path where the two documents differ. */
export const diff = (before: unknown, after: unknown, path = ""): Array<Difference> => {
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => diff(before[k], after[k], path ? `${path}.${k}` : k))
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => diff(b, after[i], `${path}[${i}]`))
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }]
}

/**
 * The configuration of a container, out of its `docker inspect` document: what `docker create` and
 * `docker network connect` set (its name, `Config`, `HostConfig`, effective mounts, and per network
 * its aliases, links and IPAM settings). Everything the engine records about the running instance
 * is left out: ids, times, `State` (pid, health log, …), `ExecIDs` (e.g. a health check exec in
 * flight at inspect time), `RestartCount`, id-derived paths, the storage layer, the sandbox, the
 * addresses and the host ports Docker chose (`NetworkSettings.Ports`; the requested bindings are
 * `HostConfig.PortBindings`). An allowlist, not a list of exclusions: a runtime field this code does
 * not know cannot turn into a difference, at any depth or array index.
 */
export const configurationOf = (c: Json): Json => {
  const networks: Record<string, Json> = {}
  for (const [name, n] of Object.entries((c.NetworkSettings?.Networks ?? {}) as Record<string, Json>)) {
    networks[name] = {
      NetworkID: n.NetworkID,
      Aliases: n.Aliases,
      Links: n.Links,
      IPAMConfig: n.IPAMConfig,
      DriverOpts: n.DriverOpts
    }
  }
  return structuredClone({
    Name: c.Name,
    Path: c.Path,
    Args: c.Args,
    Driver: c.Driver,
    Platform: c.Platform,
    MountLabel: c.MountLabel,
    ProcessLabel: c.ProcessLabel,
    AppArmorProfile: c.AppArmorProfile,
    Config: c.Config,
    HostConfig: c.HostConfig,
    Mounts: c.Mounts,
    NetworkSettings: { Networks: networks }
  })
}

/** What makes it the same container instance (a rollback must bring back this very one). */
const identityOf = (c: Json): Json => ({ Id: c.Id, Created: c.Created, Image: c.Image })

/** Removes Docker's automatic short-id alias, so aliases compare by what the user set. */
const normalizeAliases = (c: Json): Json => {
  const copy = structuredClone(c)
  const short = String(c.Id).slice(0, 12)
  for (const n of Object.values((copy.NetworkSettings?.Networks ?? {}) as Record<string, Json>)) {
    if (Array.isArray(n.Aliases)) n.Aliases = n.Aliases.filter((a: string) => a !== short).sort()
  }
  // Docker defaults the hostname to the short id.
  if (copy.Config?.Hostname === short) copy.Config.Hostname = "<id>"
  // Docker lists mounts in no particular order.
  if (Array.isArray(copy.Mounts))
    copy.Mounts = [...copy.Mounts].sort((x: Json, y: Json) =>
      String(x.Destination).localeCompare(String(y.Destination))
    )
  return copy
}

const minus = (xs: ReadonlyArray<string> | null | undefined, ys: ReadonlyArray<string> | null | undefined) => {
  const s = new Set(ys ?? [])
  return (xs ?? []).filter((x) => !s.has(x)).sort()
}
const minusMap = (xs: Record<string, string> | null | undefined, ys: Record<string, string> | null | undefined) =>
  Object.fromEntries(
    Object.entries(xs ?? {})
      .filter(([k, v]) => ys?.[k] !== v)
      .sort(([a], [b]) => a.localeCompare(b))
  )

export interface RecreateComparison {
  /** Differences outside the allowed ones: must be empty. */
  readonly unexpected: ReadonlyArray<Difference>
  /** The container's own env/labels (minus its image's): must be equal. */
  readonly ownEnv: { before: Array<string>; after: Array<string> }
  readonly ownLabels: { before: Record<string, string>; after: Record<string, string> }
  /** Env entries of the new image that the new container lacks (must be empty: the new image's defaults apply). */
  readonly missingImageEnv: Array<string>
}

/**
 * Compares a container's configuration (`configurationOf`) before and after it was recreated on a
 * new image. Allowed to differ: the image, the
 * env/labels that come from the image (compared separately), and anonymous volumes carried as
 * explicit HostConfig.Mounts (the effective `Mounts` must still be equal).
 */
export const compareRecreated = (
  before: Json,
  beforeImage: Json,
  after: Json,
  afterImage: Json
): RecreateComparison => {
  const b = configurationOf(normalizeAliases(before))
  const a = configurationOf(normalizeAliases(after))
  const ownEnv = {
    before: minus(b.Config.Env, beforeImage.Config?.Env),
    after: minus(a.Config.Env, afterImage.Config?.Env)
  }
  const ownLabels = {
    before: minusMap(b.Config.Labels, beforeImage.Config?.Labels),
    after: minusMap(a.Config.Labels, afterImage.Config?.Labels)
  }
  const missingImageEnv = (afterImage.Config?.Env ?? []).filter((e: string) => {
    const k = e.split("=")[0]
    return !(a.Config.Env as Array<string>).some((x) => x === e || x.split("=")[0] === k)
  })
  // The image is the change itself (checked by the callers); env and labels are compared above.
  for (const doc of [a, b]) {
    delete doc.Config.Image
    delete doc.Config.Env
    delete doc.Config.Labels
  }
  // Anonymous volumes may be carried as explicit mounts: compare the effective mounts (`Mounts`)
  // in full, and HostConfig.Mounts only for what `before` declared.
  const beforeMounts = (b.HostConfig.Mounts ?? []) as Array<Json>
  const afterMounts = (a.HostConfig.Mounts ?? []) as Array<Json>
  const declared = afterMounts.filter((m) => beforeMounts.some((x) => x.Target === m.Target))
  b.HostConfig.Mounts = beforeMounts.length ? beforeMounts : null
  a.HostConfig.Mounts = declared.length ? declared : null
  // An anonymous volume carried over as an explicit mount of the same volume is reported with
  // Docker's default SELinux label mode "z" instead of "" (no effect without SELinux).
  for (const m of (a.Mounts ?? []) as Array<Json>) {
    const was = ((b.Mounts ?? []) as Array<Json>).find((x) => x.Destination === m.Destination)
    if (was && m.Type === "volume" && was.Name === m.Name && was.Mode === "" && m.Mode === "z") m.Mode = ""
  }
  const unexpected = diff(b, a)
  return { unexpected, ownEnv, ownLabels, missingImageEnv }
}

/** Same container after a rollback: the same instance (id, creation, image) with the same configuration; runtime state may differ. */
export const compareRestored = (before: Json, after: Json): ReadonlyArray<Difference> =>
  diff(
    { ...identityOf(before), ...configurationOf(normalizeAliases(before)) },
    { ...identityOf(after), ...configurationOf(normalizeAliases(after)) }
  )
