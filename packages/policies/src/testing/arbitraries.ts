import type { ScanReport, WorkloadSource } from "@sluice/core"
import { Result } from "effect"
import fc from "fast-check"
import type { PolicyInput } from "../input.js"
import { buildPolicyInput } from "../normalize/index.js"

// fast-check arbitraries for policy inputs, biased towards the edges policies care about:
// root / non-root, missing limits, quantities in every unit (and around the default maxima),
// host paths (allowed, prefixes, traversal), capabilities, registries with ports, tags, digests.
// Values are well-typed for the API they mimic (normalization succeeds); the *content* is adversarial.

const rec = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T, required: Array<keyof T> = []) =>
  fc.record(model, { requiredKeys: required as Array<keyof T & string>, noNullPrototype: true }) as fc.Arbitrary<{
    [K in keyof T]?: T[K] extends fc.Arbitrary<infer U> ? U : never
  }>

const weighted = <T>(...entries: Array<[number, fc.Arbitrary<T>]>) =>
  fc.oneof(...entries.map(([weight, arbitrary]) => ({ weight, arbitrary })))

// ---------------------------------------------------------------------------------------------
// Quantities

const DECIMAL_SUFFIXES = ["", "k", "M", "G", "T", "P", "E"]
const BINARY_SUFFIXES = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]

/** A syntactically valid Kubernetes quantity with any suffix (including `m`) or exponent. */
export const anyQuantity: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      fc.nat({ max: 4096 }).map(String),
      fc.tuple(fc.nat({ max: 64 }), fc.nat({ max: 999 })).map(([a, b]) => `${a}.${b}`)
    ),
    fc.oneof(
      fc.constantFrom("m", ...DECIMAL_SUFFIXES, ...BINARY_SUFFIXES),
      fc.integer({ min: -3, max: 12 }).map((e) => `e${e}`),
      fc.integer({ min: 0, max: 9 }).map((e) => `E${e}`)
    )
  )
  .map(([n, s]) => `${n}${s}`)

/** Strings that are not quantities (policies must not crash on them, and must agree). */
export const invalidQuantity: fc.Arbitrary<string> = fc.constantFrom(
  "",
  "abc",
  "-1",
  "1.5.5",
  "2 Gi",
  "Gi",
  "1gb",
  "0x10",
  "∞",
  "1e",
  "+-1"
)

/** CPU limits/requests: around the default max (2 cores) in every notation, YAML numbers included. */
export const cpuQuantity: fc.Arbitrary<string | number> = weighted<string | number>(
  [
    5,
    fc.constantFrom(
      "100m",
      "250m",
      "500m",
      "1",
      "1.5",
      "2",
      "2000m",
      "2001m",
      "1999m",
      "2.001",
      "3",
      "0.001",
      "0",
      "0.5",
      "4",
      "1000m",
      "2e0",
      "20e-1"
    )
  ],
  [2, fc.constantFrom<string | number>(1, 0.5, 2, 2.5, 0)],
  [2, anyQuantity],
  [1, invalidQuantity]
)

/** Memory limits/requests: around the default max (2Gi) in every unit, YAML numbers included. */
export const memoryQuantity: fc.Arbitrary<string | number> = weighted<string | number>(
  [
    5,
    fc.constantFrom(
      "64Mi",
      "128Mi",
      "256Mi",
      "512Mi",
      "1Gi",
      "2Gi",
      "2048Mi",
      "2049Mi",
      "2147483648",
      "2147483649",
      "2G",
      "2147484k",
      "2.5Gi",
      "1.5Gi",
      "0.5Gi",
      "1e9",
      "2e9",
      "3Gi",
      "1Ti",
      "1Ki",
      "512M",
      "1000000k",
      "0",
      "1E",
      "1P",
      "100m",
      "2097152Ki",
      "2097153Ki"
    )
  ],
  [2, fc.constantFrom<string | number>(1073741824, 2147483648, 2147483649, 536870912, 1e9)],
  [2, anyQuantity],
  [1, invalidQuantity]
)

// ---------------------------------------------------------------------------------------------
// Images

const HEX = "0123456789abcdef"
const digest = fc
  .array(fc.constantFrom(...HEX.split("")), { minLength: 64, maxLength: 64 })
  .map((cs) => `sha256:${cs.join("")}`)

export const registry: fc.Arbitrary<string> = fc.constantFrom(
  "registry.sluice.dev/",
  "localhost:5000/",
  "127.0.0.1:5000/",
  "registry.sluice.dev:443/",
  "registry.sluice.dev.evil.com/",
  "localhost:5001/",
  "docker.io/",
  "quay.io/",
  "ghcr.io/",
  "evil.example.com/",
  "REGISTRY.SLUICE.DEV/",
  ""
)

/** Image references: allowed and foreign registries (ports, look-alikes), tags (latest, none), digests. */
export const imageRef: fc.Arbitrary<string> = fc
  .tuple(
    registry,
    fc.constantFrom("agent", "agents/fleet-agent", "library/busybox", "busybox", "a/b/c", "sensor"),
    fc.constantFrom(":latest", ":1.2.3", ":v1", "", ":LATEST", ":latest-alpine", ":4.2.0-rc.1"),
    weighted<string>([3, fc.constant("")], [2, digest.map((d) => `@${d}`)], [1, fc.constant("@sha256:abc")])
  )
  .map(([r, p, t, d]) => `${r}${p}${t}${d}`)

// ---------------------------------------------------------------------------------------------
// Kubernetes

const capability = fc.constantFrom(
  "NET_BIND_SERVICE",
  "SYS_ADMIN",
  "NET_ADMIN",
  "ALL",
  "all",
  "CHOWN",
  "SYS_PTRACE",
  "CAP_SYS_ADMIN",
  "CAP_NET_BIND_SERVICE",
  "net_bind_service",
  "SYS_TIME"
)
const capabilityList = fc.uniqueArray(capability, { maxLength: 3 })

const uid = weighted<number>(
  [3, fc.constantFrom(0, 1000, 65532, 65534, 1)],
  [1, fc.integer({ min: 0, max: 2 ** 31 - 1 })]
)

export const podSecurityContext = rec({
  runAsNonRoot: fc.boolean(),
  runAsUser: uid,
  runAsGroup: uid
})

export const containerSecurityContext = rec({
  runAsNonRoot: fc.boolean(),
  runAsUser: uid,
  runAsGroup: uid,
  privileged: fc.boolean(),
  allowPrivilegeEscalation: fc.boolean(),
  readOnlyRootFilesystem: fc.boolean(),
  capabilities: rec({ add: capabilityList, drop: capabilityList })
})

const resourceList = rec({ cpu: cpuQuantity, memory: memoryQuantity })
export const resources = rec({ limits: resourceList, requests: resourceList })

/** Host paths: the allowed ones, their children, look-alike prefixes, traversal, root, the Docker socket. */
export const hostPath: fc.Arbitrary<string> = fc.constantFrom(
  "/var/log",
  "/var/log/",
  "/var/log/pods",
  "/var/logs",
  "/var/log/../../etc",
  "/proc",
  "/proc/sys",
  "/proc/",
  "/",
  "/var/run/docker.sock",
  "/run/containerd/containerd.sock",
  "/etc",
  "/sys",
  "/var/lib/kubelet",
  "//var/log"
)

const volumeSource: fc.Arbitrary<Record<string, unknown>> = weighted<Record<string, unknown>>(
  [
    3,
    fc.record({ hostPath: rec({ path: hostPath, type: fc.constantFrom("Directory", "File", "Socket", "") }, ["path"]) })
  ],
  [1, fc.constant({ emptyDir: {} })],
  [1, fc.record({ configMap: fc.record({ name: fc.constant("config") }) })],
  [
    1,
    fc.record({ persistentVolumeClaim: rec({ claimName: fc.constant("data"), readOnly: fc.boolean() }, ["claimName"]) })
  ]
)

const CONTAINER_NAMES = ["agent", "sidecar", "exporter", "config-init", "debug"]

type Volume = { name: string } & Record<string, unknown>

const kubernetesContainer = (volumeNames: ReadonlyArray<string>, ephemeral: boolean) =>
  rec(
    {
      name: fc.constantFrom(...CONTAINER_NAMES),
      image: imageRef,
      securityContext: containerSecurityContext,
      resources: ephemeral ? fc.constant({}) : resources,
      volumeMounts:
        volumeNames.length === 0
          ? fc.constant([])
          : fc.uniqueArray(fc.constantFrom(...volumeNames), { maxLength: volumeNames.length }).chain((names) =>
              fc.tuple(
                ...names.map((name) =>
                  rec(
                    {
                      name: fc.constant(name),
                      mountPath: fc.constantFrom("/data", "/host", "/var/log", "/proc"),
                      readOnly: fc.boolean()
                    },
                    ["name", "mountPath"]
                  )
                )
              )
            )
    },
    ["name", "image"]
  )

/** Container names must be unique in a pod: suffix them with their position. */
const uniqueNames = <C extends { name?: string }>(cs: ReadonlyArray<C>, offset: number) =>
  cs.map((c, i) => ({ ...c, name: `${c.name ?? "c"}-${offset + i}` }))

/** A Kubernetes `PodSpec` (core/v1) with init, regular and sometimes ephemeral containers. */
export const podSpec: fc.Arbitrary<Record<string, unknown>> = fc
  .uniqueArray(
    volumeSource.map((s) => s),
    { maxLength: 3 }
  )
  .map((sources) => sources.map((s, i): Volume => ({ name: `vol-${i}`, ...s })))
  .chain((volumes) => {
    const names = volumes.map((v) => v.name)
    return fc
      .record(
        {
          pod: rec({
            securityContext: podSecurityContext,
            hostNetwork: fc.boolean(),
            hostPID: fc.boolean(),
            hostIPC: fc.boolean()
          }),
          initContainers: fc.array(kubernetesContainer(names, false), { maxLength: 1 }),
          containers: fc.array(kubernetesContainer(names, false), { minLength: 1, maxLength: 3 }),
          ephemeralContainers: fc.array(kubernetesContainer([], true), { maxLength: 1 })
        },
        { noNullPrototype: true }
      )
      .map(({ pod, initContainers, containers, ephemeralContainers }) => {
        const spec: Record<string, unknown> = { ...pod }
        if (volumes.length > 0) spec.volumes = volumes
        if (initContainers.length > 0) spec.initContainers = uniqueNames(initContainers, 0)
        spec.containers = uniqueNames(containers, initContainers.length)
        if (ephemeralContainers.length > 0) {
          spec.ephemeralContainers = uniqueNames(ephemeralContainers, initContainers.length + containers.length)
        }
        return spec
      })
  })

const labels = fc.dictionary(
  fc.constantFrom("app", "app.kubernetes.io/name", "team", "sluice.dev/exempt", "tier"),
  fc.constantFrom("agent", "platform", "true", "edge", ""),
  { maxKeys: 3, noNullPrototype: true }
)

/** A pod template (`spec.template` of a Deployment, StatefulSet or DaemonSet). */
export const podTemplate = fc.record({ metadata: fc.record({ labels }), spec: podSpec }, { noNullPrototype: true })

export type KubernetesWorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet" | "Pod"

/** A Kubernetes workload object of the given kinds (default: all four). */
export const kubernetesWorkload = (
  kinds: ReadonlyArray<KubernetesWorkloadKind> = ["Deployment", "StatefulSet", "DaemonSet", "Pod"]
): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record(
      {
        kind: fc.constantFrom(...kinds),
        name: fc.constantFrom("agent", "log-shipper", "node-exporter", "sensor"),
        namespace: fc.option(fc.constantFrom("default", "fleet", "kube-system"), { nil: undefined }),
        labels,
        annotations: fc.dictionary(fc.constantFrom("sluice.dev/owner", "note"), fc.constantFrom("x", "platform"), {
          maxKeys: 2,
          noNullPrototype: true
        }),
        template: podTemplate
      },
      { noNullPrototype: true }
    )
    .map(({ kind, name, namespace, labels: l, annotations, template }) => {
      const metadata = { name, ...(namespace !== undefined ? { namespace } : {}), labels: l, annotations }
      return kind === "Pod"
        ? { apiVersion: "v1", kind, metadata, spec: template.spec }
        : {
            apiVersion: "apps/v1",
            kind,
            metadata,
            spec: { selector: { matchLabels: template.metadata.labels }, template }
          }
    })

// ---------------------------------------------------------------------------------------------
// Docker

/** `Config.User` values: empty, root by name / UID / UID:GID, non-root by UID or name. */
export const dockerUser: fc.Arbitrary<string> = fc.constantFrom(
  "",
  "",
  "root",
  "0",
  "0:0",
  "root:root",
  "1000",
  "1000:1000",
  "nobody",
  "65532:65532",
  "0:1000",
  "1000:0"
)

const bind = fc
  .tuple(
    weighted<string>([3, hostPath], [1, fc.constantFrom("named-volume", "cache")]),
    fc.constantFrom("/data", "/host", "/var/log"),
    fc.constantFrom("", ":ro", ":rw", ":ro,z", ":Z")
  )
  .map(([src, dst, opts]) => `${src}:${dst}${opts}`)

/** A Docker Engine API container inspect document. */
export const dockerContainer: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      name: fc.constantFrom("agent", "fleet-agent", "node-sensor"),
      image: imageRef,
      user: dockerUser,
      labels: fc.option(labels, { nil: null }),
      memory: fc.constantFrom(0, 0, 67108864, 536870912, 2147483648, 2147483649, 4294967296, 1),
      nanoCpus: fc.constantFrom(0, 0, 500000000, 1000000000, 2000000000, 2000000001, 2500000000, 1),
      cpuQuota: fc.constantFrom(0, 0, 50000, 200000, 250000, -1),
      cpuPeriod: fc.constantFrom(0, 100000, 50000),
      privileged: fc.boolean(),
      capAdd: fc.option(capabilityList, { nil: null }),
      capDrop: fc.option(capabilityList, { nil: null }),
      networkMode: fc.constantFrom("bridge", "host", "default", "none", "container:abc"),
      pidMode: fc.constantFrom("", "host", "container:abc"),
      ipcMode: fc.constantFrom("private", "host", "shareable", ""),
      securityOpt: fc.option(
        fc.uniqueArray(
          fc.constantFrom(
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges:false",
            "seccomp=unconfined",
            "label=disable"
          ),
          { maxLength: 2 }
        ),
        { nil: null }
      ),
      readonlyRootfs: fc.boolean(),
      binds: fc.option(fc.array(bind, { maxLength: 3 }), { nil: null }),
      runtimeMounts: fc.boolean()
    },
    { noNullPrototype: true }
  )
  .map((c) => {
    const binds = c.binds ?? []
    const mounts = binds.map((b) => {
      const [src = "", dst = "", opts = ""] = b.split(":")
      const rw = !opts.split(",").includes("ro")
      return src.startsWith("/")
        ? { Type: "bind", Source: src, Destination: dst, Mode: opts, RW: rw, Propagation: "rprivate" }
        : {
            Type: "volume",
            Name: src,
            Source: `/var/lib/docker/volumes/${src}/_data`,
            Destination: dst,
            Driver: "local",
            Mode: "z",
            RW: rw
          }
    })
    return {
      Id: "0123456789ab",
      Name: `/${c.name}`,
      Image: "sha256:0123",
      State: { Status: "running", Running: true },
      HostConfig: {
        Binds: c.binds,
        NetworkMode: c.networkMode,
        PidMode: c.pidMode,
        IpcMode: c.ipcMode,
        Privileged: c.privileged,
        CapAdd: c.capAdd,
        CapDrop: c.capDrop,
        SecurityOpt: c.securityOpt,
        ReadonlyRootfs: c.readonlyRootfs,
        Memory: c.memory,
        NanoCpus: c.nanoCpus,
        CpuQuota: c.cpuQuota,
        CpuPeriod: c.cpuPeriod
      },
      Mounts: c.runtimeMounts ? mounts : null,
      Config: { User: c.user, Image: c.image, Labels: c.labels }
    }
  })

/** A Docker image inspect document (what matters: `Config.User`). */
export const dockerImage: fc.Arbitrary<Record<string, unknown>> = dockerUser.map((User) => ({
  Id: "sha256:0123",
  RepoTags: [],
  Config: { User, Env: [], Labels: null }
}))

/** A Docker container with (usually) its image. */
export const dockerWorkload: fc.Arbitrary<{
  container: Record<string, unknown>
  image: Record<string, unknown> | undefined
}> = fc.record(
  { container: dockerContainer, image: fc.option(dockerImage, { nil: undefined }) },
  { noNullPrototype: true }
)

// ---------------------------------------------------------------------------------------------
// Trivy

export const severity = fc.constantFrom("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")

/** Vulnerability ids from a small pool, so generated exceptions can match them. */
export const vulnerabilityId = fc.constantFrom(
  "CVE-2024-9143",
  "CVE-2025-0001",
  "CVE-2023-44487",
  "GHSA-xxxx-yyyy-zzzz",
  "CVE-2024-3094"
)

const vulnerability = rec(
  {
    VulnerabilityID: vulnerabilityId,
    PkgName: fc.constantFrom("openssl", "busybox", "golang.org/x/net", "xz-utils"),
    InstalledVersion: fc.constantFrom("1.0.0", "3.3.2-r0", "v0.26.0"),
    FixedVersion: fc.constantFrom("1.0.1", "", "3.3.2-r1, 3.4.0"),
    Status: fc.constantFrom("fixed", "affected", "will_not_fix"),
    Severity: severity
  },
  ["VulnerabilityID", "PkgName", "InstalledVersion", "Severity"]
)

/** A Trivy SchemaVersion 2 report for `image`: `Results` and `Vulnerabilities` may be absent. */
export const trivyReport = (image: fc.Arbitrary<string> = imageRef): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record(
      {
        image,
        results: fc.option(
          fc.array(
            rec(
              {
                Target: fc.constantFrom("image (alpine 3.20.3)", "usr/bin/agent"),
                Class: fc.constantFrom("os-pkgs", "lang-pkgs"),
                Type: fc.constantFrom("alpine", "gobinary", "debian"),
                Vulnerabilities: fc.array(vulnerability, { maxLength: 4 })
              },
              ["Target", "Class"]
            ),
            { maxLength: 2 }
          ),
          { nil: undefined }
        )
      },
      { noNullPrototype: true }
    )
    .map(({ image: artifact, results }) => ({
      SchemaVersion: 2,
      CreatedAt: "2026-11-20T10:11:12Z",
      ArtifactName: artifact,
      ArtifactType: "container_image",
      Metadata: { RepoTags: [artifact] },
      ...(results !== undefined ? { Results: results } : {})
    }))

const toScanReport = (raw: Record<string, unknown>): ScanReport => ({
  image: String(raw.ArtifactName),
  digests: [],
  findings: [],
  raw
})

// ---------------------------------------------------------------------------------------------
// Requests and full inputs

/** Evaluation times around today's exception expiries (2025–2028). */
export const evaluationTime: fc.Arbitrary<number> = fc.integer({
  min: Date.parse("2025-01-01T00:00:00Z"),
  max: Date.parse("2028-12-31T23:59:59Z")
})

/** A workload source: Kubernetes (any of the four kinds) or Docker (with or without image). */
export const workloadSource: fc.Arbitrary<WorkloadSource> = fc.oneof(
  kubernetesWorkload().map((object): WorkloadSource => ({ source: "kubernetes", object })),
  dockerWorkload.map(
    ({ container, image }): WorkloadSource =>
      image !== undefined ? { source: "docker", container, image } : { source: "docker", container }
  )
)

/** What the engine is asked: a workload and (usually) a scan report. */
export const policyRequest: fc.Arbitrary<{ workload: WorkloadSource; scan: ScanReport | undefined }> = fc.record(
  { workload: workloadSource, scan: fc.option(trivyReport().map(toScanReport), { nil: undefined, freq: 4 }) },
  { noNullPrototype: true }
)

/** A complete normalized policy `input` (workload + raw object + scan + now). */
export const policyInput: fc.Arbitrary<PolicyInput> = fc.tuple(policyRequest, evaluationTime).map(([request, now]) => {
  const input = buildPolicyInput(request, now)
  if (Result.isFailure(input))
    throw new Error(`arbitrary produced an input the normalizer rejects: ${input.failure.message}`)
  return input.success
})
