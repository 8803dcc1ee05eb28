import * as fs from "node:fs"
import * as path from "node:path"
import type { PolicyEngine, RolloutSpec, ScanReportSource, SignatureVerifier } from "@sluice/core"
import { Layer } from "effect"
import { signatureLayer } from "./signature.js"

/**
 * The policy, scan and signature gates' services for a spec: the built-in bundle (fail closed when
 * it is missing) plus the spec's own bundles, a Trivy report directory for the scan gate, and the
 * cosign verifier for the signature gate. The one place that knows `@sluice/policies`; loaded
 * lazily so commands that need no gate stay fast.
 */
export const gateLayer = async (
  spec: RolloutSpec
): Promise<Layer.Layer<PolicyEngine | ScanReportSource | SignatureVerifier> | Layer.Layer<never>> => {
  const { policy, scan } = spec.spec.gates
  const signatures = (await signatureLayer(spec)) ?? Layer.empty
  if (!policy.enabled && !scan.enabled) return signatures
  const policies = await import("@sluice/policies")
  // spec.gates.policy.data (with --policy-data) is merged over every bundle's data, as
  // `policy eval --data` does. The spec's scan waiver and Pod Security profiles are not data: the
  // engine hands them to the policies with every evaluation (RolloutConfig.gates.params), so an
  // embedder gets them too.
  const data = policy.data === undefined ? {} : { data: policy.data }
  const sources = [
    { path: policies.builtinBundleDir, name: "sluice", ...data },
    ...(policy.bundles ?? []).map((p) => ({ path: p, ...data }))
  ]
  const engine = policies.PolicyEngineLive.layerFromBundles(
    sources,
    policy.evaluationTimeout === undefined ? {} : { evaluationTimeoutMs: policy.evaluationTimeout }
  )
  const reports =
    scan.enabled && scan.reportsDir !== undefined ? policies.TrivyReportDirectory.layer(scan.reportsDir) : Layer.empty
  return Layer.mergeAll(engine, reports, signatures) as Layer.Layer<PolicyEngine | ScanReportSource | SignatureVerifier>
}

/** Whether the committed built-in bundle is there (the demo turns the gate off, and says so, when it is not). */
export const builtinBundleReady = async (): Promise<boolean> => {
  try {
    const policies = await import("@sluice/policies")
    return fs.existsSync(path.join(policies.builtinBundleDir, "policy.wasm"))
  } catch {
    return false
  }
}

/**
 * Makes the spec's file paths (policy bundles, scan reports) absolute, relative to the spec
 * file's directory, so the journal header holds paths that work from any directory on resume.
 */
export const absolutePaths = (spec: RolloutSpec, baseDir: string): RolloutSpec => {
  const { gates } = spec.spec
  const abs = (p: string) => path.resolve(baseDir, p)
  return {
    ...spec,
    spec: {
      ...spec.spec,
      gates: {
        ...gates,
        policy: {
          ...gates.policy,
          ...(gates.policy.bundles === undefined ? {} : { bundles: gates.policy.bundles.map(abs) })
        },
        scan: {
          ...gates.scan,
          ...(gates.scan.reportsDir === undefined ? {} : { reportsDir: abs(gates.scan.reportsDir) })
        }
      }
    }
  }
}
