import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import {
  formatSpecProblem,
  type InterpreterError,
  issueToProblems,
  type MetricsProvider,
  makeFileStore,
  type PolicyEngine,
  PrometheusMetrics,
  type RolloutHeader,
  type RolloutResult,
  type RolloutStoreShape,
  RolloutMetrics,
  RolloutStore,
  type ScanReportSource,
  type SignatureVerifier,
  type SpecProblem,
  type TargetAdapter
} from "@sluice/core"
import type { KubernetesAdapterConfig } from "@sluice/adapters-k8s"
import { SimulatedFleetSelector } from "@sluice/core/testing"
import { Cause, Effect, Exit, Layer, Logger, References, Result, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { PrometheusMetrics as PrometheusMetricsFormat } from "effect/observability"
import { flag, type Parsed, parsePositiveInt, str } from "./args.js"
import { UsageError, UserError } from "./errors.js"
import { ExitCode, exitCodeFor } from "./exitCodes.js"
import type { Io } from "./io.js"
import { makeRenderer, type OutputMode, type Renderer } from "./render/renderers.js"
import { eventSinkLayer, tracingLayer } from "./telemetry.js"
import { faultTargets, parseFaults, parseLatency } from "./simulated/faults.js"
import {
  DEFAULT_APPLY_LATENCY,
  DEFAULT_READY_LATENCY,
  DEFAULT_WORLD,
  openWorld,
  readSimRun,
  readWorld,
  type SimRunOptions,
  type WorldOptions,
  worldDir,
  writeSimRun
} from "./simulated/world.js"

/** `ENOENT: no such file or directory, mkdir '/x'` → `no such file or directory`. */
const reasonOf = (e: unknown) => {
  const message = e instanceof Error ? e.message : String(e)
  return /^[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message
}

/** `--store kubernetes://<namespace>` (or `$SLUICE_STORE`): the rollouts live in the Kubernetes API. */
interface KubernetesStoreFlags {
  readonly namespace: string
  readonly kubeconfig?: string
  readonly context?: string
}
/** The Kubernetes stores this process was given, by the local directory `storeRootOf` returned. */
const kubernetesStores = new Map<string, KubernetesStoreFlags>()

/** The Kubernetes store `--store` (else `$SLUICE_STORE`) names, with `--kubeconfig`/`--context`. */
export const kubernetesStoreOf = (io: Io, parsed: Parsed): KubernetesStoreFlags | undefined => {
  const given = str(parsed, "store") || io.env.SLUICE_STORE || ""
  if (!given.startsWith("kubernetes://")) return undefined
  const namespace = given.slice("kubernetes://".length)
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
    throw new UserError({ message: `--store ${given}: expected kubernetes://<namespace>, a namespace name` })
  const kubeconfig = str(parsed, "kubeconfig")
  const context = str(parsed, "context")
  return {
    namespace,
    ...(kubeconfig ? { kubeconfig: path.resolve(io.cwd, kubeconfig) } : {}),
    ...(context ? { context } : {})
  }
}

/**
 * The store directory, checked without creating anything: the path and every parent that exists
 * must be a directory. An unusable store is a usage error naming the path and the reason.
 */
export const storeRootOf = (io: Io, parsed: Parsed) => {
  const k8s = kubernetesStoreOf(io, parsed)
  if (k8s !== undefined) {
    // The rollouts live in the cluster; what the CLI keeps beside them (the simulated fleet, the
    // connection a rollout was started with) stays on this machine, one directory per namespace.
    const local = path.resolve(io.cwd, ".sluice", "kubernetes", k8s.namespace)
    kubernetesStores.set(local, k8s)
    return local
  }
  const given = str(parsed, "store") || undefined
  const label = given !== undefined ? "--store" : io.env.SLUICE_STORE ? "$SLUICE_STORE" : "store"
  const root = path.resolve(io.cwd, given ?? (io.env.SLUICE_STORE || path.join(".sluice", "rollouts")))
  const unusable = (why: string) => new UserError({ message: `${label} ${root}: ${why}` })
  for (let p = root; ; p = path.dirname(p)) {
    let stat: fs.Stats
    try {
      stat = fs.statSync(p)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // Missing (or under something that is not a directory: found further up): look at the parent.
      if ((code === "ENOENT" || code === "ENOTDIR") && path.dirname(p) !== p) continue
      throw unusable(`cannot access ${p}: ${reasonOf(e)}`)
    }
    if (!stat.isDirectory()) throw unusable(p === root ? "not a directory" : `${p} is not a directory`)
    return root
  }
}

/**
 * Creates the store directory when it is missing and checks that it takes files, so a store that
 * cannot work is a usage error before anything starts. Creates one level at a time: Node's
 * recursive mkdir never returns for some paths (under /proc, say).
 */
export const ensureStoreRoot = (io: Io, parsed: Parsed) => {
  const root = storeRootOf(io, parsed)
  const label = str(parsed, "store") ? "--store" : io.env.SLUICE_STORE ? "$SLUICE_STORE" : "store"
  const missing: string[] = []
  for (let p = root; !fs.existsSync(p); p = path.dirname(p)) missing.unshift(p)
  try {
    for (const dir of missing) {
      try {
        fs.mkdirSync(dir)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new UserError({ message: `${label} ${root}: cannot create ${dir}: ${reasonOf(e)}` })
        }
      }
    }
    fs.rmdirSync(fs.mkdtempSync(path.join(root, ".probe-")))
  } catch (e) {
    if (e instanceof UserError) throw e
    throw new UserError({ message: `${label} ${root}: cannot write in it: ${reasonOf(e)}` })
  }
  return root
}

export const outputModeOf = (io: Io, parsed: Parsed): OutputMode =>
  flag(parsed, "json") ? "json" : io.isTTY && !flag(parsed, "plain") ? "tty" : "plain"

/** A store whose `create` also runs `onCreate` (persist simulation settings, tell the renderer). */
export const withCreateHook = (
  inner: RolloutStoreShape,
  onCreate: (header: RolloutHeader) => void
): RolloutStoreShape => ({
  ...inner,
  create: (header) => inner.create(header).pipe(Effect.tap(() => Effect.sync(() => onCreate(header))))
})

// ---------------------------------------------------------------------------------------------
// simulated fleet settings
// ---------------------------------------------------------------------------------------------

const zonesOf = (text: string, command: string): string[] => {
  if (/^\d+$/.test(text)) {
    const n = parsePositiveInt("zones", text, command)
    if (n > 26) return Array.from({ length: n }, (_, i) => `zone-${i + 1}`)
    return Array.from({ length: n }, (_, i) => `zone-${String.fromCharCode(97 + i)}`)
  }
  const zones = text.split(",").map((z) => z.trim())
  for (const z of zones) {
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(z)) {
      throw new UsageError({
        message: `--zones: "${z}" is not a valid zone name (letters, digits, '-', '_', '.'; or give a count)`,
        command
      })
    }
  }
  if (new Set(zones).size !== zones.length)
    throw new UsageError({ message: "--zones: a zone is listed twice", command })
  return zones
}

export const worldOptionsOf = (parsed: Parsed, command: string): WorldOptions => {
  const size = str(parsed, "fleet-size")
  const zones = str(parsed, "zones")
  const seed = str(parsed, "seed")
  const image = str(parsed, "fleet-image")
  return {
    size: size === undefined ? DEFAULT_WORLD.size : parsePositiveInt("fleet-size", size, command),
    zones: zones === undefined ? [...DEFAULT_WORLD.zones] : zonesOf(zones, command),
    seed: seed === undefined ? DEFAULT_WORLD.seed : parsePositiveInt("seed", seed, command),
    image: image ?? DEFAULT_WORLD.image
  }
}

export const simRunOf = (parsed: Parsed): SimRunOptions => {
  const faults = str(parsed, "faults")
  const apply = str(parsed, "apply-latency")
  const ready = str(parsed, "ready-latency")
  return {
    ...(faults === undefined ? {} : { faultsText: faults }),
    faults: parseFaults(faults),
    applyLatency: apply === undefined ? DEFAULT_APPLY_LATENCY : parseLatency("apply-latency", apply),
    readyLatency: ready === undefined ? DEFAULT_READY_LATENCY : parseLatency("ready-latency", ready)
  }
}

export const hasSimRunFlags = (parsed: Parsed) =>
  ["faults", "apply-latency", "ready-latency"].some((o) => str(parsed, o) !== undefined)

/** Notes when fleet-shaping flags are ignored because a simulated fleet already exists. */
export const noteIgnoredFleetFlags = (
  io: Io,
  parsed: Parsed,
  storeRoot: string,
  existing: WorldOptions | undefined
) => {
  if (existing === undefined) return
  const given = ["fleet-size", "zones", "seed", "fleet-image"].filter((o) => str(parsed, o) !== undefined)
  if (given.length > 0) {
    io.err(
      `note: ${given.map((g) => `--${g}`).join(", ")} ignored: the simulated fleet in ${worldDir(storeRoot)} already exists (${existing.size} targets, zones ${existing.zones.join(",")}); --reset-fleet starts a new one\n`
    )
  }
}

/**
 * The stored simulated fleet's options for continuing a rollout; warns when the fleet is gone (a
 * new one from the defaults will not hold what the rollout already did).
 */
export const existingWorldOptions = (io: Io, storeRoot: string, adapter: string, fallback: WorldOptions) => {
  const stored = readWorld(storeRoot)?.options
  if (stored === undefined && adapter === "simulated") {
    io.err(
      `warning: no simulated fleet in ${worldDir(storeRoot)}; continuing on a new one (${fallback.size} targets on ${fallback.image})\n`
    )
  }
  return stored ?? fallback
}

export const resetWorld = (storeRoot: string) => fs.rmSync(worldDir(storeRoot), { recursive: true, force: true })

// ---------------------------------------------------------------------------------------------
// adapters
// ---------------------------------------------------------------------------------------------

/** Analysis queries for real fleets go to Prometheus over fetch. */
const prometheus = PrometheusMetrics().pipe(Layer.provide(FetchHttpClient.layer))

export const ADAPTERS = ["simulated", "docker", "kubernetes"] as const

export interface OpenAdapter {
  readonly layer: Layer.Layer<TargetAdapter | MetricsProvider> | Layer.Layer<TargetAdapter | MetricsProvider, unknown>
  readonly release: () => Promise<void> | void
  /** Persists what a later `resume` needs, once the rollout exists in the store. */
  readonly onCreate: (header: RolloutHeader) => void
}

export const checkAdapterName = (name: string, command: string) => {
  if (!(ADAPTERS as ReadonlyArray<string>).includes(name)) {
    throw new UsageError({ message: `unknown adapter "${name}" (one of ${ADAPTERS.join(", ")})`, command })
  }
}

/** Validates `spec.target.selector` with the adapter's own schema; problems carry their paths. */
export const selectorSchemaFor = async (adapter: string): Promise<Schema.Codec<unknown, unknown> | undefined> => {
  if (adapter === "simulated") return SimulatedFleetSelector as unknown as Schema.Codec<unknown, unknown>
  if (adapter === "docker") {
    const docker = await import("@sluice/adapters-docker")
    return docker.DockerSelector as unknown as Schema.Codec<unknown, unknown>
  }
  if (adapter === "kubernetes") {
    const k8s = await import("@sluice/adapters-k8s")
    return k8s.KubernetesSelector as unknown as Schema.Codec<unknown, unknown>
  }
  return undefined
}

const adapterConfigOf = async (io: Io, parsed: Parsed): Promise<unknown> => {
  const file = str(parsed, "adapter-config")
  if (file === undefined) return {}
  const { parse } = await import("yaml")
  try {
    return parse(fs.readFileSync(path.resolve(io.cwd, file), "utf8")) ?? {}
  } catch (e) {
    throw new UserError({ message: `cannot read --adapter-config ${file}: ${(e as Error).message}` })
  }
}

/**
 * Decodes an adapter's configuration with the strictness of the spec: every problem with its path,
 * unknown keys included (with a did-you-mean), exit 64. `hint` may add a word to a problem.
 */
export const decodeAdapterConfig = <A>(
  schema: Schema.Codec<A, unknown>,
  input: unknown,
  adapter: string,
  where: string,
  hint: (problem: SpecProblem) => string | undefined = () => undefined
): A => {
  const decoded = Schema.decodeUnknownResult(schema, { errors: "all", onExcessProperty: "error" })(input)
  if (Result.isSuccess(decoded)) return decoded.success
  const problems = issueToProblems(decoded.failure.issue, input).map((p) => {
    const extra = hint(p)
    return extra === undefined ? p : { ...p, message: `${p.message} (${extra})` }
  })
  throw new UserError({
    message: `invalid ${adapter} adapter configuration in ${where} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  ${formatSpecProblem(p)}`).join("\n")}`
  })
}

/** `host:`/`port:` (or `address:`, `url:`) in a Docker host entry: the address goes in `endpoint`. */
const dockerHint = (p: SpecProblem) =>
  /^hosts\[\d+\]\.(host|port|address|url)$/.test(p.path) && p.message.startsWith("unknown field")
    ? "the engine's address goes in endpoint: tcp://<host>:<port> or unix:///<socket>"
    : undefined

/** The docker adapter's `--adapter-config`, decoded strictly (the adapter decodes it again). */
const dockerConfigOf = async (io: Io, parsed: Parsed): Promise<unknown> => {
  const file = str(parsed, "adapter-config")
  if (file === undefined) return {}
  const docker = await import("@sluice/adapters-docker")
  const raw = await adapterConfigOf(io, parsed)
  decodeAdapterConfig(
    docker.DockerAdapterConfig as unknown as Schema.Codec<unknown, unknown>,
    raw,
    "docker",
    `--adapter-config ${file}`,
    dockerHint
  )
  return raw
}

/** What to say when `spec.target.selector` matches no target. */
export const emptySelectorMessage = (adapter: string, selector: unknown) =>
  `spec.target.selector ${JSON.stringify(selector ?? {})} matches no target on the ${adapter} adapter: nothing to roll out`

/** `--kubeconfig` and `--context` belong to the kubernetes adapter; anywhere else they are a mistake. */
export const checkConnectionFlags = (parsed: Parsed, adapter: string, command: string) => {
  // They also say where a `--store kubernetes://<namespace>` is.
  if (adapter === "kubernetes" || /^kubernetes:\/\//.test(str(parsed, "store") ?? "")) return
  const given = ["kubeconfig", "context"].filter((o) => str(parsed, o) !== undefined)
  if (given.length > 0) {
    throw new UsageError({
      message: `${given.map((g) => `--${g}`).join(" and ")} ${given.length > 1 ? "apply" : "applies"} to the kubernetes adapter, not ${adapter} (--adapter kubernetes, or spec.target.adapter: kubernetes)`,
      command
    })
  }
}

const kubernetesFile = (storeRoot: string, rolloutId: string) => path.join(storeRoot, rolloutId, "kubernetes.json")

/** The kubernetes connection a rollout was started with (paths and names only, never credentials). */
const readKubernetesConnection = (storeRoot: string, rolloutId: string): unknown => {
  try {
    return JSON.parse(fs.readFileSync(kubernetesFile(storeRoot, rolloutId), "utf8"))
  } catch {
    return undefined
  }
}

/** The decoded configuration back in the form the adapter takes (it decodes it again; secrets in the clear). */
const kubernetesInput = (k8s: typeof import("@sluice/adapters-k8s"), config: KubernetesAdapterConfig) =>
  Schema.encodeSync(k8s.KubernetesAdapterConfig)(config)

/**
 * The kubernetes adapter's configuration: `--adapter-config` decoded strictly (unknown keys are
 * errors, with their path; its `kubeconfig` is relative to the file), then `--kubeconfig` (relative
 * to the current directory) and `--context` over it. Continuing a rollout without any of them
 * reuses the connection it was started with. Without a kubeconfig anywhere, `$KUBECONFIG` is made
 * explicit here, so a later `resume` reaches the same cluster.
 */
export const kubernetesConfigOf = async (
  io: Io,
  parsed: Parsed,
  continuing: string | undefined,
  storeRoot: string
): Promise<KubernetesAdapterConfig> => {
  const k8s = await import("@sluice/adapters-k8s")
  const file = str(parsed, "adapter-config")
  const flagPath = str(parsed, "kubeconfig")
  const flagContext = str(parsed, "context")
  const decode = (input: unknown, where: string): KubernetesAdapterConfig =>
    decodeAdapterConfig(k8s.KubernetesAdapterConfig, input, "kubernetes", where)
  let config: KubernetesAdapterConfig = {}
  if (file !== undefined) {
    const raw = await adapterConfigOf(io, parsed)
    config = decode(raw, `--adapter-config ${file}`)
    const base = path.dirname(path.resolve(io.cwd, file))
    if (config.kubeconfig !== undefined) config = { ...config, kubeconfig: path.resolve(base, config.kubeconfig) }
    // Each cluster's kubeconfig is relative to the file too (a resume reads them from anywhere).
    if (config.clusters !== undefined)
      config = {
        ...config,
        clusters: config.clusters.map((c) =>
          c.kubeconfig === undefined ? c : { ...c, kubeconfig: path.resolve(base, c.kubeconfig) }
        )
      }
  }
  const stored =
    file === undefined && continuing !== undefined ? readKubernetesConnection(storeRoot, continuing) : undefined
  if (stored !== undefined && continuing !== undefined) config = decode(stored, kubernetesFile(storeRoot, continuing))
  if (flagPath !== undefined) {
    if (flagPath === "") throw new UsageError({ message: "--kubeconfig needs a file" })
    const { inCluster: _, ...rest } = config
    config = { ...rest, kubeconfig: path.resolve(io.cwd, flagPath) }
  }
  if (flagContext !== undefined) {
    if (flagContext === "") throw new UsageError({ message: "--context needs a name" })
    if (config.clusters !== undefined)
      throw new UsageError({
        message: `--context does not apply to a configuration with clusters (${config.clusters.map((c) => c.name).join(", ")}): give each cluster its context in --adapter-config (clusters[i].context)`
      })
    config = { ...config, context: flagContext }
  }
  if (stored !== undefined && flagPath === undefined) {
    const where = config.inCluster === true ? "in-cluster" : (config.kubeconfig ?? "the default kubeconfig")
    io.err(
      config.clusters !== undefined
        ? `note: rollout ${continuing} continues on the clusters it was started on: ${config.clusters
            .map(
              (c) =>
                `${c.name} (${c.inCluster === true ? "in-cluster" : (c.kubeconfig ?? where)}${c.context === undefined ? "" : `, context ${c.context}`})`
            )
            .join(", ")}\n`
        : `note: rollout ${continuing} continues on the cluster it was started on: ${where}${config.context === undefined ? "" : ` (context ${config.context})`}\n`
    )
  }
  if (config.kubeconfig === undefined && config.inCluster !== true) {
    const env = io.env.KUBECONFIG?.split(path.delimiter).find((p) => p !== "")
    if (env !== undefined) config = { ...config, kubeconfig: path.resolve(io.cwd, env) }
  }
  if (config.kubeconfig !== undefined && !fs.existsSync(config.kubeconfig)) {
    const given =
      flagPath !== undefined
        ? `--kubeconfig ${flagPath}`
        : file !== undefined && config.inCluster !== true
          ? `kubeconfig ${config.kubeconfig} (from --adapter-config ${file})`
          : `kubeconfig ${config.kubeconfig}`
    throw new UsageError({
      message: `${given}: no such file${flagPath !== undefined && !path.isAbsolute(flagPath) ? ` (looked in ${io.cwd})` : ""}`
    })
  }
  // The kubeconfig and context are checked now (no request is sent), so a wrong one is a usage
  // error naming it before anything else happens.
  const checked = await Effect.runPromiseExit(Effect.scoped(k8s.KubernetesAdapter.make(kubernetesInput(k8s, config))))
  if (Exit.isFailure(checked)) {
    const error = Cause.findErrorOption(checked.cause)
    const message = error._tag === "Some" ? error.value.message : Cause.pretty(checked.cause)
    const where =
      config.kubeconfig === undefined || message.includes(config.kubeconfig) ? "" : ` (kubeconfig ${config.kubeconfig})`
    throw new UsageError({
      message: `kubernetes: ${message}${where}`
    })
  }
  return config
}

/** `node-7` in a fleet of `node-007`s: the id with the same name and number, padded as the fleet pads. */
const samePadded = (id: string, ids: ReadonlyArray<string>) => {
  const m = /^(.*?)(\d+)$/.exec(id)
  if (m === null) return undefined
  return ids.find((c) => {
    const n = /^(.*?)(\d+)$/.exec(c)
    return n !== null && n[1] === m[1] && Number(n[2]) === Number(m[2])
  })
}

/**
 * The TargetAdapter to drive rollout `rolloutId` with. The simulated fleet is locked and persisted
 * under the store; `sim` are this rollout's simulation settings (faults, latencies).
 */
export const openAdapter = async (
  io: Io,
  parsed: Parsed,
  name: string,
  storeRoot: string,
  rolloutId: string,
  world: WorldOptions,
  sim: SimRunOptions,
  options: {
    /** Continuing (or rolling back) this rollout: reuse its stored connection unless given again. */
    readonly continuing?: string
    /** A `--faults` item naming a target the simulated fleet does not have: a usage error, or a warning (default). */
    readonly unknownFaultTargets?: "error" | "warn"
  } = {}
): Promise<OpenAdapter> => {
  switch (name) {
    case "simulated": {
      const opened = await openWorld(storeRoot, world, sim, rolloutId)
      const unknown = faultTargets(sim.faultsText).filter((t) => !opened.fleet.targets.has(t.id))
      if (unknown.length > 0) {
        const ids = [...opened.fleet.targets.keys()]
        const fleet = `the simulated fleet has ${ids.length} target${ids.length === 1 ? "" : "s"}${ids.length === 0 ? "" : `, ${ids[0]} … ${ids[ids.length - 1]}`}`
        const lines = unknown.map((t) => {
          const hint = samePadded(t.id, ids)
          return `--faults item "${t.item}" names ${t.id}, which is not in the simulated fleet${hint === undefined ? "" : ` (did you mean ${hint}?)`}`
        })
        if (options.unknownFaultTargets === "error") {
          await opened.release()
          throw new UsageError({
            message: `${lines.join("\n  ")}\n  (${fleet}; --allow-empty runs anyway)`
          })
        }
        for (const line of lines) io.err(`warning: ${line}; ${fleet}\n`)
      }
      return {
        layer: opened.fleet.layer,
        release: opened.release,
        onCreate: (header) => writeSimRun(storeRoot, header.rolloutId, sim)
      }
    }
    case "docker": {
      const docker = await import("@sluice/adapters-docker")
      const config = await dockerConfigOf(io, parsed)
      // Analysis gates query a real Prometheus (each analysis names its address).
      const layer = Layer.mergeAll(docker.DockerAdapter.layer(config as never), prometheus)
      return { layer, release: () => {}, onCreate: () => {} }
    }
    case "kubernetes": {
      const k8s = await import("@sluice/adapters-k8s")
      const config = await kubernetesConfigOf(io, parsed, options.continuing, storeRoot)
      const layer = Layer.mergeAll(k8s.KubernetesAdapter.layer(kubernetesInput(k8s, config)), prometheus)
      return {
        layer,
        release: () => {},
        // Where the cluster is (paths and names, no credentials), for resume, abort and rollback.
        onCreate: (header) => {
          fs.mkdirSync(path.join(storeRoot, header.rolloutId), { recursive: true })
          // Registry credentials are not kept: a resume resolves no digest (the journal has it).
          const { registries: _, ...connection } = config
          fs.writeFileSync(kubernetesFile(storeRoot, header.rolloutId), `${JSON.stringify(connection, null, 2)}\n`)
        }
      }
    }
    default:
      throw new UserError({ message: `unknown adapter ${name}` })
  }
}

/** Simulation settings for continuing rollout `id`: what it was started with. */
export const simRunFor = (storeRoot: string, id: string, parsed: Parsed): SimRunOptions =>
  hasSimRunFlags(parsed) ? simRunOf(parsed) : (readSimRun(storeRoot, id) ?? simRunOf(parsed))

// ---------------------------------------------------------------------------------------------
// running a rollout
// ---------------------------------------------------------------------------------------------

export interface LogOptions {
  readonly format?: "text" | "json" | undefined
  readonly level?: "Error" | "Warn" | "Info" | "Debug" | undefined
}

const LEVELS = { error: "Error", warn: "Warn", info: "Info", debug: "Debug" } as const

/** `--log-format` and `--log-level`, checked (a bad value is a usage error, exit 64). */
export const logOptionsOf = (parsed: Parsed, command: string): LogOptions => {
  const format = str(parsed, "log-format")
  const level = str(parsed, "log-level")
  if (format !== undefined && format !== "text" && format !== "json")
    throw new UsageError({ message: `--log-format "${format}" is not text or json`, command })
  if (level !== undefined && !(level in LEVELS))
    throw new UsageError({ message: `--log-level "${level}" is not one of error, warn, info, debug`, command })
  return {
    ...(format === undefined ? {} : { format }),
    ...(level === undefined ? {} : { level: LEVELS[level as keyof typeof LEVELS] })
  }
}

/**
 * Log lines on stderr. Without --log-format/--log-level, the rollout's own lines (annotated with
 * its id) are left out: the progress view already shows those events, and only the rest (a store
 * that quarantined a file, say) is printed. JSON lines carry Effect's structured record: level,
 * timestamp, message, and the annotations (rolloutId, wave) on every line of the rollout. Secrets
 * are `Redacted` values in the configuration, printed as <redacted>.
 */
export const loggerLayer = (io: Io, options: LogOptions = {}) => {
  const explicit = options.format !== undefined || options.level !== undefined
  return Layer.mergeAll(
    Logger.layer([
      Logger.make((o) => {
        const annotations = o.fiber.getRef(References.CurrentLogAnnotations)
        // A store's warning about one of its files (annotated `store`) is not a progress event, nor
        // is a webhook's delivery failure (annotated `webhook`).
        if (!explicit && "rolloutId" in annotations && !("store" in annotations) && !("webhook" in annotations)) return
        if (options.format === "json") {
          io.err(`${Logger.formatJson.log(o)}\n`)
          return
        }
        const message = Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message)
        const rollout = annotations.rolloutId
        const where =
          rollout === undefined
            ? ""
            : ` [${String(rollout)}${annotations.wave === undefined ? "" : ` wave ${String(annotations.wave)}`}]`
        io.err(`${o.logLevel.toLowerCase()}: ${message}${where}\n`)
      })
    ]),
    Layer.succeed(References.MinimumLogLevel, options.level ?? "Warn")
  )
}

export interface RunRequest<E> {
  readonly io: Io
  readonly mode: OutputMode
  readonly verbose: boolean
  readonly store: RolloutStoreShape
  readonly adapter: OpenAdapter
  readonly gates: Layer.Layer<PolicyEngine | ScanReportSource | SignatureVerifier> | Layer.Layer<never>
  /** Known up-front for resume / rollback runs; apply learns it when the store creates it. */
  readonly header?: RolloutHeader
  readonly seed?: (renderer: Renderer) => void
  /** The rollout id, for messages before the header exists. */
  readonly rolloutId: string
  readonly program: Effect.Effect<RolloutResult, E | InterpreterError, RolloutStore | TargetAdapter>
  /** Maps the outcome to the exit code (default: `exitCodeFor`). */
  readonly exitCode?: (result: RolloutResult) => number
  /** `--metrics-port`: where to serve Sluice's metrics while the rollout runs. */
  readonly metricsPort?: string | undefined
  /** `--otlp-endpoint`: where to export the rollout's spans (default $OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly otlpEndpoint?: string | undefined
  /** `--cdevents-url`: where to POST CDEvents when the rollout ends. */
  readonly cdeventsUrl?: string | undefined
  readonly logs?: LogOptions
}

/** `[host:]port` of `--metrics-port` (host default 127.0.0.1: metrics are not for the world by default). */
export const parseMetricsAddress = (text: string, command: string) => {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text)
  const port = m === null ? Number.NaN : Number(m[2])
  if (m === null || port < 1 || port > 65535)
    throw new UsageError({
      message: `--metrics-port "${text}" is not [host:]port (like 9464 or 0.0.0.0:9464)`,
      command
    })
  return { host: (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port }
}

/** Serves the Prometheus text exposition of the process's metrics at /metrics. */
const serveMetrics = (io: Io, address: { host: string; port: number }) =>
  new Promise<http.Server>((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "/").split("?")[0] !== "/metrics") {
        res.writeHead(404).end("not found: metrics are at /metrics\n")
        return
      }
      Effect.runPromise(PrometheusMetricsFormat.format()).then(
        (text) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(text),
        (e) => res.writeHead(500).end(String(e))
      )
    })
    server.once("error", (e) =>
      reject(new UserError({ message: `cannot serve metrics on ${address.host}:${address.port}: ${e.message}` }))
    )
    server.listen(address.port, address.host, () => {
      io.err(`metrics: http://${address.host}:${address.port}/metrics\n`)
      resolve(server)
    })
  })

/** Prints a failure of the Effect program the way users should see it; returns the exit code. */
export const reportFailure = (io: Io, cause: Cause.Cause<unknown>): number => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const e = error.value as { _tag?: string; message?: string; rolloutId?: string; owner?: string }
    switch (e._tag) {
      case "RolloutLocked":
        io.err(
          `error: rollout ${e.rolloutId} is being run by another process (${e.owner}); control it with sluice pause|resume|abort|approve|promote ${e.rolloutId}\n`
        )
        return ExitCode.usage
      case "RolloutNotFound":
        io.err(`error: no rollout ${e.rolloutId} in the store\n`)
        return ExitCode.usage
      case "UserError":
      case "UsageError":
      case "DockerConfigError":
      case "KubernetesConfigError":
        io.err(`error: ${e.message}\n`)
        return ExitCode.usage
      case "AdapterError":
        io.err(`error: adapter: ${e.message}\n`)
        return ExitCode.internal
      case "StoreError":
        io.err(`error: store: ${e.message}\n`)
        return ExitCode.internal
      default:
        io.err(`error: ${e.message ?? String(error.value)}\n`)
        return ExitCode.internal
    }
  }
  const squashed = Cause.squash(cause)
  io.err(`internal error: ${squashed instanceof Error ? squashed.message : String(squashed)}\n`)
  if (io.env.SLUICE_DEBUG !== undefined) io.err(`${Cause.pretty(cause)}\n`)
  return ExitCode.internal
}

/**
 * Runs a rollout program to its outcome with the chosen output, and maps the result to an exit
 * code. Ctrl-C interrupts it: the journal keeps everything, `sluice resume` continues it.
 */
export const runRollout = async <E>(req: RunRequest<E>): Promise<number> => {
  const { io } = req
  const renderer = makeRenderer(io, req.mode, req.verbose, req.header)
  req.seed?.(renderer)
  const controller = new AbortController()
  let interrupts = 0
  const unregister = io.onInterrupt(() => {
    interrupts++
    if (interrupts > 1) process.exit(ExitCode.interrupted)
    controller.abort()
  })
  let metricsServer: http.Server | undefined
  try {
    const traces = tracingLayer(io, req.otlpEndpoint, "apply")
    const sink = eventSinkLayer(io, req.cdeventsUrl, renderer.event, "apply")
    if (req.metricsPort !== undefined)
      metricsServer = await serveMetrics(io, parseMetricsAddress(req.metricsPort, "apply"))
    const store = withCreateHook(req.store, (header) => {
      req.adapter.onCreate(header)
      renderer.model.setHeader(header)
    })
    const layer = Layer.mergeAll(
      req.adapter.layer,
      Layer.succeed(RolloutStore, store),
      req.gates,
      sink,
      loggerLayer(io, req.logs),
      metricsServer === undefined ? Layer.empty : RolloutMetrics.layer,
      traces
    )
    const exit = await Effect.runPromiseExit(req.program.pipe(Effect.provide(layer)), { signal: controller.signal })
    renderer.stop()
    if (Exit.isSuccess(exit)) {
      const code = (req.exitCode ?? ((r: RolloutResult) => exitCodeFor(r.outcome)))(exit.value)
      renderer.finish(exit.value, code)
      return code
    }
    if (Cause.hasInterruptsOnly(exit.cause) || controller.signal.aborted) {
      io.err(
        `\ninterrupted: rollout ${req.rolloutId} stays in the store where it was; \`sluice resume ${req.rolloutId}\` continues it, \`sluice abort ${req.rolloutId}\` rolls it back\n`
      )
      return ExitCode.interrupted
    }
    return reportFailure(io, exit.cause)
  } finally {
    unregister()
    metricsServer?.close()
    await req.adapter.release()
  }
}

/**
 * The store of a `storeRootOf` directory: the file store, or the Kubernetes store `--store
 * kubernetes://<namespace>` named (one per process: its leases are held by that instance). The
 * Kubernetes adapter package is loaded, and the store opened, at the first call that needs it.
 */
export const fileStore = (root: string): RolloutStoreShape => {
  const k8s = kubernetesStores.get(root)
  if (k8s === undefined) return makeFileStore(root)
  let store = openedKubernetesStores.get(root)
  if (store === undefined) {
    const opened = Effect.runSync(
      Effect.cached(
        Effect.promise(() => import("@sluice/adapters-k8s")).pipe(Effect.flatMap((m) => m.KubernetesStore.make(k8s)))
      )
    )
    const via = <A, E>(f: (s: RolloutStoreShape) => Effect.Effect<A, E>) => Effect.flatMap(opened, f)
    store = {
      // The CLI's notes on the rollout (simulation settings, the connection) go in a local folder.
      create: (h) =>
        via((s) => s.create(h)).pipe(
          Effect.tap(() => Effect.sync(() => fs.mkdirSync(path.join(root, h.rolloutId), { recursive: true })))
        ),
      append: (id, entries) => via((s) => s.append(id, entries)),
      read: (id) => via((s) => s.read(id)),
      writeSnapshot: (id, snapshot) => via((s) => s.writeSnapshot(id, snapshot)),
      list: () => via((s) => s.list()),
      acquire: (id, owner) => via((s) => s.acquire(id, owner)),
      release: (id, owner) => via((s) => s.release(id, owner)),
      owner: (id) => via((s) => s.owner(id)),
      sendControl: (id, request) => via((s) => s.sendControl(id, request)),
      pendingControls: (id) => via((s) => s.pendingControls(id)),
      ackControls: (id, ids) => via((s) => s.ackControls(id, ids))
    }
    openedKubernetesStores.set(root, store)
  }
  return store
}
const openedKubernetesStores = new Map<string, RolloutStoreShape>()

/** How messages name the store of a `storeRootOf` directory: `kubernetes://<namespace>`, or the directory. */
export const storeLabelOf = (root: string) => {
  const k8s = kubernetesStores.get(root)
  return k8s === undefined ? root : `kubernetes://${k8s.namespace}`
}

/** The store's warnings (a file quarantined, a torn line cut off) go to stderr, never into stdout's JSON. */
const storeLogger = loggerLayer({ err: (text: string) => void process.stderr.write(text) } as Io)

export const runStoreEffect = <A, E>(store: RolloutStoreShape, effect: Effect.Effect<A, E, RolloutStore>) =>
  Effect.runPromiseExit(effect.pipe(Effect.provideService(RolloutStore, store), Effect.provide(storeLogger)))
