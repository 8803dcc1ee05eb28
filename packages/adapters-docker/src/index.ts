export {
  ASIDE_MARK,
  DockerAdapter,
  type DockerAdapterShape,
  DockerConfigError,
  type HealthOptions,
  type SpecProbe,
  specProbe,
  type DockerRevisionData,
  makeDockerAdapter,
  rolloutKey,
  TEMP_MARK
} from "./DockerAdapter.js"
export {
  DockerAdapterConfig,
  type DockerAdapterConfigInput,
  DockerSelector,
  HealthConfig,
  HostConfig,
  Probe,
  PullPolicy,
  RegistryCredentials,
  TlsConfig
} from "./config.js"
export { Engine } from "./engine.js"
export { SecretScrubber } from "./errors.js"
export { parseImageRef, type ParsedImageRef } from "./imageRef.js"
export { buildCreateRequest, type CreateSpec, extractCreateSpec, surgeConflict } from "./recreate.js"
