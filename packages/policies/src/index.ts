// The public API of @sluice/policies: every name is listed (no module re-exported wholesale).
// The policy input every policy sees, whatever the adapter (see INPUT.md).
export {
  type ContainerSecurityContext,
  type ContainerType,
  type NormalizedContainer,
  type NormalizedVolume,
  type NormalizedVolumeMount,
  type NormalizedWorkload,
  NormalizedWorkloadSchema,
  type Platform,
  type PodSecurityContext,
  type PolicyInput,
  type ResourceList,
  type WorkloadKind
} from "./input.js"
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
  DEFAULT_EVALUATION_TIMEOUT_MS,
  DEFAULT_WORKER_START_TIMEOUT_MS,
  type EngineDecision,
  EngineRule,
  type EvaluatorOptions,
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
// The policy-author harness (`sluice policy test|eval`).
export {
  type CaseResult,
  type CasesReport,
  checkExpectations,
  evalPolicy,
  evalPolicyEffect,
  type EvalResult,
  expandBundlePaths,
  type HarnessOptions,
  loadEvaluator,
  PolicyCase,
  PolicyCasesError,
  PolicyCasesFile,
  readCasesFile,
  runPolicyCases,
  runPolicyCasesEffect
} from "./harness/cases.js"
export {
  type CoverageOptions,
  type CoverageReport,
  type FileCoverage,
  policyCoverageEffect,
  type RuleCoverage
} from "./harness/coverage.js"
export {
  describeMutant,
  formatCaseResults,
  formatCaseResultsJUnit,
  formatCoverage,
  formatDecision,
  formatLines,
  formatMutation,
  type JUnitExtras
} from "./harness/format.js"
export {
  applyMutant,
  generateMutants,
  type Mutant,
  type MutationOperator,
  sampleMutants
} from "./harness/mutants.js"
export {
  type BuildOutcome,
  listMutants,
  type MutantResult,
  type MutantStatus,
  MutationError,
  type MutationOptions,
  type MutationReport,
  runMutationEffect
} from "./harness/mutate.js"
export {
  type ParsedRego,
  parseRego,
  type RegoTestOutcome,
  RegoToolError,
  regoSources,
  runOpa,
  runOpaRaw,
  runRegoTests
} from "./harness/rego.js"
export {
  classifyInput,
  type HarnessInput,
  HarnessInputError,
  readDocument,
  readInputFile,
  readScanFile
} from "./harness/inputs.js"
// The signature gate's verifier: cosign signatures (by a key or a certificate identity) read from the image's registry.
export {
  COSIGN_SIGNATURE_ANNOTATION,
  CosignSignatureVerifier,
  type CosignVerifierOptions,
  keyFingerprint,
  makeCosignVerifier,
  type RegistryCredentials,
  SIMPLE_SIGNING_MEDIA_TYPE
} from "./signature/cosign.js"
