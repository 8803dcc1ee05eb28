import { Result, Schema } from "effect"
import type { ContainerSecurityContext, NormalizedVolume, NormalizedVolumeMount, NormalizedWorkload } from "../input.js"
import { NormalizeError, opt, StringMap, stringMap, strings } from "./common.js"

// The subset of the Docker Engine API `ContainerInspectResponse` / `ImageInspect` the normalizer
// reads. Docker reports absent lists as `null`, which counts as empty.

const MountPointRaw = Schema.Struct({
  Type: opt(Schema.String),
  Name: opt(Schema.String),
  Source: opt(Schema.String),
  Destination: opt(Schema.String),
  RW: opt(Schema.Boolean)
})

const HostConfigMountRaw = Schema.Struct({
  Type: opt(Schema.String),
  Source: opt(Schema.String),
  Target: opt(Schema.String),
  ReadOnly: opt(Schema.Boolean)
})

const HostConfigRaw = Schema.Struct({
  Binds: opt(Schema.Array(Schema.String)),
  Mounts: opt(Schema.Array(HostConfigMountRaw)),
  NetworkMode: opt(Schema.String),
  PidMode: opt(Schema.String),
  IpcMode: opt(Schema.String),
  Privileged: opt(Schema.Boolean),
  CapAdd: opt(Schema.Array(Schema.String)),
  CapDrop: opt(Schema.Array(Schema.String)),
  SecurityOpt: opt(Schema.Array(Schema.String)),
  ReadonlyRootfs: opt(Schema.Boolean),
  Memory: opt(Schema.Int),
  NanoCpus: opt(Schema.Int),
  CpuQuota: opt(Schema.Int),
  CpuPeriod: opt(Schema.Int),
  Annotations: opt(StringMap)
})

const ContainerInspectRaw = Schema.Struct({
  Name: opt(Schema.String),
  Id: opt(Schema.String),
  Image: opt(Schema.String),
  Config: opt(
    Schema.Struct({
      User: opt(Schema.String),
      Image: opt(Schema.String),
      Labels: opt(StringMap)
    })
  ),
  HostConfig: opt(HostConfigRaw),
  Mounts: opt(Schema.Array(MountPointRaw))
})
type ContainerInspectRaw = typeof ContainerInspectRaw.Type

const ImageInspectRaw = Schema.Struct({
  Config: opt(Schema.Struct({ User: opt(Schema.String) }))
})

const decodeContainer = Schema.decodeUnknownResult(ContainerInspectRaw, { errors: "all" })
const decodeImage = Schema.decodeUnknownResult(ImageInspectRaw, { errors: "all" })

const NANO = 1_000_000_000n

/** Formats `n / 10^9` as a plain decimal string: 500000000 → "0.5", 2000000000 → "2". */
export const formatNanoCores = (nano: bigint): string => {
  const whole = nano / NANO
  const frac = (nano % NANO).toString().padStart(9, "0").replace(/0+$/, "")
  return frac === "" ? whole.toString() : `${whole}.${frac}`
}

const DEFAULT_CFS_PERIOD = 100_000

/** `HostConfig.NanoCpus`, else `CpuQuota / CpuPeriod`, as decimal cores (rounded to nano-cores). */
export const dockerCpuLimit = (hc: {
  readonly NanoCpus?: number | null | undefined
  readonly CpuQuota?: number | null | undefined
  readonly CpuPeriod?: number | null | undefined
}): string | undefined => {
  if (hc.NanoCpus != null && hc.NanoCpus > 0) return formatNanoCores(BigInt(hc.NanoCpus))
  if (hc.CpuQuota != null && hc.CpuQuota > 0) {
    const period = BigInt(hc.CpuPeriod != null && hc.CpuPeriod > 0 ? hc.CpuPeriod : DEFAULT_CFS_PERIOD)
    const quota = BigInt(hc.CpuQuota)
    return formatNanoCores((quota * NANO + period / 2n) / period)
  }
  return undefined
}

/** `no-new-privileges`, `no-new-privileges:true` or `no-new-privileges=true`. */
const noNewPrivileges = (opts: ReadonlyArray<string>): boolean =>
  opts.some((o) => /^no-new-privileges([:=]true)?$/i.test(o.trim()))

interface Bind {
  readonly source: string
  readonly destination: string
  readonly readOnly: boolean
}

const isHostPath = (p: string) => p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p)

/** `HostConfig.Binds` entry `src:dst[:opts]`; a non-absolute `src` is a named volume, not a host path. */
const parseBind = (spec: string): Bind | undefined => {
  const parts = spec.split(":")
  const [source, destination, options] = parts
  if (source === undefined || destination === undefined || !isHostPath(source)) return undefined
  const readOnly = (options ?? "").split(",").includes("ro")
  return { source, destination, readOnly }
}

/**
 * Host-path binds. The runtime view (`Mounts`, present on inspected containers) wins; otherwise
 * the create-time `HostConfig.Binds` then `HostConfig.Mounts` entries of type `bind`.
 */
const hostBinds = (c: ContainerInspectRaw): Array<Bind> => {
  if (c.Mounts != null) {
    return c.Mounts.flatMap((m) =>
      m.Type === "bind" && m.Source != null
        ? [{ source: m.Source, destination: m.Destination ?? "", readOnly: m.RW === false }]
        : []
    )
  }
  const fromBinds = strings(c.HostConfig?.Binds).flatMap((b) => {
    const parsed = parseBind(b)
    return parsed ? [parsed] : []
  })
  const fromMounts = (c.HostConfig?.Mounts ?? []).flatMap((m) =>
    m.Type === "bind" && m.Source != null
      ? [{ source: m.Source, destination: m.Target ?? "", readOnly: m.ReadOnly === true }]
      : []
  )
  return [...fromBinds, ...fromMounts]
}

/**
 * Normalizes a Docker container (Engine API container inspect, plus the image inspect when known)
 * into `input.workload`: kind `Container`, one container of type `container`.
 */
export const normalizeDocker = (
  container: unknown,
  image?: unknown
): Result.Result<NormalizedWorkload, NormalizeError> => {
  const decoded = decodeContainer(container)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new NormalizeError({ source: "docker", message: `invalid container inspect: ${decoded.failure.message}` })
    )
  }
  let imageUser: string | undefined
  if (image !== undefined && image !== null) {
    const img = decodeImage(image)
    if (Result.isFailure(img)) {
      return Result.fail(
        new NormalizeError({ source: "docker", message: `invalid image inspect: ${img.failure.message}` })
      )
    }
    imageUser = img.success.Config?.User ?? undefined
  }
  const c = decoded.success
  const hc = c.HostConfig ?? {}
  const name = (c.Name ?? "").replace(/^\//, "") || (c.Id ?? "")
  if (name === "") {
    return Result.fail(
      new NormalizeError({ source: "docker", message: "invalid container inspect: Name or Id is required" })
    )
  }

  const securityContext: ContainerSecurityContext = {
    capabilities: { add: strings(hc.CapAdd), drop: strings(hc.CapDrop) }
  }
  if (hc.Privileged != null) securityContext.privileged = hc.Privileged
  if (noNewPrivileges(strings(hc.SecurityOpt))) securityContext.allowPrivilegeEscalation = false
  if (hc.ReadonlyRootfs != null) securityContext.readOnlyRootFilesystem = hc.ReadonlyRootfs

  const limits: { cpu?: string; memory?: string } = {}
  const cpu = dockerCpuLimit(hc)
  if (cpu !== undefined) limits.cpu = cpu
  if (hc.Memory != null && hc.Memory > 0) limits.memory = String(hc.Memory)

  const binds = hostBinds(c)
  const volumes: Array<NormalizedVolume> = binds.map((b, i) => ({
    name: `bind-${i}`,
    hostPath: { path: b.source },
    readOnly: b.readOnly
  }))
  const volumeMounts: Array<NormalizedVolumeMount> = binds.map((b, i) => ({
    name: `bind-${i}`,
    mountPath: b.destination,
    readOnly: b.readOnly
  }))

  const containerUser = c.Config?.User ?? ""
  const user = containerUser !== "" ? containerUser : (imageUser ?? "")

  return Result.succeed({
    platform: "docker",
    kind: "Container",
    name,
    labels: stringMap(c.Config?.Labels),
    annotations: stringMap(hc.Annotations),
    pod: {
      securityContext: {},
      hostNetwork: hc.NetworkMode === "host",
      hostPID: hc.PidMode === "host",
      hostIPC: hc.IpcMode === "host",
      volumes
    },
    containers: [
      {
        name,
        type: "container",
        image: c.Config?.Image ?? c.Image ?? "",
        ...(user !== "" ? { user } : {}),
        securityContext,
        resources: { limits, requests: {} },
        volumeMounts
      }
    ]
  })
}
