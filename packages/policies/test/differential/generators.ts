import type { WorkloadSource } from "@sluice/core"
import { Result } from "effect"
import fc from "fast-check"
import { buildPolicyInput, type PolicyInput } from "../../src/index.js"
import { arbitraries as A } from "../../src/testing/index.js"

// Per-policy generators for the differential tests: a compliant baseline workload with only the
// dimension a policy looks at varied, so every policy is seen both allowing and denying.

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`
export const BASE_IMAGE = `registry.sluice.dev/agents/fleet-agent:4.2.0@${DIGEST}`

const cleanScan = (image: string) => ({
  SchemaVersion: 2,
  ArtifactName: image,
  ArtifactType: "container_image",
  Results: [{ Target: `${image} (alpine 3.20.3)`, Class: "os-pkgs", Type: "alpine" }]
})

const baseSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 10001,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] }
}

const baseResources = { limits: { cpu: "500m", memory: "256Mi" }, requests: { cpu: "100m", memory: "128Mi" } }

const baseContainer = (name: string, overrides: Record<string, unknown> = {}) => ({
  name,
  image: BASE_IMAGE,
  securityContext: baseSecurityContext,
  resources: baseResources,
  ...overrides
})

const deployment = (spec: Record<string, unknown>, kind = "Deployment") =>
  kind === "Pod"
    ? { apiVersion: "v1", kind, metadata: { name: "agent", namespace: "fleet" }, spec }
    : {
        apiVersion: "apps/v1",
        kind,
        metadata: { name: "agent", namespace: "fleet", labels: { app: "agent" } },
        spec: {
          selector: { matchLabels: { app: "agent" } },
          template: { metadata: { labels: { app: "agent" } }, spec }
        }
      }

const baseDocker = (host: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({
  Id: "0123456789ab",
  Name: "/fleet-agent",
  Image: "sha256:0123",
  HostConfig: {
    NetworkMode: "bridge",
    PidMode: "",
    IpcMode: "private",
    Privileged: false,
    CapAdd: null,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges:true"],
    ReadonlyRootfs: true,
    Memory: 268435456,
    NanoCpus: 500000000,
    Binds: null,
    ...host
  },
  Mounts: [],
  Config: { User: "10001:10001", Image: BASE_IMAGE, Labels: { app: "agent" }, ...config }
})

const kinds = fc.constantFrom("Deployment", "StatefulSet", "DaemonSet", "Pod")

const toInput = (workload: WorkloadSource, scan: unknown, now: number): PolicyInput => {
  const r = buildPolicyInput(
    { workload, scan: scan === undefined ? undefined : { image: "", digests: [], findings: [], raw: scan } },
    now
  )
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const NOW = Date.parse("2026-11-21T00:00:00Z")
const k8s = (object: unknown, scan: unknown = cleanScan(BASE_IMAGE), now = NOW) =>
  toInput({ source: "kubernetes", object }, scan, now)
const docker = (container: unknown, image?: unknown, scan: unknown = cleanScan(BASE_IMAGE), now = NOW) =>
  toInput(image === undefined ? { source: "docker", container } : { source: "docker", container, image }, scan, now)

const containerNames = (n: number) => Array.from({ length: n }, (_, i) => `c-${i}`)

/** non-root: pod/container runAsNonRoot/runAsUser; Docker container and image users. */
export const nonRoot: fc.Arbitrary<PolicyInput> = fc.oneof(
  fc
    .tuple(kinds, A.podSecurityContext, fc.array(A.podSecurityContext, { minLength: 1, maxLength: 3 }))
    .map(([kind, podSc, scs]) =>
      k8s(
        deployment(
          {
            securityContext: podSc,
            containers: containerNames(scs.length).map((name, i) =>
              baseContainer(name, {
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                  ...scs[i]
                }
              })
            )
          },
          kind
        )
      )
    ),
  fc
    .tuple(A.dockerUser, fc.option(A.dockerUser, { nil: undefined }))
    .map(([user, imageUser]) =>
      docker(baseDocker({}, { User: user }), imageUser === undefined ? undefined : { Config: { User: imageUser } })
    )
)

/** resource-limits: limits/requests in every unit for all container types; Docker memory/CPU. */
export const resourceLimits: fc.Arbitrary<PolicyInput> = fc.oneof(
  fc
    .tuple(
      kinds,
      fc.array(fc.tuple(fc.constantFrom("initContainers", "containers", "ephemeralContainers"), A.resources), {
        minLength: 1,
        maxLength: 3
      })
    )
    .map(([kind, cs]) => {
      const spec: Record<string, Array<unknown>> = { containers: [] }
      cs.forEach(([field, resources], i) => {
        const list = spec[field] ?? []
        list.push(baseContainer(`c-${i}`, { resources }))
        spec[field] = list
      })
      if (spec.containers?.length === 0) spec.containers = [baseContainer("main")]
      return k8s(deployment(spec, kind))
    }),
  fc
    .record({
      Memory: fc.constantFrom(0, 1, 67108864, 268435456, 2147483648, 2147483649, 4294967296),
      NanoCpus: fc.constantFrom(0, 1, 500000000, 2000000000, 2000000001, 3000000000),
      CpuQuota: fc.constantFrom(0, -1, 50000, 200000, 200001, 400000),
      CpuPeriod: fc.constantFrom(0, 100000, 50000)
    })
    .map((host) => docker(baseDocker(host)))
)

/** privileges: privileged, escalation, read-only root, capabilities, host namespaces, host paths. */
export const privileges: fc.Arbitrary<PolicyInput> = fc.oneof(
  fc
    .tuple(kinds, A.podSpec, fc.array(A.containerSecurityContext, { minLength: 1, maxLength: 3 }))
    .map(([kind, spec, scs]) => {
      // Keep the generated volumes, host namespaces and mounts; make everything else compliant.
      const generated = (spec.containers as Array<Record<string, unknown>>) ?? []
      const containers = containerNames(scs.length).map((name, i) =>
        baseContainer(name, {
          securityContext: { runAsNonRoot: true, runAsUser: 10001, ...scs[i] },
          volumeMounts: generated[i]?.volumeMounts ?? []
        })
      )
      const { initContainers: _i, ephemeralContainers: _e, ...pod } = spec
      return k8s(deployment({ ...pod, containers }, kind))
    }),
  A.dockerContainer.map((c) => {
    const hc = c.HostConfig as Record<string, unknown>
    return docker({
      ...c,
      HostConfig: { ...hc, Memory: 268435456, NanoCpus: 500000000 },
      Config: { User: "10001", Image: BASE_IMAGE, Labels: null }
    })
  })
)

/** image-provenance: registries (ports, look-alikes), tags, digests, per container. */
export const imageProvenance: fc.Arbitrary<PolicyInput> = fc.oneof(
  fc
    .tuple(kinds, fc.array(A.imageRef, { minLength: 1, maxLength: 3 }))
    .map(([kind, images]) =>
      k8s(
        deployment({ containers: images.map((image, i) => baseContainer(`c-${i}`, { image })) }, kind),
        cleanScan(images[0] ?? "")
      )
    ),
  A.imageRef.map((image) => docker(baseDocker({}, { Image: image }), undefined, cleanScan(image)))
)

/** Scan-gate data: a lower threshold, unfixed ignored, exceptions that expire around `now`. */
export const scanGateData = {
  sluice: {
    params: {
      scan: {
        severityThreshold: "MEDIUM",
        ignoreUnfixed: true,
        exceptions: [
          { id: "CVE-2024-9143", expires: "2026-06-30" },
          { id: "CVE-2025-0001", expires: "2027-01-01" },
          { id: "GHSA-xxxx-yyyy-zzzz", expires: "2025-12-31" }
        ]
      }
    }
  }
}

/** scan-gate: Trivy reports (absent, clean, vulnerable, odd), evaluated at times around expiries. */
export const scanGate: fc.Arbitrary<PolicyInput> = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: A.trivyReport(fc.constant(BASE_IMAGE)).map((r): unknown => r) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<unknown>(
          { SchemaVersion: 1, ArtifactName: BASE_IMAGE },
          { SchemaVersion: 2, ArtifactName: BASE_IMAGE, Results: null },
          null
        )
      }
    ),
    A.evaluationTime,
    fc.boolean()
  )
  .map(([scan, now, onDocker]) =>
    onDocker
      ? docker(baseDocker(), undefined, scan, now)
      : k8s(deployment({ containers: [baseContainer("agent")] }), scan, now)
  )

type Json = null | boolean | number | string | Array<Json> | { [k: string]: Json }

const paths = (value: Json, prefix: Array<string | number> = []): Array<Array<string | number>> => {
  const out: Array<Array<string | number>> = [prefix]
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])))
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]))
  return out
}

const REPLACEMENTS: ReadonlyArray<Json | "<delete>"> = [
  "<delete>",
  null,
  "",
  0,
  -1,
  1.5,
  true,
  false,
  [],
  {},
  "x",
  ["x"],
  { a: 1 },
  "0"
]

const setAt = (root: Json, path: ReadonlyArray<string | number>, value: Json | "<delete>"): Json => {
  if (path.length === 0) return value === "<delete>" ? null : value
  const clone: Json = Array.isArray(root) ? [...root] : root !== null && typeof root === "object" ? { ...root } : root
  const [head, ...rest] = path
  if (clone === null || typeof clone !== "object" || head === undefined) return clone
  const container = clone as Record<string | number, Json>
  if (rest.length === 0 && value === "<delete>") {
    if (Array.isArray(clone) && typeof head === "number") clone.splice(head, 1)
    else delete container[head]
  } else {
    container[head] = setAt(container[head] ?? null, rest, value)
  }
  return clone
}

/**
 * input-validation: complete inputs with up to three fields of `input.workload` deleted or
 * replaced by a value of the wrong type (the engine's normalizer never produces these, but a
 * policy author's inputs or a buggy adapter might).
 */
export const mutatedInput: fc.Arbitrary<unknown> = fc
  .tuple(A.policyInput, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...REPLACEMENTS)), { minLength: 1, maxLength: 3 }))
  .map(([input, edits]) => {
    let doc = JSON.parse(JSON.stringify(input)) as { [k: string]: Json }
    for (const [n, replacement] of edits) {
      const candidates = paths(doc.workload ?? null, ["workload"])
      const path = candidates[n % candidates.length] ?? ["workload"]
      doc = setAt(doc, path, replacement) as { [k: string]: Json }
    }
    return doc
  })
