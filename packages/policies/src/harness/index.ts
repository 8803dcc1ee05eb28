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
} from "./cases.js"
export {
  type CoverageOptions,
  type CoverageReport,
  type FileCoverage,
  policyCoverageEffect,
  type RuleCoverage
} from "./coverage.js"
export {
  describeMutant,
  formatCaseResults,
  formatCaseResultsJUnit,
  formatCoverage,
  formatDecision,
  formatLines,
  formatMutation,
  type JUnitExtras
} from "./format.js"
export { applyMutant, generateMutants, type Mutant, type MutationOperator, sampleMutants } from "./mutants.js"
export {
  type BuildOutcome,
  listMutants,
  MutationError,
  type MutantResult,
  type MutantStatus,
  type MutationOptions,
  type MutationReport,
  runMutationEffect
} from "./mutate.js"
export {
  type ParsedRego,
  parseRego,
  type RegoTestOutcome,
  RegoToolError,
  regoSources,
  runOpa,
  runOpaRaw,
  runRegoTests
} from "./rego.js"
export {
  classifyInput,
  type HarnessInput,
  HarnessInputError,
  readDocument,
  readInputFile,
  readScanFile
} from "./inputs.js"
