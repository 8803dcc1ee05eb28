import { Result, Schema } from "effect"
import type {
  ContainerSecurityContext,
  ContainerType,
  NormalizedContainer,
  NormalizedVolume,
  NormalizedWorkload,
  PodSecurityContext,
  ResourceList,
  WorkloadKind
} from "../input.js"
import { NormalizeError, opt, StringMap, stringMap, strings } from "./common.js"

// The subset of the Kubernetes API (core/v1 PodSpec, apps/v1 workloads) the normalizer reads.
// Unknown fields are ignored; a known field of the wrong type is an error (the engine fails closed).

/** `resource.Quantity`: a string in the API, but a bare YAML number (`cpu: 1`) in hand-written manifests. */
const Quantity = Schema.Union([Schema.String, Schema.Finite])

const ResourceListRaw = Schema.Record(Schema.String, Quantity)

const SecurityContextRaw = Schema.Struct({
  runAsNonRoot: opt(Schema.Boolean),
  runAsUser: opt(Schema.Int),
  runAsGroup: opt(Schema.Int),
  privileged: opt(Schema.Boolean),
  allowPrivilegeEscalation: opt(Schema.Boolean),
  readOnlyRootFilesystem: opt(Schema.Boolean),
  capabilities: opt(
    Schema.Struct({
      add: opt(Schema.Array(Schema.String)),
      drop: opt(Schema.Array(Schema.String))
    })
  )
})

const ContainerRaw = Schema.Struct({
  name: Schema.String,
  image: opt(Schema.String),
  securityContext: opt(SecurityContextRaw),
  resources: opt(
    Schema.Struct({
      limits: opt(ResourceListRaw),
      requests: opt(ResourceListRaw)
    })
  ),
  volumeMounts: opt(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        mountPath: Schema.String,
        readOnly: opt(Schema.Boolean)
      })
    )
  )
})

const VolumeRaw = Schema.Record(Schema.String, Schema.Unknown).pipe(
  Schema.check(Schema.makeFilter((v) => typeof v.name === "string" || "expected a volume with a string name"))
)

const PodSpecRaw = Schema.Struct({
  securityContext: opt(
    Schema.Struct({
      runAsNonRoot: opt(Schema.Boolean),
      runAsUser: opt(Schema.Int),
      runAsGroup: opt(Schema.Int)
    })
  ),
  hostNetwork: opt(Schema.Boolean),
  hostPID: opt(Schema.Boolean),
  hostIPC: opt(Schema.Boolean),
  volumes: opt(Schema.Array(VolumeRaw)),
  initContainers: opt(Schema.Array(ContainerRaw)),
  containers: Schema.Array(ContainerRaw),
  ephemeralContainers: opt(Schema.Array(ContainerRaw))
})
type PodSpecRaw = typeof PodSpecRaw.Type

const Metadata = Schema.Struct({
  name: opt(Schema.String),
  generateName: opt(Schema.String),
  namespace: opt(Schema.String),
  labels: opt(StringMap),
  annotations: opt(StringMap)
})

const PodRaw = Schema.Struct({
  kind: Schema.Literal("Pod"),
  metadata: opt(Metadata),
  spec: PodSpecRaw
})

const TemplatedRaw = Schema.Struct({
  kind: Schema.Literals(["Deployment", "StatefulSet", "DaemonSet"]),
  metadata: opt(Metadata),
  spec: Schema.Struct({
    template: Schema.Struct({
      metadata: opt(Metadata),
      spec: PodSpecRaw
    })
  })
})

const KubernetesWorkloadRaw = Schema.Union([PodRaw, TemplatedRaw])
const decodeWorkload = Schema.decodeUnknownResult(KubernetesWorkloadRaw, { errors: "all" })

export const supportedKubernetesKinds: ReadonlyArray<WorkloadKind> = ["Deployment", "StatefulSet", "DaemonSet", "Pod"]

const quantity = (q: string | number): string => (typeof q === "number" ? String(q) : q)

const resourceList = (raw: Readonly<Record<string, string | number>> | null | undefined): ResourceList => {
  const out: ResourceList = {}
  if (raw?.cpu !== undefined) out.cpu = quantity(raw.cpu)
  if (raw?.memory !== undefined) out.memory = quantity(raw.memory)
  return out
}

type SecurityContextRaw = typeof SecurityContextRaw.Type

const podSecurityContext = (sc: PodSpecRaw["securityContext"]): PodSecurityContext => {
  const out: PodSecurityContext = {}
  if (sc == null) return out
  if (sc.runAsNonRoot != null) out.runAsNonRoot = sc.runAsNonRoot
  if (sc.runAsUser != null) out.runAsUser = sc.runAsUser
  if (sc.runAsGroup != null) out.runAsGroup = sc.runAsGroup
  return out
}

const containerSecurityContext = (sc: SecurityContextRaw | null | undefined): ContainerSecurityContext => {
  const out: ContainerSecurityContext = {
    ...podSecurityContext(sc),
    capabilities: { add: strings(sc?.capabilities?.add), drop: strings(sc?.capabilities?.drop) }
  }
  if (sc == null) return out
  if (sc.privileged != null) out.privileged = sc.privileged
  if (sc.allowPrivilegeEscalation != null) out.allowPrivilegeEscalation = sc.allowPrivilegeEscalation
  if (sc.readOnlyRootFilesystem != null) out.readOnlyRootFilesystem = sc.readOnlyRootFilesystem
  return out
}

const container = (c: typeof ContainerRaw.Type, type: ContainerType): NormalizedContainer => ({
  name: c.name,
  type,
  image: c.image ?? "",
  securityContext: containerSecurityContext(c.securityContext),
  resources: { limits: resourceList(c.resources?.limits), requests: resourceList(c.resources?.requests) },
  volumeMounts: (c.volumeMounts ?? []).map((m) => ({
    name: m.name,
    mountPath: m.mountPath,
    readOnly: m.readOnly ?? false
  }))
})

const volume = (v: Readonly<Record<string, unknown>>): NormalizedVolume => {
  const out: NormalizedVolume = { name: String(v.name) }
  for (const [key, source] of Object.entries(v)) {
    if (key === "name" || source === null || typeof source !== "object") continue
    const s = source as Record<string, unknown>
    if (key === "hostPath" && typeof s.path === "string") out.hostPath = { path: s.path }
    // Some volume sources (persistentVolumeClaim, csi, iscsi, ...) carry a `readOnly` flag.
    if (typeof s.readOnly === "boolean") out.readOnly = s.readOnly
  }
  return out
}

const podSpec = (spec: PodSpecRaw) => ({
  pod: {
    securityContext: podSecurityContext(spec.securityContext),
    hostNetwork: spec.hostNetwork ?? false,
    hostPID: spec.hostPID ?? false,
    hostIPC: spec.hostIPC ?? false,
    volumes: (spec.volumes ?? []).map(volume)
  },
  containers: [
    ...(spec.initContainers ?? []).map((c) => container(c, "init")),
    ...spec.containers.map((c) => container(c, "container")),
    ...(spec.ephemeralContainers ?? []).map((c) => container(c, "ephemeral"))
  ]
})

/**
 * Normalizes a Kubernetes Deployment, StatefulSet, DaemonSet (their pod template) or Pod into
 * `input.workload`. Labels and annotations are the object's own metadata.
 */
export const normalizeKubernetes = (object: unknown): Result.Result<NormalizedWorkload, NormalizeError> => {
  const kind = object !== null && typeof object === "object" ? (object as Record<string, unknown>).kind : undefined
  if (typeof kind !== "string" || !(supportedKubernetesKinds as ReadonlyArray<string>).includes(kind)) {
    return Result.fail(
      new NormalizeError({
        source: "kubernetes",
        message: `unsupported Kubernetes object kind ${JSON.stringify(kind ?? null)} (expected one of ${supportedKubernetesKinds.join(", ")})`
      })
    )
  }
  const decoded = decodeWorkload(object)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new NormalizeError({ source: "kubernetes", message: `invalid ${kind}: ${decoded.failure.message}` })
    )
  }
  const obj = decoded.success
  const spec = obj.kind === "Pod" ? obj.spec : obj.spec.template.spec
  const md = obj.metadata
  const name = md?.name ?? md?.generateName ?? ""
  if (name === "") {
    return Result.fail(
      new NormalizeError({ source: "kubernetes", message: `invalid ${kind}: metadata.name is required` })
    )
  }
  const workload: NormalizedWorkload = {
    platform: "kubernetes",
    kind: obj.kind,
    name,
    ...(md?.namespace != null ? { namespace: md.namespace } : {}),
    labels: stringMap(md?.labels),
    annotations: stringMap(md?.annotations),
    ...podSpec(spec)
  }
  return Result.succeed(workload)
}
