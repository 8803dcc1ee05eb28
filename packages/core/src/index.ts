// The public API of @sluice/core: every name is listed here, from the module that defines it; no
// module or folder barrel is re-exported wholesale, so internals (the journal parser, the
// outstanding-command bookkeeping, atomic file writes, the machine's steps) stay private. A name
// added here is a contract for embedders and adapter authors; the consumer test in
// tests/packaging installs the packed package and compiles against exactly this list.
// The simulated fleet is `@sluice/core/testing`.

// The rollout spec: decoding never throws; a SpecError lists every problem with its path.
export { decodeRolloutSpec, decodeRolloutSpecEffect, encodeRolloutSpec } from "./spec/decode.js"
export {
  type OverlayOptions,
  type ParseRolloutSpecOptions,
  parseRolloutSpec,
  parseRolloutSpecEffect,
  type SpecFormat,
  type ValuesSource
} from "./spec/parse.js"
export {
  type AnalysisTemplate,
  API_VERSION,
  type ArtifactConfig,
  type ArtifactSpec,
  type BlueGreenStrategy,
  type CanaryStep,
  type CanaryStrategy,
  type ConcurrencySpec,
  type Gates,
  type HealthSpec,
  type ManualApproval,
  type Metadata,
  type PartitionStrategy,
  type RecreateStrategy,
  type RollbackSpec,
  type RollingStrategy,
  type RolloutSpec,
  type RolloutSpecEncoded,
  RolloutSpecSchema,
  type Strategy,
  type StrategyKind,
  type TargetSpec,
  type Topology,
  type TopologyOrder
} from "./spec/Rollout.js"
export type { CountOrPercent } from "./spec/CountOrPercent.js"
export { formatSpecProblem, issueToProblems, SpecError, SpecProblem } from "./spec/SpecError.js"
export { formatDuration, parseDuration } from "./spec/Duration.js"
export {
  canonicalImage,
  DEFAULT_REGISTRY,
  formatImageRef,
  type ImageRef,
  ImageRefError,
  imageName,
  imageRepository,
  imageVersion,
  isSameImage,
  parseImageRef
} from "./spec/ImageRef.js"

// The planner: pure and deterministic.
export type { AnalysisRef, Inventory, InventoryItem, Plan, Wave, WaveKind, WavePause } from "./plan/Plan.js"
export { artifactConfigHash, planWaves } from "./plan/planWaves.js"
export { planToJson } from "./plan/format.js"

// Targets and the services adapters and policy engines implement.
export { Revision, Target, type WorkloadSource } from "./domain/Target.js"
export { containersForImage, withImage } from "./domain/render.js"
export {
  type AdapterCapabilities,
  AdapterError,
  type ApplyContext,
  type Artifact,
  type ConcludeContext,
  type HealthOptions,
  type HealthReport,
  type HealthStatus,
  type ProbeSpec,
  type ResolveDigestContext,
  type ResolvedDigest,
  type RollbackContext,
  TargetAdapter,
  type TargetAdapterShape,
  type TargetState
} from "./adapter/TargetAdapter.js"
export { type AnalysisScope, MetricsError, MetricsProvider } from "./adapter/MetricsProvider.js"
// The registry reader (Distribution API) the adapters and the signature verifier share.
export {
  credentialsFromDockerConfig,
  type ImageConfig,
  imageConfig,
  isLocalRegistry,
  MANIFEST_ACCEPT,
  type ManifestDigest,
  manifestDigest,
  openRepository,
  RegistryCredentials,
  RegistryError,
  type RegistryOptions,
  type RepositoryReader,
  registryConfigKeys
} from "./registry/Registry.js"
export { PrometheusMetrics, type PrometheusOptions } from "./adapter/PrometheusMetrics.js"
// Analysis: Argo-style measurement limits and the canary judge (pure), and the verdicts journaled.
export * from "./analysis/judge/index.js"
export * from "./analysis/run.js"
export { AnalysisVerdict, JudgementVerdict, MetricVerdict } from "./analysis/verdict.js"
export {
  PolicyDecision,
  PolicyEngine,
  type PolicyEngineShape,
  PolicyGate,
  type PolicyParams,
  type PolicyRequest,
  policyGates,
  type ScanFinding,
  type ScanReport,
  ScanReportSource,
  type ScanReportSourceShape,
  Violation,
  violationFields
} from "./policy/PolicyEngine.js"
export {
  CertificateSigner,
  type KeylessIdentity,
  KeySigner,
  SignatureError,
  type SignatureKeylessTrust,
  type SignatureKeyTrust,
  type SignatureRequest,
  type SignatureTrust,
  SignatureVerdict,
  SignatureVerifier,
  type SignatureVerifierShape,
  Signer
} from "./policy/SignatureVerifier.js"

// Running a rollout (interpreter, machine, run).
export {
  discoverInventory,
  type InterpreterError,
  inspectRollout,
  resumeRollout,
  RolloutError,
  type RolloutResult,
  type StartOptions,
  startRollout
} from "./interpreter/Interpreter.js"
export type {
  AnalysisArgConfig,
  AnalysisConfig,
  ArtifactDigest,
  JudgeConfig,
  RolloutConfig
} from "./interpreter/RolloutConfig.js"
export type { DeniedTarget, Outcome, RolloutContext } from "./machine/types.js"
export { countsOf, progressOf, type RolloutProgress } from "./machine/progress.js"
export { type ConfigFromSpecOptions, configFromSpec } from "./run/fromSpec.js"
export { createRollback, type RollbackOptions, rollbackRollout } from "./run/rollback.js"

// Sluice's own metrics (Effect Metric; render with PrometheusMetrics.format from effect/observability).
export { makeRolloutMetrics, RolloutMetrics, type RolloutMetricsShape } from "./telemetry/RolloutMetrics.js"
// CDEvents (service.upgraded / service.rolledback as CloudEvents) to a webhook.
export {
  CDEVENTS_SPEC_VERSION,
  type CDEventsOptions,
  cdEventFor,
  cdEventsLayer,
  makeCDEventsSink,
  ociPurl,
  SERVICE_ROLLEDBACK,
  SERVICE_UPGRADED
} from "./events/CDEvents.js"
// Sluice's spans (Effect's Tracer) and the OTLP/HTTP exporter for them.
export {
  otlpTracesUrl,
  otlpTracingLayer,
  type OtlpTracingOptions,
  TARGET_SPAN_LIMIT
} from "./telemetry/RolloutTracing.js"

// Events.
export {
  decodeRolloutEvent,
  EVENT_VERSION,
  EventSink,
  GateViolation,
  makeRolloutEvent,
  RolloutEvent,
  type RolloutEventBody,
  type RolloutEventType
} from "./events/RolloutEvent.js"

// The store: the write-ahead journal, the single-writer lease, the control inbox.
export {
  type ControlRequest,
  type ControlSignal,
  type JournalEntry,
  type JournalSnapshot,
  pendingInOrder,
  type RolloutHeader,
  RolloutLocked,
  RolloutNotFound,
  RolloutStore,
  type RolloutStoreShape,
  type StoredRollout,
  StoreError
} from "./store/RolloutStore.js"
export {
  FileStore,
  FileStoreLayer,
  type FileStoreOptions,
  makeFileStore
} from "./store/FileStore.js"
// The lease the file store uses, for other single-writer files (the CLI's simulated fleet).
export {
  type FileLock,
  type FileLockOptions,
  type Lease,
  LockFailed,
  LockHeld,
  LockLost,
  type LockState,
  makeFileLock
} from "./store/FileLock.js"
export { MemoryStoreLayer, makeMemoryStore } from "./store/MemoryStore.js"
/** The decoders a store kept elsewhere (the Kubernetes store) checks what it reads with. */
export { StoredRolloutCodec } from "./store/StoredFiles.js"

// Shared helpers.
export { didYouMean, editDistance } from "./util/didYouMean.js"
export { CanonicalJsonError, canonicalJson, canonicalJsonResult } from "./util/canonicalJson.js"
export { sha256Hex, sha256OfJson } from "./util/hash.js"
export { type DeepMergeOptions, deepMerge } from "./util/deepMerge.js"
export {
  readTar,
  readTarEffect,
  type TarError,
  type TarFile,
  type TarFileInput,
  writeTar,
  writeTarEffect
} from "./util/tar.js"
