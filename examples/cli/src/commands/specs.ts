/**
 * Every command's options and help, kept apart from the code that runs them so \`--help\` and
 * usage errors answer without loading the core.
 */
import type { CommandSpec } from "../args.js"
import { EXIT_CODES_HELP } from "../exitCodes.js"
import * as o from "../options.js"

export const FAULTS_HELP = `Faults (--faults), a comma-separated list of KIND=VALUE items:
  transient=<p>              each apply/rollback call fails transiently with probability p (0..1);
                             the interpreter retries it with backoff
  probe-errors=<p>           each health probe errors transiently with probability p
  permanent=<t>[+<t>…]       apply always fails (image pull refused) on these targets
  rollback-fails=<t>[+<t>…]  rollback always fails on these targets (rehearses exit 4)
  never-healthy=<v>[#<t>…]   targets on version v never become ready: the progress deadline fails the wave
  fail-after=<v>@<dur>[#<t>…]
                             targets on v turn unhealthy (crash loop) <dur> after they became ready
  flapping=<v>[#<t>…]        targets on v alternate healthy/unhealthy between probes
  root=<v>                   v runs as root (the built-in policy gate denies it)
  no-limits=<v>              v has no resource limits (the built-in policy gate denies it)
  error-rate=<v>@<r>         the simulated Prometheus reports error rate r (0..1) for targets on v
<v> is a tag written ":2.1.0" (any repository) or a full image "registry/repo:tag".
"#<t>+<t>…" limits a behaviour to the listed targets (a bug that only shows on some nodes);
other targets on that version are healthy. Durations: 500ms, 3s, 1m30s.
Example: --faults transient=0.05,never-healthy=:2.1.0,fail-after=:2.2.0@3s,permanent=node-007`

const takeoverOptions = [
  o.metricsPort,
  o.otlpEndpoint,
  o.cdeventsUrl,
  ...o.output,
  ...o.connection,
  ...o.simulatedRun,
  o.store,
  o.help
]
const timeout = {
  name: "timeout",
  kind: "string",
  value: "<duration>",
  description: "how long to wait for the running process to take the control (default 10s)"
} as const

const TAKEOVER = `If no live process runs the rollout (it crashed or was killed), this command continues it
here, from its journal, after queuing the control: no target is updated twice. The simulated
fleet continues with the faults and latencies the rollout was started with, unless given again;
a kubernetes rollout continues on the cluster it was started on (the kubeconfig path and context
stored with it; --kubeconfig, --context or --adapter-config replace them).`

const idArg = { name: "id", required: true, description: "the rollout id (see `sluice list`)" }

const data = {
  name: "data",
  kind: "string",
  value: "<file>",
  description: "JSON/YAML data deep-merged over the bundle's data (registries, thresholds, exceptions)"
} as const
const now = {
  name: "now",
  kind: "string",
  value: "<rfc3339>",
  description: "evaluation time (exceptions expire); default: the cases file's, else the clock"
} as const

const evaluationTimeout = {
  name: "timeout",
  kind: "string",
  value: "<duration>",
  description:
    'how long one evaluation may run (default 5s); an evaluation still running then is\nstopped and denies with engine/timeout (a policy can loop: opa\'s Wasm replace(s, "", x))'
} as const

const BUNDLE = `<bundle> is an OPA Wasm bundle: a .tar.gz from \`opa build -t wasm\`, a directory holding
policy.wasm (+ data.json), or "builtin" for Sluice's built-in bundle.`

export const planCommand: CommandSpec = {
  name: "plan",
  summary: "Show the waves a rollout would run, without touching anything.",
  positionals: [],
  options: [
    o.file,
    o.values,
    o.set,
    o.policyData,
    o.adapter,
    ...o.connection,
    ...o.simulatedFleet,
    { ...o.json, description: "the plan as stable JSON (same spec + fleet, same bytes)" },
    o.store,
    o.help
  ],
  details: `The inventory comes from the adapter: with --adapter simulated, the simulated fleet stored
next to the rollouts (or, before the first apply, the one --fleet-size/--zones/--seed would create);
with --adapter kubernetes, the workloads spec.target.selector names (a DaemonSet: one target per
node, labelled with the node's labels). Nothing is written: not the store, not the fleet, not the
cluster.`
}

export const applyCommand: CommandSpec = {
  name: "apply",
  summary: "Start a rollout from a spec and drive it to its outcome in this process.",
  positionals: [],
  options: [
    o.file,
    o.values,
    o.set,
    o.policy,
    o.policyData,
    o.id,
    o.adapter,
    ...o.connection,
    ...o.simulatedFleet,
    o.resetFleet,
    ...o.simulatedRun,
    o.allowEmpty,
    o.metricsPort,
    o.otlpEndpoint,
    o.cdeventsUrl,
    ...o.output,
    o.store,
    o.help
  ],
  details: `Progress: a live view on a terminal, one line per event otherwise (--plain), or JSON
events (--json). Ends with a summary: outcome, counts, duration, reason, gate violations per
target and container.

Another shell controls the running rollout through the store: sluice pause|resume|abort|
approve|promote <id>. If this process dies, \`sluice resume <id>\` continues the rollout from
its journal without updating any target twice.

The simulated fleet (--adapter simulated, the default) is stored in <store>/.simulated-fleet, so
later commands (apply of the next version, resume, rollback) see the fleet this one left.

A selector that matches no target is taken for a mistake: apply stops with exit 64 before the
rollout is stored, and so does a --faults item naming a target the simulated fleet does not have.
--allow-empty turns both into warnings (a rollout of no target completes at once).

Kubernetes (--adapter kubernetes, or spec.target.adapter: kubernetes): --kubeconfig <file>
[--context <name>], or --adapter-config <file> with { kubeconfig, context, inCluster,
fieldManager, observeTimeoutSeconds }. spec.target.selector: { namespace, kind: DaemonSet |
StatefulSet | Deployment, name | labelSelector, nodeSelector?, container?, configVolume? }.
A DaemonSet target is one node, with the node's labels: topology: { key:
topology.kubernetes.io/zone } spreads each wave over the zones, and order: sequential rolls
zone by zone. For the rollout the DaemonSet runs updateStrategy OnDelete (a wave deletes the
old pod on its nodes and waits until the new one is Ready); its own strategy comes back when the
rollout ends, whatever the outcome, unless that would let its controller update nodes the rollout
left alone (a nodeSelector, a failure with rollback off): then it stays OnDelete, and the summary
says why and how to finish. The least privileges it needs: examples/k8s/rbac.yaml.

${FAULTS_HELP}

${EXIT_CODES_HELP}`
}

export const statusCommand: CommandSpec = {
  name: "status",
  summary: "Show a rollout's state, wave, counts and outcome (the latest one when no id is given).",
  positionals: [{ name: "id", required: false, description: "the rollout id (default: the newest rollout)" }],
  options: [
    { ...o.json, description: "the status as one JSON object (`null` when the store has no rollout)" },
    {
      name: "watch",
      kind: "flag",
      description: "follow the rollout until it ends: redrawn in place on a terminal, a line per change otherwise"
    },
    {
      name: "wait",
      kind: "flag",
      description: "block until the rollout ends, then print its summary and exit with its outcome's code (for CI)"
    },
    {
      name: "timeout",
      kind: "string",
      value: "<duration>",
      description: "with --watch/--wait: give up after this long (exit 1; the rollout goes on)"
    },
    o.store,
    o.kubeconfig,
    o.context,
    o.help
  ],
  details: `--watch and --wait read the store, like every other command: they work from any shell,
whichever process runs the rollout, and change nothing. A rollout that no process runs (its
process died) does not end by itself: they say so once and keep waiting for a \`sluice resume\`
(bound the wait with --timeout). With --json, --watch prints one status object per change.

${EXIT_CODES_HELP}
  With --watch or --wait the code is the rollout's outcome's (the same as \`sluice apply\` would
  have returned); 1 when --timeout ran out first.`
}

export const listCommand: CommandSpec = {
  name: "list",
  summary: "List the rollouts in the store, newest first.",
  positionals: [],
  options: [{ ...o.json, description: "a JSON array of statuses" }, o.store, o.kubeconfig, o.context, o.help]
}

export const pauseCommand: CommandSpec = {
  name: "pause",
  summary: "Pause a running rollout: targets in flight finish, no new target starts.",
  positionals: [idArg],
  options: [timeout, o.store, o.kubeconfig, o.context, o.help],
  details: "The process running the rollout picks the control up through the store. `sluice resume <id>` continues."
}

export const resumeCommand: CommandSpec = {
  name: "resume",
  summary: "Resume a paused rollout, or continue a rollout whose process died (crash recovery).",
  positionals: [idArg],
  options: [
    timeout,
    {
      name: "force-unlock",
      kind: "flag",
      description: "break the lease of a process that stopped heartbeating (refused while its heartbeat is fresh)"
    },
    ...takeoverOptions
  ],
  details: `A paused rollout (by an operator, or at a "pause until resumed" step) gets a RESUME.
${TAKEOVER}
Resuming a finished rollout prints its summary and exits with its outcome's code.

One process runs a rollout at a time: it holds the rollout's lease in the store (locks/) and
renews it every second. Another \`resume\` is refused (exit 64, naming the holder). A lease
whose holder stopped renewing it for 15s is free; one of a process of this host that is gone, at
once. --force-unlock breaks a lease whose holder missed 3 renewals (its host died, say) without
waiting; it is refused while the holder's heartbeat is fresh.

${EXIT_CODES_HELP}`
}

export const abortCommand: CommandSpec = {
  name: "abort",
  summary: "Abort a rollout: stop updating and roll back every touched target (unless rollback.onAbort is false).",
  positionals: [idArg],
  options: [
    { name: "reason", kind: "string", value: "<text>", description: "why (kept in the journal)" },
    timeout,
    ...takeoverOptions
  ],
  details: `${TAKEOVER}\n\n${EXIT_CODES_HELP}`
}

export const approveCommand: CommandSpec = {
  name: "approve",
  summary: "Approve the wave a rollout is waiting on (spec.gates.manualApproval).",
  positionals: [idArg],
  options: [timeout, ...takeoverOptions],
  details: `${TAKEOVER}\n\n${EXIT_CODES_HELP}`
}

export const promoteCommand: CommandSpec = {
  name: "promote",
  summary: "End the pause after the current wave now (canary step pause, blue-green preview).",
  positionals: [idArg],
  options: [
    {
      name: "full",
      kind: "flag",
      description:
        "skip every remaining pause, manual approval and analysis too (the waves still roll one after the other, through the gates)"
    },
    timeout,
    ...takeoverOptions
  ],
  details: `Without --full, only a pause after a wave can be promoted. With --full, the rollout can be
promoted at any point while it progresses: a pause or approval it waits in ends, an analysis
running is stopped and counts as passed, and the waves that remain roll without stopping, within
their maxUnavailable and through the policy and scan gates (as Argo Rollouts' promote --full).

${TAKEOVER}

${EXIT_CODES_HELP}`
}

export const retryCommand: CommandSpec = {
  name: "retry",
  summary: "Start an aborted, rolled-back, blocked or failed rollout again, from its first wave.",
  positionals: [{ name: "id", required: true, description: "the rollout to retry (see `sluice list`)" }],
  options: [
    { ...o.id, description: "id of the new rollout (default <id>-retry, <id>-retry-2, …)" },
    o.metricsPort,
    o.otlpEndpoint,
    o.cdeventsUrl,
    ...o.output,
    ...o.connection,
    ...o.simulatedRun,
    o.store,
    o.help
  ],
  details: `The new rollout has the same spec as <id> (as stored with it: image, strategy, gates, with
its file paths), the same adapter and connection, and goes through the gates again; targets
already on the new version count as up to date. The simulated fleet keeps <id>'s --faults and
latencies unless they are given again (--faults transient=0 runs without its faults).
A rollout whose rollback failed is refused: \`sluice rollback <id>\` first.

${EXIT_CODES_HELP}`
}

export const undoCommand: CommandSpec = {
  name: "undo",
  summary: "Roll out an earlier revision again (default: the one before <id>'s), as a new gated rollout.",
  positionals: [{ name: "id", required: true, description: "a rollout of the workload (see `sluice list`)" }],
  options: [
    { name: "to-revision", kind: "string", value: "<N>", description: "the revision to go back to (see --history)" },
    { name: "history", kind: "flag", description: "list the revisions and change nothing" },
    { ...o.id, description: "id of the new rollout (default <id>-undo, <id>-undo-2, …)" },
    o.metricsPort,
    o.otlpEndpoint,
    o.cdeventsUrl,
    ...o.output,
    ...o.connection,
    ...o.simulatedRun,
    o.store,
    o.help
  ],
  details: `The revisions of a workload are its rollouts in this store that completed (same
metadata.name, same adapter), oldest first: revision 1 is the oldest. undo starts a new rollout,
<id>-undo, with the chosen revision's stored spec (its image, strategy and gates): it goes
through the gates and waves like any rollout, and targets already on that version count as up
to date. What ran before the first revision has no spec in the store: \`sluice rollback <id>\`
restores it, target by target.

${EXIT_CODES_HELP}`
}

export const rollbackCommand: CommandSpec = {
  name: "rollback",
  summary: "Roll a finished rollout back: every target it touched returns to its previous revision.",
  positionals: [{ name: "id", required: true, description: "the finished rollout (see `sluice list`)" }],
  options: [
    { ...o.id, description: "id of the rollback run (default <id>-rollback)" },
    o.metricsPort,
    o.otlpEndpoint,
    o.cdeventsUrl,
    ...o.output,
    ...o.connection,
    ...o.simulatedRun,
    o.store,
    o.help
  ],
  details: `For a completed rollout (or one that failed with rollback disabled, or whose rollback
failed): the targets it touched and did not already roll back are restored to the revision
recorded before it touched them. The rollback runs as a new rollout, <id>-rollback, journaled
like any other: \`sluice status\` shows it and \`sluice resume\` continues it after a crash.
A running rollout is rolled back with \`sluice abort <id>\` instead.

Exit codes: 0 every target restored, 4 some could not be restored, 64 nothing to roll back,
1 internal error.`
}

export const policyBuildCommand: CommandSpec = {
  name: "policy build",
  summary: "Compile a folder of Rego policies into an OPA Wasm bundle (with Sluice's decision entrypoint).",
  positionals: [
    { name: "dir", required: true, description: "a folder of .rego files (tests *_test.rego are left out)" }
  ],
  options: [
    {
      name: "output-file",
      short: "o",
      kind: "string",
      value: "<file>",
      description: "where to write the bundle (default bundle.tar.gz)"
    },
    o.help
  ],
  details: `Policies are Rego v1 packages under sluice.policies (\`package sluice.policies.my_rule\`) with
\`deny\` and \`warn\` sets; the entrypoint sluice/decision, which collects them, and the built-in
helper library (data.sluice.lib) are added unless the folder has its own \`package sluice\`.
It runs the opa that \`npm run setup\` builds (.tools/bin/opa), else $SLUICE_OPA, else opa on
PATH, then loads the bundle once as \`apply --policy\` would. \`policy test\` and \`policy eval\`
take such a folder directly and compile it the same way.

Exit codes: 0 built, 64 no folder, no .rego file, a compile error (opa's first message, one
line) or a bundle that does not load.`
}

export const policyTestCommand: CommandSpec = {
  name: "policy test",
  summary: "Run a YAML file of policy cases (input + expected decision) against a bundle.",
  positionals: [
    { name: "bundle", required: true, description: 'a bundle file or directory, or "builtin"' },
    { name: "cases", required: true, description: "the cases file (YAML)" }
  ],
  options: [
    data,
    now,
    evaluationTimeout,
    { ...o.verbose, description: "list passing cases too" },
    { ...o.json, description: "the report as JSON (same as --output json)" },
    {
      name: "output",
      kind: "string",
      value: "<text|json|junit>",
      description:
        "the report's format: text (opa test -v style, the default), json, or junit\n(JUnit XML, for CI systems that read test reports)"
    },
    {
      name: "coverage",
      kind: "flag",
      description:
        "report the lines and rules of the policy's Rego the cases exercised\n(needs the .rego folder, not a compiled bundle)"
    },
    {
      name: "coverage-min",
      kind: "string",
      value: "<pct>",
      description: "exit 5 when the coverage is below this percentage (implies --coverage)"
    },
    {
      name: "mutate",
      kind: "flag",
      description:
        "mutation testing: run the cases on mutants of the policy (a comparison negated, a\ncondition dropped or negated, a constant changed, some/every swapped) and list the\nmutants no case kills (needs the .rego folder)"
    },
    {
      name: "mutate-max",
      kind: "string",
      value: "<n>",
      description: "run at most n mutants, spread over all of them (default 200)"
    },
    {
      name: "mutate-jobs",
      kind: "string",
      value: "<n>",
      description: "mutants built and run at once (default 2, at most the CPUs)"
    },
    {
      name: "mutate-timeout",
      kind: "string",
      value: "<s>",
      description:
        "seconds one evaluation may run on a mutant before the mutant counts as an error (a\nmutant can make the evaluation loop); default 50 times the slowest unmutated case, at\nleast 30"
    },
    {
      name: "mutate-min",
      kind: "string",
      value: "<pct>",
      description: "exit 5 when the mutation score is below this percentage (implies --mutate)"
    },
    o.help
  ],
  details: `${BUNDLE}

Cases file:
  now: "2025-01-01T00:00:00Z"          # optional
  cases:
    - name: root container is denied
      inputFile: manifests/root.yaml     # a Kubernetes manifest, docker inspect JSON or policy input
      scanFile: scans/agent.json         # optional Trivy JSON report
      expect: { allow: false, deny: [non-root] }   # rule ids or message substrings

Coverage and mutation testing need the policy's sources: give its folder of .rego files (it is
compiled with opa as \`policy build\` does). --coverage runs the inputs the cases evaluated
through \`opa eval --coverage\` over the same sources and data (their decisions must match the
Wasm bundle's) and lists, per file, the percentage, the lines not covered and the rules that never
fired. --mutate compiles each mutant with opa and runs every case on it: a mutant is killed when
some case fails, survives when all pass, is invalid when opa does not compile it (counted in no
score), and is an error when it cannot be evaluated (counted as not killed). The score is
killed / (run - invalid); the survivors are listed as file:line:column with the change. The cases
must all pass on the unmutated policy first.

A case whose evaluation does not finish within --timeout fails, whatever it expected.

Exit codes: 0 every case passed (and the thresholds asked are met), 2 some case failed, 5 the
coverage or the mutation score is below --coverage-min / --mutate-min, 64 a bundle cannot be
loaded (no case is run: against a bundle that denies everything, every "should be denied" case
would pass), the cases file or an argument is unusable, or --coverage/--mutate without Rego
sources, 1 internal error (opa failed).`
}

export const policyEvalCommand: CommandSpec = {
  name: "policy eval",
  summary: "Evaluate one workload (Kubernetes manifest, docker inspect JSON, or policy input) against a bundle.",
  positionals: [
    { name: "bundle", required: true, description: 'a bundle file or directory, or "builtin"' },
    { name: "input", required: true, description: "the input file (YAML/JSON)" }
  ],
  options: [
    { name: "scan", kind: "string", value: "<file>", description: "a Trivy JSON report for the image (input.scan)" },
    {
      name: "image",
      kind: "string",
      value: "<file>",
      description: "docker image inspect JSON (its Config.User) for a docker input"
    },
    data,
    now,
    evaluationTimeout,
    { ...o.json, description: "decision, input hash and bundles as JSON" },
    o.help
  ],
  details: `${BUNDLE}

Exit codes: 0 allowed, 2 denied (fail closed: a bundle that cannot load denies), 64 unusable
input or argument, 1 internal error.`
}

export const reportCommand: CommandSpec = {
  name: "report",
  summary: "Write a rollout's report: one self-contained HTML page (timeline, waves per zone, gates, rollback).",
  positionals: [{ name: "id", required: false, description: "the rollout id (default: the newest rollout)" }],
  options: [
    {
      name: "html",
      kind: "string",
      value: "<file>",
      description: "write the page to this file (default: print it on stdout)"
    },
    o.store,
    o.help
  ],
  details: `The page is read from the store (the journal), so it can be written for a running, a
crashed or a finished rollout, from any shell: the rollout's outcome and reason, its waves per
topology value (each cell: targets updated of those planned, and ↩ rolled back), the waves on a
timeline with the rollback marked, every gate decision with its reason, the targets that failed
and why, the rollback, and the operator controls. It loads nothing from the network and runs no
script.`
}
