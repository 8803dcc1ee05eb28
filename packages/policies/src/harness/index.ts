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
export { formatCaseResults, formatCaseResultsJUnit, formatDecision } from "./format.js"
export {
  classifyInput,
  type HarnessInput,
  HarnessInputError,
  readDocument,
  readInputFile,
  readScanFile
} from "./inputs.js"
