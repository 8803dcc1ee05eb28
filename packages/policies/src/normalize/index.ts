import type { PolicyRequest, ScanReport, WorkloadSource } from "@sluice/core"
import { Result, Schema } from "effect"
import { type NormalizedWorkload, NormalizedWorkloadSchema, type PolicyInput } from "../input.js"
import { NormalizeError } from "./common.js"
import { normalizeDocker } from "./docker.js"
import { normalizeKubernetes } from "./kubernetes.js"

export { NormalizeError } from "./common.js"
export { dockerCpuLimit, formatNanoCores, normalizeDocker } from "./docker.js"
export { normalizeKubernetes, supportedKubernetesKinds } from "./kubernetes.js"

const decodeNormalized = Schema.decodeUnknownResult(NormalizedWorkloadSchema, { errors: "all" })

/** Completes an already-normalized workload (missing collections/flags become empty/false). */
export const normalizeNormalized = (workload: unknown): Result.Result<NormalizedWorkload, NormalizeError> => {
  const decoded = decodeNormalized(workload)
  return Result.isFailure(decoded)
    ? Result.fail(
        new NormalizeError({ source: "normalized", message: `invalid normalized workload: ${decoded.failure.message}` })
      )
    : Result.succeed(decoded.success as NormalizedWorkload)
}

/** `input.workload` for any {@link WorkloadSource}. */
export const normalizeWorkload = (source: WorkloadSource): Result.Result<NormalizedWorkload, NormalizeError> => {
  // The type says which sources exist, but a source read from a file (`sluice policy eval`) or
  // built by an embedder is whatever it is: anything else is a NormalizeError, not a TypeError.
  const notASource = () =>
    Result.fail(
      new NormalizeError({
        source: "normalized",
        message: `not a workload source: expected {source: "kubernetes" | "docker" | "normalized", ...}, got ${describeSource(source)}`
      })
    )
  if (typeof source !== "object" || source === null) return notASource()
  switch (source.source) {
    case "kubernetes":
      return normalizeKubernetes(source.object)
    case "docker":
      return normalizeDocker(source.container, source.image)
    case "normalized":
      return normalizeNormalized(source.workload)
    default:
      return notASource()
  }
}

const describeSource = (source: unknown): string => {
  if (typeof source !== "object" || source === null) return String(source)
  if (Array.isArray(source)) return "a list"
  const tag = (source as { source?: unknown }).source
  return tag === undefined
    ? "an object without `source`"
    : `source ${typeof tag === "string" ? JSON.stringify(tag) : `of type ${typeof tag}`}`
}

/** A Trivy SchemaVersion 2 document for a {@link ScanReport} that carries no raw report. */
export const trivyDocumentFromFindings = (report: ScanReport): unknown => ({
  SchemaVersion: 2,
  ArtifactName: report.image,
  ArtifactType: "container_image",
  Results: [
    {
      Target: report.image,
      Class: "os-pkgs",
      Vulnerabilities: report.findings.map((f) => ({
        VulnerabilityID: f.id,
        PkgName: f.pkg,
        InstalledVersion: f.installedVersion,
        ...(f.fixedVersion !== undefined ? { FixedVersion: f.fixedVersion } : {}),
        Severity: f.severity
      }))
    }
  ]
})

/** RFC 3339 at second precision: `2026-11-21T00:00:00Z`. */
export const formatRfc3339 = (epochMillis: number): string =>
  new Date(Math.floor(epochMillis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** Builds the full policy `input` for a request evaluated at `epochMillis`. */
export const buildPolicyInput = (
  request: Pick<PolicyRequest, "workload" | "scan" | "params">,
  epochMillis: number
): Result.Result<PolicyInput, NormalizeError> => {
  const badNamespace = invalidNamespace(request.workload)
  if (badNamespace !== undefined)
    return Result.fail(new NormalizeError({ source: "kubernetes", message: badNamespace }))
  return Result.map(normalizeWorkload(request.workload), (workload): PolicyInput => {
    const src = request.workload
    // Key order is fixed (workload, kubernetes | docker, scan, params, now) so input hashes are stable.
    return {
      workload,
      ...(src.source === "kubernetes"
        ? {
            kubernetes:
              src.namespace !== undefined
                ? { object: src.object, namespace: { name: src.namespace.name, labels: src.namespace.labels } }
                : { object: src.object }
          }
        : {}),
      ...(src.source === "docker"
        ? {
            docker:
              src.image !== undefined ? { container: src.container, image: src.image } : { container: src.container }
          }
        : {}),
      ...(request.scan !== undefined ? { scan: request.scan.raw ?? trivyDocumentFromFindings(request.scan) } : {}),
      ...(request.params !== undefined ? { params: request.params } : {}),
      now: formatRfc3339(epochMillis)
    }
  })
}

/**
 * A Kubernetes source's `namespace` decides the Pod Security level enforced: anything but a name
 * and string labels is refused (fail closed), not read as "no namespace" (nor, for `null`, thrown).
 */
const invalidNamespace = (source: WorkloadSource): string | undefined => {
  if ((source as { source?: unknown } | null)?.source !== "kubernetes" || !("namespace" in source)) return undefined
  const ns: unknown = source.namespace
  if (ns === undefined) return undefined
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v)
  if (isRecord(ns) && typeof ns.name === "string" && isRecord(ns.labels)) {
    const labels = ns.labels
    const bad = Object.keys(labels).find((k) => typeof labels[k] !== "string")
    if (bad === undefined) return undefined
    return `invalid namespace: labels[${JSON.stringify(bad)}] must be a string`
  }
  return `invalid namespace: expected {name: string, labels: {string: string}}, got ${Array.isArray(ns) ? "a list" : ns === null ? "null" : typeof ns}`
}
