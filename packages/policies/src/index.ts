export * from "./input.js"
export {
  buildPolicyInput,
  dockerCpuLimit,
  formatNanoCores,
  formatRfc3339,
  NormalizeError,
  normalizeDocker,
  normalizeKubernetes,
  normalizeNormalized,
  normalizeWorkload,
  supportedKubernetesKinds,
  trivyDocumentFromFindings
} from "./normalize/index.js"
export {
  type BundleOptions,
  type BundleSource,
  builtinBundleDir,
  type LoadedBundle,
  loadBundle,
  mergeData
} from "./engine/bundle.js"
export { BundleLoadError } from "./engine/errors.js"
export {
  type BundleInfo,
  type EngineDecision,
  EngineRule,
  type EngineViolation,
  makeEvaluator,
  mergeDecisions,
  type PolicyEvaluator,
  type RequestEvaluation
} from "./engine/evaluator.js"
export {
  type DecisionLogEntry,
  type LivePolicyEngine,
  loadBundles,
  makePolicyEngine,
  PolicyDecisionLog,
  PolicyEngineLive,
  type PolicyEngineOptions
} from "./engine/PolicyEngineLive.js"
export { DEFAULT_ENTRYPOINT, DEFAULT_MEMORY, type MemoryLimits } from "./engine/wasm.js"
export { readTar, readTarGz } from "./engine/tar.js"
export {
  findTrivyReport,
  INVALID_REPORT_ID,
  invalidReport,
  parseTrivyReport,
  parseTrivyReportText,
  TrivyReport,
  TrivyReportDirectory,
  TrivyReportError,
  trivyReportFileName,
  TrivySeverity
} from "./scan/trivy.js"
export * from "./harness/index.js"
