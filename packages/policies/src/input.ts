import { Effect, Schema } from "effect"

/**
 * The normalized policy input (`input` in Rego). The Rego policies are written against exactly
 * this shape; `schema/input.schema.json` is its JSON Schema.
 */

export type Platform = "kubernetes" | "docker" | "simulated"
export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet" | "Pod" | "Container"
export type ContainerType = "container" | "init" | "ephemeral"

export interface PodSecurityContext {
  runAsNonRoot?: boolean
  runAsUser?: number
  runAsGroup?: number
}

export interface ContainerSecurityContext extends PodSecurityContext {
  privileged?: boolean
  allowPrivilegeEscalation?: boolean
  readOnlyRootFilesystem?: boolean
  capabilities: { add: Array<string>; drop: Array<string> }
}

export interface ResourceList {
  cpu?: string
  memory?: string
}

export interface NormalizedVolume {
  name: string
  hostPath?: { path: string }
  readOnly?: boolean
}

export interface NormalizedVolumeMount {
  name: string
  mountPath: string
  readOnly: boolean
}

export interface NormalizedContainer {
  name: string
  type: ContainerType
  image: string
  /** Docker only: the effective `Config.User` (container's, else the image's). */
  user?: string
  securityContext: ContainerSecurityContext
  resources: { limits: ResourceList; requests: ResourceList }
  volumeMounts: Array<NormalizedVolumeMount>
}

export interface NormalizedWorkload {
  platform: Platform
  kind: WorkloadKind
  name: string
  namespace?: string
  labels: Record<string, string>
  annotations: Record<string, string>
  pod: {
    securityContext: PodSecurityContext
    hostNetwork: boolean
    hostPID: boolean
    hostIPC: boolean
    volumes: Array<NormalizedVolume>
  }
  containers: Array<NormalizedContainer>
}

export interface PolicyInput {
  workload: NormalizedWorkload
  kubernetes?: {
    object: unknown
    /** The target namespace and its labels, when the adapter read them (Pod Security levels). */
    namespace?: { name: string; labels: Readonly<Record<string, string>> }
  }
  docker?: { container: unknown; image?: unknown }
  /** The raw Trivy (SchemaVersion 2) report; absent when there is no report. */
  scan?: unknown
  /**
   * The rollout spec's settings for the policies (`PolicyParams`): they override
   * `data.sluice.params` key by key, so the spec decides whatever data the bundle carries.
   */
  params?: { podSecurity?: { profiles: ReadonlyArray<string> }; scan?: { waiveMissingReport: boolean } }
  /** RFC 3339 evaluation time, e.g. `2026-11-21T00:00:00Z`. */
  now: string
}

// ---------------------------------------------------------------------------------------------
// Schema for workloads that arrive already normalized (`{source: "normalized"}`, e.g. from the
// simulated fleet). Missing collections and flags are filled in, so policies can rely on the shape.

const emptyRecord = () => ({})
const StringRecord = Schema.Record(Schema.String, Schema.String)
const withDefault = <S extends Schema.Top>(schema: S, make: () => S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.sync(make)))

const PodSecurityContextFields = {
  runAsNonRoot: Schema.optionalKey(Schema.Boolean),
  runAsUser: Schema.optionalKey(Schema.Int),
  runAsGroup: Schema.optionalKey(Schema.Int)
}

const ContainerSecurityContextSchema = Schema.Struct({
  ...PodSecurityContextFields,
  privileged: Schema.optionalKey(Schema.Boolean),
  allowPrivilegeEscalation: Schema.optionalKey(Schema.Boolean),
  readOnlyRootFilesystem: Schema.optionalKey(Schema.Boolean),
  capabilities: withDefault(
    Schema.Struct({
      add: withDefault(Schema.Array(Schema.String), () => []),
      drop: withDefault(Schema.Array(Schema.String), () => [])
    }),
    () => ({ add: [], drop: [] })
  )
})

const ResourceListSchema = Schema.Struct({
  cpu: Schema.optionalKey(Schema.String),
  memory: Schema.optionalKey(Schema.String)
})

const NormalizedContainerSchema = Schema.Struct({
  name: Schema.String,
  type: withDefault(Schema.Literals(["container", "init", "ephemeral"]), () => "container" as const),
  image: Schema.String,
  user: Schema.optionalKey(Schema.String),
  securityContext: withDefault(ContainerSecurityContextSchema, () => ({ capabilities: { add: [], drop: [] } })),
  resources: withDefault(
    Schema.Struct({
      limits: withDefault(ResourceListSchema, () => ({})),
      requests: withDefault(ResourceListSchema, () => ({}))
    }),
    () => ({ limits: {}, requests: {} })
  ),
  volumeMounts: withDefault(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        mountPath: Schema.String,
        readOnly: withDefault(Schema.Boolean, () => false)
      })
    ),
    () => []
  )
})

/** Decodes (and completes) an already-normalized workload. */
export const NormalizedWorkloadSchema = Schema.Struct({
  platform: Schema.Literals(["kubernetes", "docker", "simulated"]),
  kind: Schema.Literals(["Deployment", "StatefulSet", "DaemonSet", "Pod", "Container"]),
  name: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  labels: withDefault(StringRecord, emptyRecord),
  annotations: withDefault(StringRecord, emptyRecord),
  pod: withDefault(
    Schema.Struct({
      securityContext: withDefault(Schema.Struct(PodSecurityContextFields), () => ({})),
      hostNetwork: withDefault(Schema.Boolean, () => false),
      hostPID: withDefault(Schema.Boolean, () => false),
      hostIPC: withDefault(Schema.Boolean, () => false),
      volumes: withDefault(
        Schema.Array(
          Schema.Struct({
            name: Schema.String,
            hostPath: Schema.optionalKey(Schema.Struct({ path: Schema.String })),
            readOnly: Schema.optionalKey(Schema.Boolean)
          })
        ),
        () => []
      )
    }),
    () => ({ securityContext: {}, hostNetwork: false, hostPID: false, hostIPC: false, volumes: [] })
  ),
  containers: Schema.Array(NormalizedContainerSchema)
})
