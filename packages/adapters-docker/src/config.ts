import { RegistryCredentials } from "@sluice/core"
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Labels = Schema.Record(Schema.String, Schema.String)

/**
 * TLS client material for a `tcp://` endpoint. Each value is either a path to a PEM file or the PEM
 * text itself (anything starting with `-----BEGIN`). The key is kept redacted.
 */
export const TlsConfig = Schema.Struct({
  ca: Schema.optionalKey(Schema.String),
  cert: Schema.String,
  key: Schema.RedactedFromValue(Schema.String),
  /** Check the server certificate's name against the endpoint host (default true). */
  verifyServerName: Schema.optionalKey(Schema.Boolean)
})
export type TlsConfig = typeof TlsConfig.Type

/** One Docker Engine. */
export const HostConfig = Schema.Struct({
  /** Unique name; part of every target id (`<host>/<container>`). */
  name: Schema.NonEmptyString.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)),
  /**
   * `unix:///var/run/docker.sock` or `tcp://host:2376`. Absent: the local engine (DOCKER_HOST if set,
   * else the default socket).
   */
  endpoint: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+\/?)$/))),
  /** Client certificates for a tcp endpoint (mutual TLS); without it a tcp endpoint is plain HTTP. */
  tls: Schema.optionalKey(TlsConfig),
  /** Topology labels (site, rack, ...) every target on this host carries; waves can spread over them. */
  labels: Schema.optionalKey(Labels),
  /**
   * Only containers carrying all these labels belong to this host entry. Lets one engine be split
   * into several groups (or stand in for several hosts in a test bed).
   */
  containerLabels: Schema.optionalKey(Labels)
})
export type HostConfig = typeof HostConfig.Type

/** Registry credentials (core's: user + password, or an identity token), as the Kubernetes adapter takes them too. */
export { RegistryCredentials }

export const HttpProbe = Schema.Struct({
  type: Schema.Literal("http"),
  /** Container port. */
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  path: Schema.optionalKey(Schema.String),
  scheme: Schema.optionalKey(Schema.Literals(["http", "https"])),
  /**
   * Where the probe connects: `auto` (default) = the published host port when the container port
   * is published, else the container's IP; `exec` = runs `wget` inside the container (needs wget
   * in the image), for engines whose container network the controller cannot reach.
   */
  via: Schema.optionalKey(Schema.Literals(["auto", "published", "container-ip", "exec"]))
})
export const TcpProbe = Schema.Struct({
  type: Schema.Literal("tcp"),
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  via: Schema.optionalKey(Schema.Literals(["auto", "published", "container-ip"]))
})
export const ExecProbe = Schema.Struct({
  type: Schema.Literal("exec"),
  command: Schema.NonEmptyArray(Schema.String)
})
export const ProbeAction = Schema.Union([HttpProbe, TcpProbe, ExecProbe])
export type ProbeAction = typeof ProbeAction.Type

/** A readiness probe, used when the container has no HEALTHCHECK of its own (or `useProbe` is set). */
export const Probe = Schema.Struct({
  action: ProbeAction,
  initialDelaySeconds: Schema.optionalKey(NonNegative),
  periodSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  timeoutSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  successThreshold: Schema.optionalKey(PositiveInt),
  failureThreshold: Schema.optionalKey(PositiveInt)
})
export type Probe = typeof Probe.Type

export const HealthConfig = Schema.Struct({
  probe: Schema.optionalKey(Probe),
  /** Use the probe even when the container has a HEALTHCHECK (default: HEALTHCHECK wins). */
  preferProbe: Schema.optionalKey(Schema.Boolean),
  /** A target is healthy only after it has been running and healthy for this long. */
  minReadySeconds: Schema.optionalKey(NonNegative)
})
export type HealthConfig = typeof HealthConfig.Type

/**
 * The adapter-specific selector of a rollout spec: which containers are targets, and how their
 * health is judged. At least one of `names` / `labels` is required.
 */
export const DockerSelector = Schema.Struct({
  /** Host names to search (default: every configured host). */
  hosts: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Only hosts whose labels include all of these. */
  hostLabels: Schema.optionalKey(Labels),
  /** Container names, exact or with `*` wildcards (`agent-*`). */
  names: Schema.optionalKey(Schema.NonEmptyArray(Schema.NonEmptyString)),
  /** Container labels that must all match (value `*` = present with any value). */
  labels: Schema.optionalKey(Labels),
  /** Also target stopped containers (default: running ones only). */
  includeStopped: Schema.optionalKey(Schema.Boolean),
  health: Schema.optionalKey(HealthConfig)
}).check(
  Schema.makeFilter((s) =>
    s.names === undefined && s.labels === undefined
      ? "a docker selector needs `names` or `labels` (or both)"
      : undefined
  )
)
export type DockerSelector = typeof DockerSelector.Type

export const PullPolicy = Schema.Literals(["Always", "IfNotPresent", "Never"])
export type PullPolicy = typeof PullPolicy.Type

/** The adapter's own configuration (given by the embedding program, not the rollout spec). */
export const DockerAdapterConfig = Schema.Struct({
  /** Engines to manage (default: one host named `local` on the local socket). */
  hosts: Schema.optionalKey(Schema.NonEmptyArray(HostConfig)),
  /**
   * `Always` pulls before every apply; `IfNotPresent` only when the engine lacks the image. Default
   * as Kubernetes: `Always` for `:latest` or untagged references, else `IfNotPresent`.
   */
  pullPolicy: Schema.optionalKey(PullPolicy),
  /** Credentials per registry host (`registry.example.com`, `localhost:5000`, `docker.io`). */
  registries: Schema.optionalKey(Schema.Record(Schema.String, RegistryCredentials)),
  /**
   * Docker's client config (auths, credHelpers, credsStore) for registries not in `registries`:
   * a path, or `false` to never read one. Default: `$DOCKER_CONFIG/config.json`, else
   * `~/.docker/config.json`, read only when a pull needs credentials.
   */
  dockerConfig: Schema.optionalKey(Schema.Union([Schema.String, Schema.Literal(false)])),
  /** Old containers kept (renamed aside, stopped) per target after a rollout completes (default 0). */
  keepOld: Schema.optionalKey(NonNegativeInt),
  /** Grace period for `docker stop` when the container sets none (default 10). */
  stopTimeoutSeconds: Schema.optionalKey(NonNegativeInt),
  /** Timeout of a single Engine API call, except pulls and stops (default 30). */
  apiTimeoutSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  /** Timeout of an image pull (default 600). */
  pullTimeoutSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  /** How long `rollback` waits for the restored container to be healthy (default 120). */
  rollbackHealthTimeoutSeconds: Schema.optionalKey(NonNegative),
  /** Health defaults, overridden per rollout by the selector's `health`. */
  health: Schema.optionalKey(HealthConfig)
})
export type DockerAdapterConfig = typeof DockerAdapterConfig.Type
export type DockerAdapterConfigInput = typeof DockerAdapterConfig.Encoded

/**
 * Decodes the adapter's configuration strictly, every problem at once: an unknown key is an error
 * with its path (a typo such as `endpont`, or `host`/`port` instead of `endpoint`, must not fall back
 * to the local engine).
 */
export const decodeDockerAdapterConfig = Schema.decodeUnknownResult(DockerAdapterConfig, {
  errors: "all",
  onExcessProperty: "error"
})
