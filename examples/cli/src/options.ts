import type { OptionSpec } from "./args.js"

export const help: OptionSpec = { name: "help", short: "h", kind: "flag", description: "show this help" }
export const store: OptionSpec = {
  name: "store",
  kind: "string",
  value: "<dir>",
  description:
    "rollout store directory (default $SLUICE_STORE, else .sluice/rollouts), or\nkubernetes://<namespace>: the rollouts in the cluster's API (Lease-fenced,\n--kubeconfig/--context say which cluster)"
}
export const json: OptionSpec = { name: "json", kind: "flag", description: "machine-readable output (JSON)" }
export const jsonEvents: OptionSpec = {
  name: "json",
  kind: "flag",
  description: 'one JSON RolloutEvent per line, then one {"type":"result"} line'
}
export const plain: OptionSpec = {
  name: "plain",
  kind: "flag",
  description: "one line per event even on a terminal (no live view)"
}
export const verbose: OptionSpec = {
  name: "verbose",
  short: "v",
  kind: "flag",
  description: "also print per-target events (updating, health, retries)"
}
export const file: OptionSpec = {
  name: "filename",
  short: "f",
  kind: "string",
  value: "<file>",
  description: "the Rollout spec (YAML or JSON); - reads stdin"
}
export const values: OptionSpec = {
  name: "values",
  kind: "list",
  value: "<file>",
  description: "a values file deep-merged over the spec (repeatable, in order)"
}
export const set: OptionSpec = {
  name: "set",
  kind: "list",
  value: "<path=value>",
  description: "set one field after the values, e.g. spec.strategy.rolling.batchSize=25%\n(repeatable)"
}
export const policy: OptionSpec = {
  name: "policy",
  kind: "list",
  value: "<bundle>",
  description:
    "an OPA Wasm bundle (.tar.gz or directory) that gates the rollout beside the\nbuilt-in one; turns the policy gate on (repeatable)"
}
export const policyData: OptionSpec = {
  name: "policy-data",
  kind: "string",
  value: "<file>",
  description:
    "policy data (YAML/JSON) deep-merged over spec.gates.policy.data, as policy eval --data;\nthe built-in parameters (sluice.params) are decoded strictly"
}
export const adapter: OptionSpec = {
  name: "adapter",
  kind: "string",
  value: "<name>",
  description: "simulated (default) | docker | kubernetes; overrides spec.target.adapter"
}
export const adapterConfig: OptionSpec = {
  name: "adapter-config",
  kind: "string",
  value: "<file>",
  description:
    "the adapter's own configuration (YAML/JSON): Docker hosts and registries;\nfor kubernetes { kubeconfig, context, inCluster, fieldManager,\nobserveTimeoutSeconds, clusters: [{ name, kubeconfig, context }] }\n(unknown keys are errors)"
}
export const kubeconfig: OptionSpec = {
  name: "kubeconfig",
  kind: "string",
  value: "<file>",
  description:
    "kubernetes (adapter or store): the kubeconfig file (relative to the current directory; default\n$KUBECONFIG, else ~/.kube/config, else the pod's service account)"
}
export const context: OptionSpec = {
  name: "context",
  kind: "string",
  value: "<name>",
  description: "kubernetes: the kubeconfig context (default: its current context)"
}
export const fleetSize: OptionSpec = {
  name: "fleet-size",
  kind: "string",
  value: "<n>",
  description: "simulated: number of targets when the fleet is created (default 500)"
}
export const zones: OptionSpec = {
  name: "zones",
  kind: "string",
  value: "<a,b,c|n>",
  description: "simulated: zone names, or a count (default 3: zone-a, zone-b, zone-c)"
}
export const seed: OptionSpec = {
  name: "seed",
  kind: "string",
  value: "<n>",
  description: "simulated: random seed of the fleet (default 1)"
}
export const fleetImage: OptionSpec = {
  name: "fleet-image",
  kind: "string",
  value: "<image>",
  description: "simulated: what a new fleet runs (default registry.sluice.dev/agents/node-agent:1.0.0)"
}
export const resetFleet: OptionSpec = {
  name: "reset-fleet",
  kind: "flag",
  description: "simulated: discard the stored simulated fleet and create a new one"
}
export const faults: OptionSpec = {
  name: "faults",
  kind: "string",
  value: "<list>",
  description: "simulated: fault injection, e.g. transient=0.05,never-healthy=:2.1.0 (see below)"
}
export const applyLatency: OptionSpec = {
  name: "apply-latency",
  kind: "string",
  value: "<min..max>",
  description: "simulated: time an update takes (default 20ms..80ms)"
}
export const readyLatency: OptionSpec = {
  name: "ready-latency",
  kind: "string",
  value: "<min..max>",
  description: "simulated: time until a started agent is ready (default 50ms..250ms)"
}
export const allowEmpty: OptionSpec = {
  name: "allow-empty",
  kind: "flag",
  description:
    "go on (with a warning) when spec.target.selector matches no target, or a\n--faults item names a target the simulated fleet does not have (else exit 64)"
}
export const metricsPort: OptionSpec = {
  name: "metrics-port",
  kind: "string",
  value: "<[host:]port>",
  description:
    "serve Sluice's own metrics (Prometheus text) at http://<host:port>/metrics while\nthe rollout runs (host default 127.0.0.1)"
}
export const otlpEndpoint: OptionSpec = {
  name: "otlp-endpoint",
  kind: "string",
  value: "<url>",
  description:
    "export the rollout's spans over OTLP/HTTP to this collector (e.g. Jaeger at\nhttp://127.0.0.1:4318; /v1/traces is appended); default $OTEL_EXPORTER_OTLP_ENDPOINT"
}
export const cdeventsUrl: OptionSpec = {
  name: "cdevents-url",
  kind: "string",
  value: "<url>",
  description:
    "POST a CDEvent (service.upgraded, or service.rolledback) as a CloudEvent to this\nwebhook when the rollout ends; a delivery failure is a warning, never the rollout's"
}
export const id: OptionSpec = {
  name: "id",
  kind: "string",
  value: "<rollout-id>",
  description: "the rollout id (default <metadata.name>-<yyyymmdd-hhmmss>-<random>)"
}

/** How to reach the adapter's targets: --adapter-config, and the kubernetes connection. */
export const connection = [adapterConfig, kubeconfig, context] as const
export const simulatedFleet = [fleetSize, zones, seed, fleetImage] as const
export const simulatedRun = [faults, applyLatency, readyLatency] as const
export const logFormat: OptionSpec = {
  name: "log-format",
  kind: "string",
  value: "<text|json>",
  description:
    "log lines on stderr: text, or json (one object per line with level, timestamp,\nrolloutId and wave annotations, for ELK or Loki); giving it (or --log-level)\nalso logs the rollout's own lines, which the progress view otherwise shows"
}
export const logLevel: OptionSpec = {
  name: "log-level",
  kind: "string",
  value: "<level>",
  description: "error, warn (default), info or debug (debug: every wave boundary and pause)"
}
export const output = [jsonEvents, plain, verbose, logFormat, logLevel] as const
