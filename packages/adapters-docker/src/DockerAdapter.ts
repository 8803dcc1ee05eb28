import {
  type AdapterError,
  type ApplyContext,
  type Artifact,
  type HealthReport,
  type ImageRef,
  type ResolvedDigest,
  type Revision,
  type RollbackContext,
  type Target,
  TargetAdapter,
  type TargetAdapterShape,
  type TargetState,
  type WorkloadSource,
  type ProbeSpec,
  type HealthOptions,
  canonicalJson,
  readTar,
  sha256Hex,
  sha256OfJson,
  writeTar
} from "@sluice/core"
import { Clock, Effect, Layer, Result, Schema } from "effect"
import { registryAuthHeader, resolveRegistryAuth } from "./auth.js"
import {
  type DockerAdapterConfigInput,
  DockerSelector,
  decodeDockerAdapterConfig,
  type HealthConfig,
  type HostConfig,
  type Probe,
  type ProbeAction
} from "./config.js"
import { connectionOf, Engine, engineCall } from "./engine.js"
import {
  adapterError,
  describeCause,
  isConflict,
  isNotFound,
  isNotModified,
  type Operation,
  SecretScrubber,
  toAdapterError
} from "./errors.js"
import { defaultPullsAlways, type ParsedImageRef, parseImageRef } from "./imageRef.js"
import { runProbe } from "./probes.js"
import { buildCreateRequest, type CreateSpec, envMap, extractCreateSpec, type Json, surgeConflict } from "./recreate.js"
import { fetchImageConfig, resolveManifestDigest } from "./registry.js"

/** The adapter-private part of a Docker revision (`Revision.data`). JSON, kept in the rollout journal. */
export interface DockerRevisionData {
  readonly v: 1
  readonly host: string
  readonly name: string
  readonly containerId: string
  readonly imageId: string
  /** Whether the container was running when inspected (a rollback restores that). */
  readonly running: boolean
  /** How to create this container again if it is gone (present in revisions from `inspect`). */
  readonly create?: CreateSpec
  /** Set by `apply`: the container it replaced (renamed aside, stopped). */
  readonly replaced?: string
}

/** The layer could not be built from its configuration. */
export class DockerConfigError extends Schema.TaggedError<DockerConfigError>()("DockerConfigError", {
  message: Schema.String
}) {}

/** Suffixes of the containers the adapter parks beside a target: `<name>.sluice-old.<key>`, `<name>.sluice-new.<key>`. */
export const ASIDE_MARK = ".sluice-old."
export const TEMP_MARK = ".sluice-new."
const STASH_PATH = "/.sluice/config-stash.json"

/** A short, stable key per rollout, part of the names of parked containers. */
export const rolloutKey = (rolloutId: string): string => sha256Hex(rolloutId).slice(0, 10)

const baseName = (name: string): { base: string; kind: "primary" | "aside" | "temp" } => {
  const a = name.lastIndexOf(ASIDE_MARK)
  if (a > 0) return { base: name.slice(0, a), kind: "aside" }
  const t = name.lastIndexOf(TEMP_MARK)
  if (t > 0) return { base: name.slice(0, t), kind: "temp" }
  return { base: name, kind: "primary" }
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\?]/g, "\\$&").replace(/\*/g, ".*")}$`)

interface ConfigStash {
  readonly key: string
  readonly state: "applied" | "restored" | "done"
  /** Previous content (base64) per path; null = the file did not exist. */
  readonly files: Readonly<Record<string, { data: string; mode: number; uid: number; gid: number } | null>>
  readonly signal: string
}

interface ProbeState {
  successes: number
  failures: number
  lastAt: number
  lastDetail: string
  verdict: "healthy" | "unhealthy" | undefined
}

/** The rollout spec's probe (`spec.health.probe`, durations in ms), as the core hands it over. */
export type SpecProbe = ProbeSpec
export type { HealthOptions }

/** Converts the spec's probe to the adapter's. */
export const specProbe = (p: SpecProbe): Probe | undefined => {
  const action: ProbeAction | undefined = p.http
    ? {
        type: "http",
        port: p.http.port,
        path: p.http.path,
        ...(p.http.scheme ? { scheme: p.http.scheme === "HTTPS" ? "https" : "http" } : {})
      }
    : p.tcp
      ? { type: "tcp", port: p.tcp.port }
      : p.exec && p.exec.command.length > 0
        ? { type: "exec", command: p.exec.command as readonly [string, ...Array<string>] }
        : undefined
  if (!action) return undefined
  return {
    action,
    ...(p.initialDelay !== undefined ? { initialDelaySeconds: p.initialDelay / 1000 } : {}),
    ...(p.period !== undefined && p.period > 0 ? { periodSeconds: p.period / 1000 } : {}),
    ...(p.successThreshold !== undefined ? { successThreshold: p.successThreshold } : {}),
    ...(p.failureThreshold !== undefined ? { failureThreshold: p.failureThreshold } : {})
  }
}

export interface DockerAdapterShape extends TargetAdapterShape {
  /** Health, optionally judged by the rollout spec's probe when the container has no HEALTHCHECK. */
  readonly health: (target: Target, options?: HealthOptions) => Effect.Effect<HealthReport, AdapterError>
  /** The engines by host name (tests and tools reach the Engine API through them). */
  readonly engines: ReadonlyMap<string, Engine>
  /** The scrubber every message goes through (register extra secrets with it). */
  readonly scrubber: SecretScrubber
}

const decodeSelector = Schema.decodeUnknownEffect(DockerSelector)

/** Builds the adapter from its configuration (hosts, registries, cleanup, health defaults). */
export const makeDockerAdapter = Effect.fnUntraced(function* (input: DockerAdapterConfigInput = {}) {
  const config = yield* Effect.fromResult(decodeDockerAdapterConfig(input)).pipe(
    Effect.mapError((e) => new DockerConfigError({ message: `invalid Docker adapter configuration: ${e.message}` }))
  )
  const scrubber = new SecretScrubber()
  for (const c of Object.values(config.registries ?? {})) {
    scrubber.add("identityToken" in c ? c.identityToken.toString() : undefined)
  }
  const hosts: ReadonlyArray<HostConfig> = config.hosts ?? [{ name: "local" }]
  const engines = new Map<string, Engine>()
  for (const h of hosts) {
    if (engines.has(h.name)) return yield* new DockerConfigError({ message: `duplicate host name ${h.name}` })
    const connection = yield* Effect.try({
      try: () => connectionOf(h),
      catch: (e) => new DockerConfigError({ message: `host ${h.name}: ${(e as Error).message}` })
    })
    engines.set(h.name, new Engine(h.name, h, connection))
  }

  const apiTimeoutMs = (config.apiTimeoutSeconds ?? 30) * 1000
  const pullTimeoutMs = (config.pullTimeoutSeconds ?? 600) * 1000
  const defaultStopSeconds = config.stopTimeoutSeconds ?? 10
  const keepOld = config.keepOld ?? 0

  /** Health settings per target, from the selector that discovered it. */
  const healthByTarget = new Map<string, HealthConfig>()
  /** RestartCount first seen per container id (0 for containers this process created). */
  const restartBaseline = new Map<string, number>()
  const readySince = new Map<string, number>()
  const probeStates = new Map<string, ProbeState>()

  const fail = (operation: Operation, target: string | undefined, message: string, transient = false) =>
    Effect.fail(adapterError(scrubber, operation, target, message, transient))

  const call = <A>(
    operation: Operation,
    target: string | undefined,
    what: string,
    thunk: (signal: AbortSignal) => Promise<A>,
    timeoutMs = apiTimeoutMs
  ) => engineCall(scrubber, { operation, target, what, timeoutMs }, thunk)

  // ---------------------------------------------------------------------------------------------
  // Engine primitives

  const resolve = (operation: Operation, target: Target) =>
    Effect.suspend(() => {
      const slash = target.id.indexOf("/")
      const host = slash > 0 ? target.id.slice(0, slash) : ""
      const name = slash > 0 ? target.id.slice(slash + 1) : ""
      const engine = engines.get(host)
      if (engine === undefined || name === "") {
        return fail(operation, target.id, `target id ${target.id} is not <host>/<container> with a configured host`)
      }
      return Effect.succeed({ engine, host, name, id: target.id })
    })

  /** Container inspect by name or id; `undefined` when there is none. */
  const inspectOpt = (op: Operation, target: string, engine: Engine, ref: string) =>
    Effect.tryPromise({
      try: (signal) => engine.docker.getContainer(ref).inspect({ abortSignal: signal }) as Promise<Json>,
      catch: (e) => e
    }).pipe(
      Effect.map((c): Json | undefined => {
        // Docker resolves names by prefix of ids too; insist on the exact name or id.
        const name = String(c?.Name ?? "").replace(/^\//, "")
        return name === ref || String(c?.Id ?? "").startsWith(ref) ? c : undefined
      }),
      Effect.catch((e) =>
        isNotFound(e)
          ? Effect.succeed(undefined)
          : Effect.fail(toAdapterError(scrubber, op, target, `inspect container ${ref} on ${engine.name}`, e))
      ),
      Effect.timeoutOrElse({
        duration: apiTimeoutMs,
        orElse: () =>
          fail(op, target, `inspect container ${ref} on ${engine.name}: no answer within ${apiTimeoutMs / 1000}s`, true)
      })
    )

  const imageOpt = (op: Operation, target: string, engine: Engine, ref: string) =>
    Effect.tryPromise({
      try: (signal) => engine.docker.getImage(ref).inspect({ abortSignal: signal } as {}) as Promise<Json>,
      catch: (e) => e
    }).pipe(
      Effect.map((i): Json | undefined => i),
      Effect.catch((e) =>
        isNotFound(e)
          ? Effect.succeed(undefined)
          : Effect.fail(toAdapterError(scrubber, op, target, `inspect image ${ref} on ${engine.name}`, e))
      ),
      Effect.timeoutOrElse({
        duration: apiTimeoutMs,
        orElse: () =>
          fail(op, target, `inspect image ${ref} on ${engine.name}: no answer within ${apiTimeoutMs / 1000}s`, true)
      })
    )

  const tolerate = (pred: (e: unknown) => boolean) => (e: unknown) =>
    pred(e) ? Promise.resolve(undefined) : Promise.reject(e)

  const stop = (op: Operation, target: string, engine: Engine, c: Json) => {
    const t = typeof c.Config?.StopTimeout === "number" ? c.Config.StopTimeout : defaultStopSeconds
    return call(
      op,
      target,
      `stop ${String(c.Name).replace(/^\//, "")} on ${engine.name}`,
      (signal) => engine.docker.getContainer(c.Id).stop({ t, abortSignal: signal }).catch(tolerate(isNotModified)),
      (t + 30) * 1000
    )
  }
  /**
   * Starts a container. A daemon stopped mid-operation can leave a stale endpoint of the same name in
   * a network ("endpoint with name X already exists in network N"): it is force-disconnected and the
   * start retried once.
   */
  const start = (op: Operation, target: string, engine: Engine, id: string, what: string) =>
    call(op, target, `start ${what} on ${engine.name}`, async (signal) => {
      const c = engine.docker.getContainer(id)
      try {
        await c.start({ abortSignal: signal }).catch(tolerate(isNotModified))
      } catch (e) {
        const m = /endpoint with name (\S+) already exists in network (\S+)/.exec(describeCause(e).message)
        if (!m) throw e
        await engine.docker
          .getNetwork(m[2] as string)
          .disconnect({ Container: m[1], Force: true, abortSignal: signal } as {})
          .catch(() => undefined)
        await c.start({ abortSignal: signal }).catch(tolerate(isNotModified))
      }
    })
  /** Renames; `false` when the name is taken (a request of a killed process may land late: re-inspect). */
  /**
   * Starts a container the adapter created; `false` when the engine cannot start it because a
   * daemon restart left its containerd task behind ("task <id>: already exists"): it is then
   * removed, and the caller creates it again.
   */
  const startNew = (op: Operation, target: string, engine: Engine, id: string, what: string) =>
    start(op, target, engine, id, what).pipe(
      Effect.as(true),
      Effect.catch((e) =>
        /task [0-9a-f]+: already exists/.test(e.message)
          ? remove(op, target, engine, id).pipe(Effect.as(false))
          : Effect.fail(e)
      )
    )

  const rename = (op: Operation, target: string, engine: Engine, id: string, name: string) =>
    call(op, target, `rename ${id.slice(0, 12)} to ${name} on ${engine.name}`, (signal) =>
      engine.docker
        .getContainer(id)
        .rename({ name, abortSignal: signal })
        .then(
          () => true,
          // 409: the name is taken; 400: it already has that name (a late rename of a killed process).
          (e) => (isConflict(e) || describeCause(e).status === 400 ? false : Promise.reject(e))
        )
    )
  const remove = (op: Operation, target: string, engine: Engine, id: string) =>
    call(op, target, `remove ${id.slice(0, 12)} on ${engine.name}`, (signal) =>
      engine.docker
        .getContainer(id)
        .remove({ force: true, v: false, abortSignal: signal } as {})
        .catch(tolerate(isNotFound))
    )

  // ---------------------------------------------------------------------------------------------
  // Images

  const pull = (op: Operation, target: string, engine: Engine, ref: ParsedImageRef) =>
    Effect.gen(function* () {
      const resolved = yield* Effect.promise(() =>
        resolveRegistryAuth(ref.registry, config.registries, config.dockerConfig, scrubber)
      )
      const qs = new URLSearchParams({ fromImage: ref.fromImage, tag: ref.digest ?? ref.tag ?? "latest" })
      const headers: Record<string, string> = {}
      if (resolved) headers["X-Registry-Auth"] = registryAuthHeader(resolved.auth, scrubber)
      let streamError: string | undefined
      const res = yield* call(
        op,
        target,
        `pull ${ref.raw} on ${engine.name}`,
        (signal) =>
          engine.request("POST", `/images/create?${qs.toString()}`, {
            headers,
            signal,
            onLine: (line) => {
              const l = line as { error?: string; errorDetail?: { message?: string } }
              if (l.errorDetail?.message || l.error) streamError = l.errorDetail?.message ?? l.error
            }
          }),
        pullTimeoutMs
      )
      const bodyMessage = (): string => {
        try {
          return (JSON.parse(res.body.toString("utf8")) as { message?: string }).message ?? res.body.toString("utf8")
        } catch {
          return res.body.toString("utf8")
        }
      }
      const problem = res.status >= 400 ? bodyMessage() : streamError
      if (problem === undefined) return
      const who = resolved
        ? `credentials${resolved.username ? ` of user "${resolved.username}"` : ""} from ${resolved.source}`
        : "no credentials"
      const denied = /unauthorized|authentication required|denied|no basic auth credentials|401|403|forbidden/i.test(
        problem
      )
      const message = denied
        ? `pull ${ref.raw}: registry ${ref.registry} refused access with ${who}: ${problem.trim()}`
        : `pull ${ref.raw} from registry ${ref.registry} failed: ${problem.trim()}`
      const transient =
        !denied &&
        (res.status >= 500 || streamError !== undefined) &&
        !/not found|manifest unknown|no such/i.test(problem)
      return yield* fail(op, target, message, transient)
    })

  /** The image to run, pulled per the pull policy; its inspect. */
  const ensureImage = (op: Operation, target: string, engine: Engine, ref: ParsedImageRef) =>
    Effect.gen(function* () {
      const policy = config.pullPolicy ?? (defaultPullsAlways(ref) ? "Always" : "IfNotPresent")
      if (policy !== "Always") {
        const local = yield* imageOpt(op, target, engine, ref.raw)
        if (local !== undefined) return local as Json
        if (policy === "Never")
          return yield* fail(op, target, `image ${ref.raw} is not on ${engine.name} and pullPolicy is Never`)
      }
      yield* pull(op, target, engine, ref)
      const image = yield* imageOpt(op, target, engine, ref.raw)
      if (image === undefined)
        return yield* fail(op, target, `image ${ref.raw} missing on ${engine.name} after pull`, true)
      return image as Json
    })

  const parseRef = (op: Operation, target: string, artifact: Artifact) =>
    Effect.suspend(() => {
      const ref = parseImageRef(artifact.image.raw)
      return ref
        ? Effect.succeed(ref)
        : fail(op, target, `invalid image reference ${JSON.stringify(artifact.image.raw)}`)
    })

  /**
   * The manifest digest the image's tag names in its registry (see `resolveManifestDigest`). When
   * the registry cannot tell (unreachable, unknown there) and the first host's engine has the image,
   * its `RepoDigests` entry for this repository, or `undefined` for an image that was never pushed;
   * otherwise the registry's error.
   */
  const resolveDigest = (image: ImageRef) =>
    Effect.gen(function* () {
      const ref = parseImageRef(image.raw)
      if (ref === undefined)
        return yield* fail("inspect", undefined, `invalid image reference ${JSON.stringify(image.raw)}`)
      const auth = yield* Effect.promise(() =>
        resolveRegistryAuth(ref.registry, config.registries, config.dockerConfig, scrubber)
      )
      const fromRegistry = yield* resolveManifestDigest(ref, auth?.auth, apiTimeoutMs).pipe(
        Effect.mapError((e) =>
          adapterError(
            scrubber,
            "inspect",
            undefined,
            `resolve the digest of ${ref.raw} from registry ${ref.registry}: ${e.message}`,
            e.reason === "unreachable"
          )
        ),
        Effect.result
      )
      if (Result.isSuccess(fromRegistry)) return fromRegistry.success as ResolvedDigest | undefined
      const engine = engines.values().next().value
      const local = engine === undefined ? undefined : yield* imageOpt("inspect", image.raw, engine, ref.raw)
      if (local === undefined) return yield* Effect.fail(fromRegistry.failure)
      const prefix = `${ref.fromImage}@`
      const repoDigest = ((local.RepoDigests ?? []) as Array<string>).find((d) => d.startsWith(prefix))
      return repoDigest === undefined
        ? undefined
        : ({ digest: repoDigest.slice(prefix.length), configDigest: String(local.Id) } as ResolvedDigest)
    })

  // ---------------------------------------------------------------------------------------------
  // Files (config-only rollouts) and the stash that lets a rollback restore them

  const readFile = (op: Operation, target: string, engine: Engine, id: string, path: string) =>
    call(op, target, `read ${path} in ${id.slice(0, 12)}`, async (signal) => {
      try {
        const stream = await engine.docker.getContainer(id).getArchive({ path, abortSignal: signal } as {})
        const chunks: Array<Buffer> = []
        for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
        const entries = readTar(Buffer.concat(chunks))
        // A malformed archive fails this read (the error becomes the call's failure).
        if (Result.isFailure(entries)) throw entries.failure
        const base = path.split("/").pop() ?? path
        const file = entries.success.get(base) ?? [...entries.success.values()][0]
        return file === undefined
          ? undefined
          : {
              content: Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength),
              mode: file.mode,
              uid: file.uid,
              gid: file.gid
            }
      } catch (e) {
        if (isNotFound(e)) return undefined
        throw e
      }
    })

  const writeFiles = (
    op: Operation,
    target: string,
    engine: Engine,
    id: string,
    files: ReadonlyArray<{ path: string; content: Buffer; mode?: number; uid?: number; gid?: number }>
  ) =>
    call(op, target, `write ${files.map((f) => f.path).join(", ")} in ${id.slice(0, 12)}`, async (signal) => {
      // Written now: an agent that reloads on a newer mtime must see one (the codec's default is the epoch).
      const mtime = new Date()
      const archive = writeTar(
        files.map((f) => ({
          path: f.path.replace(/^\/+/, ""),
          content: f.content,
          mtime,
          ...(f.mode !== undefined ? { mode: f.mode & 0o7777 } : {}),
          ...(f.uid !== undefined ? { uid: f.uid } : {}),
          ...(f.gid !== undefined ? { gid: f.gid } : {})
        }))
      )
      if (Result.isFailure(archive)) throw archive.failure
      return engine.docker
        .getContainer(id)
        .putArchive(Buffer.from(archive.success.buffer, archive.success.byteOffset, archive.success.byteLength), {
          path: "/",
          abortSignal: signal
        } as never)
    })

  const readStash = (op: Operation, target: string, engine: Engine, id: string) =>
    readFile(op, target, engine, id, STASH_PATH).pipe(
      Effect.map((e): ConfigStash | undefined => {
        if (!e) return undefined
        try {
          return JSON.parse(e.content.toString("utf8")) as ConfigStash
        } catch {
          return undefined
        }
      })
    )
  const writeStash = (op: Operation, target: string, engine: Engine, id: string, stash: ConfigStash) =>
    writeFiles(op, target, engine, id, [{ path: STASH_PATH, content: Buffer.from(JSON.stringify(stash)), mode: 0o600 }])

  /**
   * Keeps the current content of `paths` (in container `holder`) for a rollback, once per rollout:
   * a re-run after a crash must not overwrite the original with the new content.
   */
  const stashFiles = (
    op: Operation,
    target: string,
    engine: Engine,
    holder: string,
    key: string,
    paths: ReadonlyArray<string>,
    signal: string
  ) =>
    Effect.gen(function* () {
      const existing = yield* readStash(op, target, engine, holder)
      if (existing && existing.key === key && existing.state === "applied") return
      const files: Record<string, ConfigStash["files"][string]> = {}
      for (const p of paths) {
        const f = yield* readFile(op, target, engine, holder, p)
        files[p] = f ? { data: f.content.toString("base64"), mode: f.mode, uid: f.uid, gid: f.gid } : null
      }
      yield* writeStash(op, target, engine, holder, { key, state: "applied", files, signal })
    })

  /** Writes the files that differ; returns whether any did. Keeps each existing file's owner and mode. */
  const syncFiles = (
    op: Operation,
    target: string,
    engine: Engine,
    id: string,
    files: Readonly<Record<string, string>>
  ) =>
    Effect.gen(function* () {
      const changed: Array<{ path: string; content: Buffer; mode?: number; uid?: number; gid?: number }> = []
      for (const [path, text] of Object.entries(files)) {
        const want = Buffer.from(text, "utf8")
        const cur = yield* readFile(op, target, engine, id, path)
        if (cur?.content.equals(want)) continue
        changed.push(
          cur ? { path, content: want, mode: cur.mode, uid: cur.uid, gid: cur.gid } : { path, content: want }
        )
      }
      if (changed.length > 0) yield* writeFiles(op, target, engine, id, changed)
      return changed.length > 0
    })

  const restoreStash = (op: Operation, target: string, engine: Engine, id: string, running: boolean) =>
    Effect.gen(function* () {
      const stash = yield* readStash(op, target, engine, id)
      if (stash?.state !== "applied") return
      const files = Object.entries(stash.files).flatMap(([path, f]) =>
        f ? [{ path, content: Buffer.from(f.data, "base64"), mode: f.mode, uid: f.uid, gid: f.gid }] : []
      )
      if (files.length > 0) yield* writeFiles(op, target, engine, id, files)
      if (running) {
        yield* call(op, target, `signal ${stash.signal} to ${id.slice(0, 12)}`, (signal) =>
          engine.docker.getContainer(id).kill({ signal: stash.signal, abortSignal: signal } as {})
        )
      }
      yield* writeStash(op, target, engine, id, { ...stash, state: "restored" })
    })

  // ---------------------------------------------------------------------------------------------
  // Container configuration

  /** The create spec of a container (its own config, minus what its image brought). */
  const specOf = (op: Operation, target: string, engine: Engine, c: Json) =>
    Effect.gen(function* () {
      const image = yield* imageOpt(op, target, engine, c.Image)
      const inherited = new Set<string>()
      for (const from of (c.HostConfig?.VolumesFrom ?? []) as Array<string>) {
        const src = yield* inspectOpt(op, target, engine, from.split(":")[0] ?? from)
        for (const m of (src?.Mounts ?? []) as Array<Json>) if (m?.Destination) inherited.add(m.Destination)
      }
      return extractCreateSpec(c, image, { inheritedDestinations: inherited })
    })

  const revisionOf = (host: string, c: Json, spec: CreateSpec | undefined, replaced?: string): Revision => {
    const data: DockerRevisionData = {
      v: 1,
      host,
      name: baseName(String(c.Name).replace(/^\//, "")).base,
      containerId: c.Id,
      imageId: c.Image,
      running: c.State?.Running === true,
      ...(spec ? { create: spec } : {}),
      ...(replaced ? { replaced } : {})
    }
    return {
      image: c.Config?.Image ?? c.Image,
      ...(spec ? { configHash: sha256OfJson({ ...spec, name: undefined }) } : {}),
      data
    }
  }

  /** Creates a fully configured container (networks connected, files written) that is not started. */
  const createConfigured = (
    op: Operation,
    target: string,
    engine: Engine,
    spec: CreateSpec,
    image: string,
    name: string,
    artifact: Artifact
  ) =>
    Effect.gen(function* () {
      const req = buildCreateRequest(spec, image, name, artifact.config?.env)
      const created = yield* call(op, target, `create ${name} on ${engine.name}`, (signal) =>
        engine.docker
          .createContainer({ ...req.create, abortSignal: signal })
          .catch((e) => (isConflict(e) ? undefined : Promise.reject(e)))
      )
      // The name is taken: a create of a killed process landed late. The caller re-inspects.
      if (created === undefined) return undefined
      restartBaseline.set(created.id, 0)
      for (const n of req.connect) {
        yield* call(op, target, `connect ${name} to network ${n.network}`, (signal) =>
          engine.docker
            .getNetwork(n.network)
            .connect({ Container: created.id, EndpointConfig: n.endpoint, abortSignal: signal } as {})
        )
      }
      if (artifact.config?.files) yield* syncFiles(op, target, engine, created.id, artifact.config.files)
      return created.id as string
    })

  /** Does `c` already run what the artifact asks for (image, env overrides)? */
  const satisfies = (c: Json, imageId: string, artifact: Artifact): boolean => {
    if (c.Image !== imageId) return false
    const env = envMap(c.Config?.Env)
    return Object.entries(artifact.config?.env ?? {}).every(([k, v]) => env[k] === v)
  }

  // ---------------------------------------------------------------------------------------------
  // The adapter operations

  const discover = (selectorInput: unknown) =>
    Effect.gen(function* () {
      const selector = yield* decodeSelector(selectorInput, { errors: "all" }).pipe(
        Effect.mapError((e) => adapterError(scrubber, "discover", undefined, `invalid docker selector: ${e.message}`))
      )
      const targets: Array<Target> = []
      const nameRes = selector.names?.map(globToRegExp)
      for (const engine of engines.values()) {
        const h = engine.config
        if (selector.hosts && !selector.hosts.includes(h.name)) continue
        if (selector.hostLabels && !Object.entries(selector.hostLabels).every(([k, v]) => h.labels?.[k] === v)) continue
        const labelFilters = Object.entries({ ...h.containerLabels, ...selector.labels }).map(([k, v]) =>
          v === "*" ? k : `${k}=${v}`
        )
        const list = yield* call("discover", undefined, `list containers on ${h.name}`, (signal) =>
          engine.docker.listContainers({
            all: true,
            ...(labelFilters.length > 0 ? { filters: { label: labelFilters } } : {}),
            abortSignal: signal
          } as {})
        )
        const groups = new Map<string, { primary?: Json; parked: Array<Json> }>()
        for (const c of list as Array<Json>) {
          const name = String(c.Names?.[0] ?? "").replace(/^\//, "")
          const { base, kind } = baseName(name)
          const g = groups.get(base) ?? { parked: [] }
          if (kind === "primary") g.primary = c
          else g.parked.push(c)
          groups.set(base, g)
        }
        for (const [base, g] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
          if (nameRes && !nameRes.some((re) => re.test(base))) continue
          const c = g.primary
          const include =
            c !== undefined
              ? c.State === "running" ||
                selector.includeStopped === true ||
                (c.State === "created" && g.parked.length > 0)
              : // the target is mid-update (its container parked aside by a crashed apply)
                g.parked.length > 0 &&
                g.parked.some((p) => baseName(String(p.Names?.[0] ?? "").replace(/^\//, "")).kind === "aside")
          if (!include) continue
          const labelsFrom = (c ?? g.parked[0])?.Labels ?? {}
          const ordinalMatch = /(\d+)$/.exec(base)
          const id = `${h.name}/${base}`
          targets.push({
            id,
            name: base,
            labels: { ...labelsFrom, ...h.labels, "sluice.io/host": h.name },
            ...(ordinalMatch ? { ordinal: Number(ordinalMatch[1]) } : {})
          })
          if (selector.health) healthByTarget.set(id, selector.health)
          else healthByTarget.delete(id)
        }
      }
      return targets
    })

  const inspect = (target: Target) =>
    Effect.gen(function* () {
      const { engine, host, name } = yield* resolve("inspect", target)
      let c = yield* inspectOpt("inspect", target.id, engine, name)
      if (c === undefined) {
        // Mid-update after a crash: the old container is parked aside.
        const parked = yield* call("inspect", target.id, `list containers on ${host}`, (signal) =>
          engine.docker.listContainers({
            all: true,
            filters: { name: [`^/${reEscape(`${name}${ASIDE_MARK}`)}`] },
            abortSignal: signal
          } as {})
        )
        const first = (parked as Array<Json>)[0]
        if (first) c = yield* inspectOpt("inspect", target.id, engine, first.Id)
      }
      if (c === undefined) return yield* fail("inspect", target.id, `container ${name} not found on ${host}`)
      const image = yield* imageOpt("inspect", target.id, engine, c.Image)
      const spec = yield* specOf("inspect", target.id, engine, c)
      const state: TargetState = {
        target,
        revision: revisionOf(host, c, spec),
        workload: { source: "docker", container: c, ...(image ? { image } : {}) }
      }
      return state
    })

  /**
   * The container as `apply` would create it (its own config on the new image's defaults), and the
   * new image's inspect — from the engine when it has the image, else from the registry (manifest +
   * config blob, nothing is pulled).
   */
  const render = (state: TargetState, artifact: Artifact) =>
    Effect.gen(function* () {
      const target = state.target
      const { engine } = yield* resolve("inspect", target)
      const ref = yield* parseRef("inspect", target.id, artifact)
      const w = state.workload
      if (w.source !== "docker") return yield* fail("inspect", target.id, "render: not a docker workload")
      const container = w.container as Json
      const oldImage = w.image as Json | undefined
      let image = yield* imageOpt("inspect", target.id, engine, ref.raw)
      if (image === undefined) {
        const auth = yield* Effect.promise(() =>
          resolveRegistryAuth(ref.registry, config.registries, config.dockerConfig, scrubber)
        )
        image = yield* fetchImageConfig(ref, auth?.auth, apiTimeoutMs).pipe(
          Effect.mapError((e) =>
            adapterError(
              scrubber,
              "inspect",
              target.id,
              `read the configuration of ${ref.raw} from registry ${ref.registry}: ${e.message}`,
              e.reason === "unreachable"
            )
          )
        )
      }
      const spec = extractCreateSpec(container, oldImage)
      const cfg: Json = spec.config
      const ic: Json = image?.Config ?? {}
      const env = [...((ic.Env ?? []) as Array<string>)]
      for (const e of [
        ...((cfg.Env ?? []) as Array<string>),
        ...Object.entries(artifact.config?.env ?? {}).map(([k, v]) => `${k}=${v}`)
      ]) {
        const k = e.split("=")[0]
        const i = env.findIndex((x) => x.split("=")[0] === k)
        if (i >= 0) env[i] = e
        else env.push(e)
      }
      const entrypointSet = cfg.Entrypoint !== undefined
      const merged: Json = {
        ...(container.Config ?? {}),
        Image: ref.raw,
        User: cfg.User ?? ic.User ?? "",
        Env: env,
        Labels: { ...(ic.Labels ?? {}), ...(cfg.Labels ?? {}) },
        Entrypoint: entrypointSet ? cfg.Entrypoint : (ic.Entrypoint ?? null),
        Cmd: cfg.Cmd !== undefined ? cfg.Cmd : entrypointSet ? null : (ic.Cmd ?? null),
        WorkingDir: cfg.WorkingDir ?? ic.WorkingDir ?? "",
        ExposedPorts: { ...(ic.ExposedPorts ?? {}), ...(cfg.ExposedPorts ?? {}) },
        Volumes: { ...(ic.Volumes ?? {}), ...(cfg.Volumes ?? {}) },
        Healthcheck: cfg.Healthcheck ?? ic.Healthcheck,
        StopSignal: cfg.StopSignal ?? ic.StopSignal
      }
      const rendered: WorkloadSource = {
        source: "docker",
        container: { ...container, Image: image?.Id ?? ref.raw, Config: merged },
        image
      }
      return rendered
    })

  /**
   * The config-only path: same image, files (in bind mounts) and/or a signal, no recreate. The
   * previous file contents are stashed in the container for a rollback.
   */
  const applyConfigOnly = (target: Target, engine: Engine, host: string, c: Json, artifact: Artifact, key: string) =>
    Effect.gen(function* () {
      const files = artifact.config?.files ?? {}
      const signal = artifact.config?.signal ?? "SIGHUP"
      if (Object.keys(files).length > 0) {
        yield* stashFiles("apply", target.id, engine, c.Id, key, Object.keys(files), signal)
        yield* syncFiles("apply", target.id, engine, c.Id, files)
      }
      // Always signalled, also on a re-run after a crash: a reload of the same config is harmless,
      // a missed one is not.
      if (c.State?.Running) {
        yield* call("apply", target.id, `signal ${signal} to ${target.id}`, (s) =>
          engine.docker.getContainer(c.Id).kill({ signal, abortSignal: s } as {})
        )
      }
      const fresh = (yield* inspectOpt("apply", target.id, engine, c.Id)) ?? c
      return {
        ...revisionOf(host, fresh, undefined),
        configHash: sha256OfJson(files)
      } satisfies Revision
    })

  const apply = (target: Target, artifact: Artifact, ctx: ApplyContext) =>
    Effect.gen(function* () {
      const { engine, host, name } = yield* resolve("apply", target)
      const ref = yield* parseRef("apply", target.id, artifact)
      const key = rolloutKey(ctx.rolloutId)
      const asideName = `${name}${ASIDE_MARK}${key}`
      const tempName = `${name}${TEMP_MARK}${key}`
      const op = "apply" as const
      const T = target.id
      let conflicted = false

      // Config-only: the container already runs the image (and env) asked for.
      const first = yield* inspectOpt(op, T, engine, name)
      const wantsConfigOnly =
        artifact.config !== undefined &&
        (artifact.config.files !== undefined || artifact.config.signal !== undefined) &&
        first !== undefined
      const image = yield* ensureImage(op, T, engine, ref)
      if (wantsConfigOnly && satisfies(first, image.Id, artifact)) {
        const aside = yield* inspectOpt(op, T, engine, asideName)
        if (aside === undefined) return yield* applyConfigOnly(target, engine, host, first, artifact, key)
      }

      // Each pass looks at what is there and takes the next step, so a re-run after a crash (or a
      // late request of a killed process, which holds a name while the engine works on it) converges.
      for (let step = 0; step < 40; step++) {
        if (step > 0 && conflicted) yield* Effect.sleep(Math.min(2000, 200 * step))
        conflicted = false
        const cur = yield* inspectOpt(op, T, engine, name)
        const aside = yield* inspectOpt(op, T, engine, asideName)
        const temp = yield* inspectOpt(op, T, engine, tempName)
        const brief = (c: Json | undefined) =>
          c === undefined ? "-" : `${String(c.Id).slice(0, 12)}:${c.Config?.Image}:${c.State?.Status}`
        yield* Effect.logDebug(
          `apply ${T} step ${step}: current ${brief(cur)}, parked ${brief(aside)}, new ${brief(temp)}`
        )

        if (cur !== undefined && satisfies(cur, image.Id, artifact)) {
          // Done (or nothing to do): the target runs the desired image.
          if (temp !== undefined) yield* remove(op, T, engine, temp.Id)
          if (aside?.State?.Running) yield* stop(op, T, engine, aside)
          if (aside !== undefined && !cur.State?.Running && !(yield* startNew(op, T, engine, cur.Id, name))) {
            conflicted = true
            continue
          }
          const now = (yield* inspectOpt(op, T, engine, cur.Id)) ?? cur
          return revisionOf(host, now, undefined, aside?.Id)
        }

        if (cur !== undefined) {
          // The old container still holds the name.
          if (aside !== undefined) {
            return yield* fail(
              op,
              T,
              `${name} on ${host} runs ${cur.Config?.Image} (not ${ref.raw}) while ${asideName} is parked beside it: ` +
                `resolve by hand (remove one of them)`
            )
          }
          const spec = yield* specOf(op, T, engine, cur)
          if (artifact.config?.files)
            yield* stashFiles(
              op,
              T,
              engine,
              cur.Id,
              key,
              Object.keys(artifact.config.files),
              artifact.config.signal ?? "SIGHUP"
            )
          const conflict = surgeConflict(spec)
          if (ctx.mode === "surge" && conflict === undefined && cur.State?.Running) {
            // Blue-green: the new one runs before the old one stops.
            let tempId = temp?.State?.Running ? temp.Id : undefined
            if (tempId === undefined) {
              if (temp !== undefined) yield* remove(op, T, engine, temp.Id)
              tempId = yield* createConfigured(op, T, engine, spec, ref.raw, tempName, artifact)
              if (tempId === undefined) {
                conflicted = true
                continue
              }
              if (!(yield* startNew(op, T, engine, tempId, tempName))) {
                conflicted = true
                continue
              }
            }
            const id = tempId
            const running = yield* waitRunning(op, T, engine, id)
            if (!running.ok) {
              yield* remove(op, T, engine, id)
              return yield* fail(
                op,
                T,
                `the new container for ${name} did not stay up: ${running.reason} (old one left running)`
              )
            }
            yield* stop(op, T, engine, cur)
            conflicted = !(yield* rename(op, T, engine, cur.Id, asideName)) || !(yield* rename(op, T, engine, id, name))
            continue
          }
          // Direct replace: ports or names would conflict (or replace was asked for).
          yield* stop(op, T, engine, cur)
          conflicted = !(yield* rename(op, T, engine, cur.Id, asideName))
          continue
        }

        // The name is free.
        if (temp?.State?.Running) {
          conflicted = !(yield* rename(op, T, engine, temp.Id, name))
          continue
        }
        if (temp !== undefined) yield* remove(op, T, engine, temp.Id) // possibly half-configured: redo it
        if (aside === undefined) return yield* fail(op, T, `container ${name} not found on ${host}`)
        if (aside.State?.Running) yield* stop(op, T, engine, aside)
        const spec = yield* specOf(op, T, engine, aside)
        const id = yield* createConfigured(op, T, engine, spec, ref.raw, tempName, artifact)
        if (id === undefined || !(yield* rename(op, T, engine, id, name))) {
          conflicted = true
          continue
        }
        conflicted = !(yield* startNew(op, T, engine, id, name))
      }
      return yield* fail(op, T, `apply of ${ref.raw} to ${name} did not converge`, true)
    })

  /** Waits until a just-started container has been running for a moment (surge). */
  const waitRunning = (op: Operation, target: string, engine: Engine, id: string) =>
    Effect.gen(function* () {
      let seen = 0
      for (let i = 0; i < 100; i++) {
        const c = yield* inspectOpt(op, target, engine, id)
        if (c === undefined) return { ok: false as const, reason: "it disappeared" }
        if (c.State?.Restarting || (c.RestartCount ?? 0) > 0)
          return { ok: false as const, reason: `restart loop (exit code ${c.State?.ExitCode})` }
        if (!c.State?.Running && c.State?.Status !== "created")
          return { ok: false as const, reason: `exited with code ${c.State?.ExitCode}` }
        if (c.State?.Running && ++seen >= 3) return { ok: true as const }
        yield* Effect.sleep(200)
      }
      return { ok: false as const, reason: "not running after 20s" }
    })

  const health = (target: Target, options?: HealthOptions) =>
    Effect.gen(function* () {
      const { engine, name } = yield* resolve("health", target)
      const c = yield* inspectOpt("health", target.id, engine, name)
      if (c === undefined) return { status: "unhealthy", reason: `container ${name} not found` } satisfies HealthReport
      const st = c.State ?? {}
      const now = yield* Clock.currentTimeMillis
      const notReady = (r: HealthReport): HealthReport => {
        readySince.delete(c.Id)
        return r
      }
      if (st.Restarting) {
        return notReady({
          status: "unhealthy",
          reason: `restart loop: restarting after exit code ${st.ExitCode} (${c.RestartCount} restarts)`
        })
      }
      if (!st.Running) {
        if (st.Status === "created") return notReady({ status: "progressing", reason: "created, not started" })
        return notReady({
          status: "unhealthy",
          reason: `not running: ${st.Status}, exit code ${st.ExitCode}${st.OOMKilled ? " (OOM killed)" : ""}${st.Error ? `: ${st.Error}` : ""}`
        })
      }
      const baseline = restartBaseline.get(c.Id)
      if (baseline === undefined) restartBaseline.set(c.Id, c.RestartCount ?? 0)
      else if ((c.RestartCount ?? 0) > baseline) {
        return notReady({
          status: "unhealthy",
          reason: `restart loop: restarted ${c.RestartCount - baseline} time(s) (last exit code ${st.ExitCode})`
        })
      }
      const fromSpec = options?.probe ? specProbe(options.probe) : undefined
      const hc: HealthConfig = {
        ...config.health,
        ...(fromSpec ? { probe: fromSpec } : {}),
        ...healthByTarget.get(target.id)
      }
      let verdict: HealthReport
      if (st.Health && !(hc.preferProbe && hc.probe)) {
        const h = st.Health
        if (h.Status === "healthy") verdict = { status: "healthy" }
        else if (h.Status === "unhealthy") {
          const last = (h.Log ?? []).at(-1)
          const out = String(last?.Output ?? "")
            .trim()
            .slice(-200)
          verdict = {
            status: "unhealthy",
            reason: `HEALTHCHECK failing (${h.FailingStreak} in a row, exit ${last?.ExitCode ?? "?"}${out ? `: ${out}` : ""})`
          }
        } else verdict = { status: "progressing", reason: "HEALTHCHECK starting" }
      } else if (hc.probe) {
        verdict = yield* probe(engine, target.id, c, hc, now)
      } else verdict = { status: "healthy" }
      if (verdict.status !== "healthy") return notReady(verdict)
      const minReadyMs = (hc.minReadySeconds ?? 0) * 1000
      const since = readySince.get(c.Id) ?? now
      readySince.set(c.Id, since)
      if (now - since < minReadyMs) {
        return {
          status: "progressing",
          reason: `healthy for ${Math.floor((now - since) / 1000)}s of minReadySeconds ${hc.minReadySeconds}`
        } satisfies HealthReport
      }
      return verdict
    })

  const probe = (engine: Engine, target: string, c: Json, hc: HealthConfig, now: number) =>
    Effect.gen(function* () {
      const p = hc.probe!
      const startedAt = Date.parse(c.State?.StartedAt ?? "")
      const delayMs = (p.initialDelaySeconds ?? 0) * 1000
      if (Number.isFinite(startedAt) && now - startedAt < delayMs) {
        return {
          status: "progressing",
          reason: `probe: initial delay (${p.initialDelaySeconds}s)`
        } satisfies HealthReport
      }
      const stateKey = `${c.Id}:${canonicalJson(p)}`
      const s = probeStates.get(stateKey) ?? {
        successes: 0,
        failures: 0,
        lastAt: 0,
        lastDetail: "",
        verdict: undefined
      }
      probeStates.set(stateKey, s)
      const periodMs = (p.periodSeconds ?? 10) * 1000
      if (s.lastAt === 0 || now - s.lastAt >= periodMs) {
        const timeoutMs = (p.timeoutSeconds ?? 1) * 1000
        const r = yield* call(
          "health",
          target,
          `probe ${p.action.type}`,
          (signal) => runProbe(engine, c, p.action, timeoutMs, signal),
          timeoutMs + apiTimeoutMs
        )
        s.lastAt = now
        s.lastDetail = r.detail
        if (r.ok) {
          s.successes++
          s.failures = 0
          if (s.successes >= (p.successThreshold ?? 1)) s.verdict = "healthy"
        } else {
          s.failures++
          s.successes = 0
          if (s.failures >= (p.failureThreshold ?? 3)) s.verdict = "unhealthy"
          else if (s.verdict === "healthy") s.verdict = undefined
        }
      }
      if (s.verdict === "healthy") return { status: "healthy" } satisfies HealthReport
      if (s.verdict === "unhealthy")
        return {
          status: "unhealthy",
          reason: `probe failing (${s.failures} in a row): ${s.lastDetail}`
        } satisfies HealthReport
      return { status: "progressing", reason: `probe: ${s.lastDetail || "pending"}` } satisfies HealthReport
    })

  const decodeRevisionData = (target: string, revision: Revision) =>
    Effect.suspend(() => {
      const d = revision.data as DockerRevisionData | undefined
      return d && d.v === 1 && typeof d.containerId === "string" && typeof d.name === "string"
        ? Effect.succeed(d)
        : fail("rollback", target, "the revision carries no Docker data (was it recorded by the docker adapter?)")
    })

  const rollback = (target: Target, revision: Revision, _ctx?: RollbackContext) =>
    Effect.gen(function* () {
      const { engine, host, name } = yield* resolve("rollback", target)
      const data = yield* decodeRevisionData(target.id, revision)
      const op = "rollback" as const
      const T = target.id
      const removeTemps = Effect.gen(function* () {
        const temps = yield* call(op, T, `list containers on ${host}`, (signal) =>
          engine.docker.listContainers({
            all: true,
            filters: { name: [`^/${reEscape(`${name}${TEMP_MARK}`)}`] },
            abortSignal: signal
          } as {})
        )
        for (const t of temps as Array<Json>) yield* remove(op, T, engine, t.Id)
      })
      let conflicted = false
      for (let step = 0; step < 40; step++) {
        if (step > 0 && conflicted) yield* Effect.sleep(Math.min(2000, 200 * step))
        conflicted = false
        const cur = yield* inspectOpt(op, T, engine, name)
        if (cur !== undefined && cur.Id === data.containerId) {
          // The previous container holds its name again (or never lost it).
          yield* removeTemps
          yield* restoreStash(op, T, engine, cur.Id, cur.State?.Running === true)
          if (data.running && !cur.State?.Running) {
            restartBaseline.delete(cur.Id)
            yield* start(op, T, engine, cur.Id, name)
          }
          return
        }
        const old = yield* inspectOpt(op, T, engine, data.containerId)
        if (cur !== undefined) {
          if (old === undefined && cur.Image === data.imageId && cur.State?.Running) {
            // Recreated from the revision's spec by an earlier run of this rollback.
            yield* removeTemps
            return
          }
          // The new container: stop it (gracefully) and remove it.
          yield* stop(op, T, engine, cur)
          yield* remove(op, T, engine, cur.Id)
          continue
        }
        yield* removeTemps
        if (old !== undefined) {
          conflicted = !(yield* rename(op, T, engine, old.Id, name))
          continue
        }
        // The old container is gone (cleaned up, or auto-removed): recreate it from the revision.
        if (!data.create) {
          return yield* fail(
            op,
            T,
            `the previous container ${data.containerId.slice(0, 12)} of ${name} is gone and the revision has no spec to recreate it`
          )
        }
        // The exact image it ran: by its reference when that still names it, else by id, else pulled.
        const byRef = yield* imageOpt(op, T, engine, revision.image)
        let image = revision.image
        if (byRef?.Id !== data.imageId) {
          if (yield* imageOpt(op, T, engine, data.imageId)) image = data.imageId
          else {
            const ref = parseImageRef(revision.image)
            if (!ref) return yield* fail(op, T, `cannot recreate ${name}: invalid image reference ${revision.image}`)
            yield* ensureImage(op, T, engine, ref)
          }
        }
        const tempName = `${name}${TEMP_MARK}rollback`
        const stale = yield* inspectOpt(op, T, engine, tempName)
        if (stale !== undefined) yield* remove(op, T, engine, stale.Id)
        const tempId = yield* createConfigured(op, T, engine, data.create, image, tempName, {
          image: { raw: image } as Artifact["image"]
        })
        if (tempId === undefined || !(yield* rename(op, T, engine, tempId, name))) {
          conflicted = true
          continue
        }
        if (data.running) yield* start(op, T, engine, tempId, name)
        return
      }
      return yield* fail(op, T, `rollback of ${name} did not converge`, true)
    })

  const finalize = (targets: ReadonlyArray<Target>) =>
    Effect.forEach(
      targets,
      (target) =>
        Effect.gen(function* () {
          const { engine, host, name } = yield* resolve("finalize", target)
          const op = "finalize" as const
          const parked = (yield* call(op, target.id, `list containers on ${host}`, (signal) =>
            engine.docker.listContainers({
              all: true,
              filters: { name: [`^/${reEscape(`${name}.sluice-`)}`] },
              abortSignal: signal
            } as {})
          )) as Array<Json>
          const asides = parked
            .filter(
              (p) =>
                baseName(String(p.Names?.[0] ?? "").replace(/^\//, "")).kind === "aside" &&
                baseName(String(p.Names?.[0]).replace(/^\//, "")).base === name
            )
            .sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0))
          for (const p of asides.slice(keepOld)) yield* remove(op, target.id, engine, p.Id)
          for (const p of parked) {
            const b = baseName(String(p.Names?.[0] ?? "").replace(/^\//, ""))
            if (b.kind === "temp" && b.base === name && p.State !== "running")
              yield* remove(op, target.id, engine, p.Id)
          }
          const cur = yield* inspectOpt(op, target.id, engine, name)
          if (cur !== undefined) {
            const stash = yield* readStash(op, target.id, engine, cur.Id)
            if (stash && stash.state === "applied")
              yield* writeStash(op, target.id, engine, cur.Id, { ...stash, state: "done" })
          }
        }),
      { concurrency: 4, discard: true }
    )

  const shape: DockerAdapterShape = {
    name: "docker",
    capabilities: { surge: true, configOnly: true, trafficWeight: false },
    selectorSchema: DockerSelector as unknown as Schema.Codec<unknown, unknown>,
    discover,
    inspect,
    resolveDigest,
    render,
    apply,
    health,
    rollback,
    finalize,
    engines,
    scrubber
  }
  return shape
})

export const DockerAdapter = {
  /** The adapter as a `TargetAdapter` layer. */
  layer: (config: DockerAdapterConfigInput = {}): Layer.Layer<TargetAdapter, DockerConfigError> =>
    Layer.effect(
      TargetAdapter,
      Effect.map(makeDockerAdapter(config), (a) => TargetAdapter.of(a))
    ),
  make: makeDockerAdapter
} as const
