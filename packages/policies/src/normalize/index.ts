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
  switch (source.source) {
    case "kubernetes":
      return normalizeKubernetes(source.object)
    case "docker":
      return normalizeDocker(source.container, source.image)
    case "normalized":
      return normalizeNormalized(source.workload)
  }
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
): Result.Result<PolicyInput, NormalizeError> =>
  Result.map(normalizeWorkload(request.workload), (workload): PolicyInput => {
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
