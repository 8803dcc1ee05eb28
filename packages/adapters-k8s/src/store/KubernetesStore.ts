import { randomBytes } from "node:crypto"
import {
  CoordinationV1Api,
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1Lease,
  V1MicroTime
} from "@kubernetes/client-node"
import {
  type ControlRequest,
  type JournalEntry,
  type JournalSnapshot,
  pendingInOrder,
  type RolloutHeader,
  RolloutLocked,
  RolloutNotFound,
  RolloutStore,
  type RolloutStoreShape,
  StoreError,
  StoredRolloutCodec,
  type StoredRollout
} from "@sluice/core"
import { Clock, Duration, Effect, Fiber, Layer, Result, Schedule, Schema } from "effect"
import { loadClients } from "../client.js"
import { statusCode } from "../errors.js"
import {
  chunkName,
  chunkObject,
  controlPrefix,
  dataKey,
  decode,
  decodeHead,
  type HeadJson,
  type HeadState,
  headName,
  headObject,
  KEY,
  LeaseSpec,
  labelsOf,
  leaseName,
  PART_LABEL,
  parseWith,
  ROLLOUT_ID,
  ROLLOUT_ID_ANNOTATION,
  ROLLOUT_LABEL,
  selectorOf,
  splitUtf8,
  timeOf
} from "./objects.js"

/**
 * A `RolloutStore` in the Kubernetes API, for several replicas of a control plane (or `sluice` on
 * an operator's machine) sharing rollouts: one writer per rollout, fenced by the apiserver.
 *
 * Objects, per rollout, in one namespace (see `objects.ts` for names and schemas):
 *
 * - a `coordination.k8s.io/v1` Lease `sluice-<id>`: who may write (holderIdentity), renewed by a
 *   background fiber every third of `leaseDurationSeconds`; `leaseTransitions` is the **generation**,
 *   one more on every acquisition;
 * - the head ConfigMap `sluice-<id>`: `head.json` (where the header, the sealed segments and the
 *   snapshot are, the entry count, and the **fence**: the generation and holder allowed to write)
 *   and `tail.ndjson`, the journal's open end;
 * - immutable ConfigMaps for the header's chunks, the sealed journal segments and the snapshot's
 *   chunks, each at most `segmentBytes` (default 512 KiB, under the 1 MiB object limit);
 * - one ConfigMap per operator control (the inbox), deleted once journaled.
 *
 * **Fencing.** Acquiring takes the Lease by a compare-and-swap on its resourceVersion (only once it
 * has expired: renewTime + leaseDurationSeconds), with generation g = one more than both the
 * Lease's and the head's last; then writes fence = (holder, g) into the head, again by a CAS. Every
 * append and snapshot is one replace of the head with the resourceVersion this writer last wrote
 * or read as a precondition, so the apiserver refuses it (409) once anyone else wrote the head,
 * and the new holder's fence is such a write: a writer whose lease was taken over cannot append,
 * even before its renewal fiber notices. On a 409 the writer reads the head: a fence not its own
 * is a StoreError ("lease lost"), and it stops; its own fence (someone only edited the head's
 * metadata) is retried. A sealed segment is created (immutable, named with the writer's nonce)
 * before the head that lists it: a fenced-out writer's segments are listed by no head.
 *
 * The lease's expiry is judged against the holder's renewTime, so clocks that disagree by more than
 * the lease can let another process take a live holder's lease too early: that costs the holder its
 * run (its next append is refused), never a second writer.
 */
export interface KubernetesStoreOptions {
  /** Path of a kubeconfig (default `$KUBECONFIG`, else `~/.kube/config`, else in-cluster). */
  readonly kubeconfig?: string
  /** A context of the kubeconfig (default: its current one). */
  readonly context?: string
  /** Use the pod's service account. */
  readonly inCluster?: boolean
  /** Where the rollouts live (the store needs configmaps and leases there: see the README's RBAC). */
  readonly namespace: string
  /** How long a lease lasts without renewal (default 15 s); another process takes over after it. */
  readonly leaseDurationSeconds?: number
  /**
   * The lease's holder identity (default: the owner the interpreter passes, `host:pid:random`).
   * Give each replica its own (its pod name): two processes with one identity still never both
   * write (the fence is per acquisition), but a message naming the holder cannot tell them apart,
   * and a replica restarted under the same name waits for its previous life's lease to expire.
   */
  readonly identity?: string
  /** Bytes of journal (UTF-8) per segment object (default 512 KiB). */
  readonly segmentBytes?: number
  /** One API request's time limit (default 10 s). */
  readonly requestTimeoutMs?: number
  /**
   * How long a request keeps trying through an unreachable apiserver (default: two lease durations,
   * at least 30 s: an apiserver restart takes seconds); then it fails with a StoreError, and the run stops.
   */
  readonly writeTimeoutMs?: number
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

/** A failed API request: its HTTP status (none: no answer) and what it was doing. */
class ApiFailure extends Schema.TaggedError<ApiFailure>()("ApiFailure", {
  code: Schema.optional(Schema.Number),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  get transient(): boolean {
    return this.code === undefined || this.code === 429 || this.code >= 500
  }
}

const serverMessage = (cause: unknown): string | undefined => {
  const body = (cause as { body?: unknown } | undefined)?.body
  let parsed: unknown = body
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = body
    }
  }
  if (typeof parsed === "object" && parsed !== null && typeof (parsed as { message?: unknown }).message === "string")
    return (parsed as { message: string }).message
  return undefined
}

const firstLine = (e: unknown) => {
  const text = e instanceof Error ? e.message : String(e)
  const cause = (e as { cause?: unknown }).cause
  const detail = cause instanceof Error ? ` (${cause.message})` : ""
  return `${(text.split("\n")[0] ?? text).slice(0, 300)}${detail}`
}

interface Held {
  readonly owner: string
  readonly identity: string
  readonly generation: number
  /** Names this writer's segments and chunks apart from every other writer's. */
  readonly nonce: string
  count: number
  state: HeadState
  leaseVersion: string
  /** When this writer took the lease (the Lease's acquireTime, kept by every renewal). */
  readonly acquiredAt: number
  /** Local time the last successful renewal was sent (the lease holds until it + the duration). */
  renewedAt: number
  /** Why this writer may no longer write (its lease was taken over), once it knows. */
  lost: string | undefined
  renewal: Fiber.Fiber<void> | undefined
}

const newNonce = () => randomBytes(4).toString("hex")

export const make = Effect.fnUntraced(function* (options: KubernetesStoreOptions) {
  const namespace = options.namespace
  const leaseSeconds = options.leaseDurationSeconds ?? 15
  const leaseMs = leaseSeconds * 1000
  const segmentBytes = options.segmentBytes ?? 512 * 1024
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000
  const writeTimeoutMs = options.writeTimeoutMs ?? Math.max(30_000, 2 * leaseMs)
  const storeName = `kubernetes://${namespace}`

  const clients = yield* loadClients({
    ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
    ...(options.context === undefined ? {} : { context: options.context }),
    ...(options.inCluster === undefined ? {} : { inCluster: options.inCluster })
  }).pipe(
    Effect.mapError(
      (e) => new StoreError({ rolloutId: "*", operation: "open", message: `${storeName}: ${e.message}`, cause: e })
    )
  )
  const core: CoreV1Api = clients.core
  const coordination = clients.config.makeApiClient(CoordinationV1Api)
  const server = clients.config.getCurrentCluster()?.server ?? "the apiserver"

  const error = (rolloutId: string, operation: string, message: string, object?: string, cause?: unknown) =>
    new StoreError({
      rolloutId,
      operation,
      message,
      ...(object === undefined ? {} : { path: object }),
      ...(cause === undefined ? {} : { cause })
    })

  /** One request, with a time limit: an apiserver that accepts and never answers is no hang. */
  const api = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, ApiFailure> =>
    Effect.tryPromise({
      try: f,
      catch: (cause) => {
        const code = statusCode(cause)
        const text =
          code === 403
            ? `forbidden: cannot ${what} (RBAC: see the store's Role in the README)${serverMessage(cause) === undefined ? "" : `: ${serverMessage(cause)}`}`
            : code === 401
              ? `unauthorized: the credentials were refused (${what})`
              : code === undefined
                ? `cannot ${what}: cannot reach ${server}: ${firstLine(cause)}`
                : `cannot ${what} (HTTP ${code}): ${serverMessage(cause) ?? firstLine(cause)}`
        return new ApiFailure({ ...(code === undefined ? {} : { code }), message: text, cause })
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(requestTimeoutMs),
        orElse: () =>
          Effect.fail(
            new ApiFailure({ message: `cannot ${what}: no answer from ${server} within ${requestTimeoutMs / 1000}s` })
          )
      })
    )
  /**
   * Transient failures (no answer, throttled, 5xx) retried with a growing pause (100 ms to 2 s)
   * for up to `writeTimeoutMs`; then the last failure, which says what could not be reached.
   */
  const retrying = <A>(self: Effect.Effect<A, ApiFailure>): Effect.Effect<A, ApiFailure> =>
    Effect.gen(function* () {
      const deadline = (yield* Clock.currentTimeMillis) + writeTimeoutMs
      for (let attempt = 0; ; attempt++) {
        const tried = yield* Effect.result(self)
        if (Result.isSuccess(tried)) return tried.success
        if (!tried.failure.transient || (yield* Clock.currentTimeMillis) > deadline) return yield* tried.failure
        yield* Effect.sleep(Duration.millis(Math.min(2000, 100 * 2 ** attempt)))
      }
    })
  const allowing =
    <B>(code: number, value: B) =>
    <A>(self: Effect.Effect<A, ApiFailure>): Effect.Effect<A | B, ApiFailure> =>
      Effect.catchIf(
        self,
        (e) => e.code === code,
        () => Effect.succeed(value)
      )
  const asStore =
    (rolloutId: string, operation: string, object?: string) =>
    <A, R>(self: Effect.Effect<A, ApiFailure, R>): Effect.Effect<A, StoreError, R> =>
      Effect.mapError(self, (e) => error(rolloutId, operation, `${storeName}: ${e.message}`, object, e))

  const cm = (name: string) => `configmap ${namespace}/${name}`

  // --- reading ---------------------------------------------------------------------------------

  const readHeadObject = (rolloutId: string, operation: string) =>
    api(`get configmaps ${headName(rolloutId)} in namespace ${namespace}`, () =>
      core.readNamespacedConfigMap({ name: headName(rolloutId), namespace })
    ).pipe(allowing(404, undefined), retrying, asStore(rolloutId, operation, cm(headName(rolloutId))))

  /** The head, decoded; `undefined` when the rollout does not exist. */
  const readHead = (rolloutId: string, operation: string) =>
    Effect.gen(function* () {
      const obj = yield* readHeadObject(rolloutId, operation)
      if (obj === undefined) return undefined
      const annotated = obj.metadata?.annotations?.[ROLLOUT_ID_ANNOTATION]
      if (annotated !== rolloutId)
        return yield* error(
          rolloutId,
          operation,
          `${cm(headName(rolloutId))} belongs to rollout ${JSON.stringify(annotated)}, not ${JSON.stringify(rolloutId)}`,
          cm(headName(rolloutId))
        )
      const decoded = decodeHead(rolloutId, obj)
      if (Result.isFailure(decoded))
        return yield* error(
          rolloutId,
          operation,
          `${cm(headName(rolloutId))} is not a rollout head: ${decoded.failure}`,
          cm(headName(rolloutId))
        )
      return decoded.success
    })

  const mustHead = (rolloutId: string, operation: string) =>
    Effect.flatMap(readHead(rolloutId, operation), (h) =>
      h === undefined ? Effect.fail(new RolloutNotFound({ rolloutId })) : Effect.succeed(h)
    )

  /** The concatenated text of chunk objects, each decoded (one data key) and named when bad. */
  const readChunks = (rolloutId: string, operation: string, names: ReadonlyArray<string>, key: string) =>
    Effect.forEach(
      names,
      (name) =>
        api(`get configmaps ${name} in namespace ${namespace}`, () =>
          core.readNamespacedConfigMap({ name, namespace })
        ).pipe(
          retrying,
          asStore(rolloutId, operation, cm(name)),
          Effect.flatMap((obj) => {
            const text = dataKey(obj, key)
            return Result.isSuccess(text)
              ? Effect.succeed({ name, text: text.success })
              : Effect.fail(error(rolloutId, operation, `${cm(name)} is corrupt: data: ${text.failure}`, cm(name)))
          })
        ),
      { concurrency: 4 }
    )

  /** Parses and decodes the journal; a bad line is named by its number and its object. */
  const parseJournal = (rolloutId: string, parts: ReadonlyArray<{ readonly name: string; readonly text: string }>) =>
    Effect.suspend(() => {
      const entries: Array<JournalEntry> = []
      const text = parts.map((p) => p.text).join("")
      // Where each object starts in the text, to name the one a bad line is in.
      const starts: Array<number> = []
      let at = 0
      for (const p of parts) {
        starts.push(at)
        at += p.text.length
      }
      const objectAt = (offset: number) => {
        let i = starts.length - 1
        while (i > 0 && (starts[i] as number) > offset) i--
        return parts[i]?.name ?? headName(rolloutId)
      }
      let offset = 0
      let line = 0
      while (offset < text.length) {
        const end = text.indexOf("\n", offset)
        const stop = end < 0 ? text.length : end
        line++
        const raw = text.slice(offset, stop)
        const where = cm(objectAt(offset))
        const decoded = parseWith(raw, StoredRolloutCodec.journalEntry)
        if (Result.isFailure(decoded))
          return Effect.fail(
            error(rolloutId, "read", `journal line ${line} (in ${where}) is corrupt: ${decoded.failure}`, where)
          )
        entries.push(decoded.success as JournalEntry)
        offset = stop + 1
      }
      return Effect.succeed(entries)
    })

  // --- writing ---------------------------------------------------------------------------------

  /** Creates immutable chunks; one left by an earlier attempt of this writer is replaced. */
  const writeChunks = (
    rolloutId: string,
    operation: string,
    part: "header" | "journal" | "snapshot",
    key: string,
    named: ReadonlyArray<{ readonly name: string; readonly text: string }>
  ) =>
    Effect.forEach(
      named,
      ({ name, text }) => {
        const body = chunkObject(namespace, rolloutId, name, part, key, text)
        const create = api(`create configmaps in namespace ${namespace}`, () =>
          core.createNamespacedConfigMap({ namespace, body })
        )
        return create.pipe(
          Effect.catchIf(
            (e) => e.code === 409,
            // The name carries this writer's nonce: only an earlier attempt of this very write (an
            // answer lost on the way) made it, and no head lists it yet.
            () =>
              api(`delete configmaps ${name} in namespace ${namespace}`, () =>
                core.deleteNamespacedConfigMap({ name, namespace })
              ).pipe(allowing(404, undefined), Effect.andThen(create))
          ),
          retrying,
          asStore(rolloutId, operation, cm(name))
        )
      },
      { concurrency: 4, discard: true }
    )

  const deleteQuietly = (names: ReadonlyArray<string>) =>
    Effect.forEach(
      names,
      (name) =>
        api(`delete configmaps ${name}`, () => core.deleteNamespacedConfigMap({ name, namespace })).pipe(Effect.ignore),
      { concurrency: 4, discard: true }
    )

  /**
   * Deletes chunks a failed write created, unless the head lists them (its answer was lost but it
   * landed). A later head is written by a newer holder only, which never lists this writer's names.
   */
  const dropUnlisted = (rolloutId: string, names: ReadonlyArray<string>) =>
    names.length === 0
      ? Effect.void
      : readHead(rolloutId, "cleanup").pipe(
          Effect.flatMap((h) => {
            if (h === undefined) return Effect.void
            const listed = new Set([...h.head.header, ...h.head.segments, ...(h.head.snapshot ?? [])])
            return deleteQuietly(names.filter((n) => !listed.has(n)))
          }),
          Effect.ignore
        )

  const replaceHead = (rolloutId: string, state: { head: HeadJson; tail: string }, resourceVersion: string) =>
    api(`update configmaps ${headName(rolloutId)} in namespace ${namespace}`, () =>
      core.replaceNamespacedConfigMap({
        name: headName(rolloutId),
        namespace,
        body: headObject(namespace, rolloutId, state, resourceVersion)
      })
    ).pipe(Effect.map((obj) => obj.metadata?.resourceVersion ?? ""))

  const held = new Map<string, Held>()
  /** Journal entry counts this store last read, by rollout: what a resume builds on. */
  const lastRead = new Map<string, number>()

  const sameFence = (head: HeadJson, mine: Held) =>
    head.fence?.generation === mine.generation && head.fence.holder === mine.identity

  const lostError = (rolloutId: string, operation: string, why: string) =>
    error(
      rolloutId,
      operation,
      `${storeName}: the lease of rollout ${rolloutId} was lost (${why}); this process stops writing`,
      `lease ${namespace}/${leaseName(rolloutId)}`
    )

  /**
   * Writes the head as `next(state)` with the resourceVersion this writer last saw as a
   * precondition: the fenced write every append and snapshot is. A conflict is a lost lease unless
   * the head still carries this writer's fence; an answer that never came is settled by reading
   * the head back (the write landed exactly when the head is what was written).
   */
  const commit = (
    rolloutId: string,
    operation: string,
    next: (state: HeadState) => Effect.Effect<{ head: HeadJson; tail: string }, StoreError>
  ) =>
    Effect.gen(function* () {
      const mine = held.get(rolloutId)
      if (mine === undefined)
        return yield* error(
          rolloutId,
          operation,
          `${storeName}: this process does not hold the lease of rollout ${rolloutId}`
        )
      const deadline = (yield* Clock.currentTimeMillis) + writeTimeoutMs
      let last: ApiFailure | undefined
      for (let attempt = 0; ; attempt++) {
        if (mine.lost !== undefined) return yield* lostError(rolloutId, operation, mine.lost)
        if ((yield* Clock.currentTimeMillis) > deadline)
          return yield* error(
            rolloutId,
            operation,
            `${storeName}: cannot write the journal of ${rolloutId} for ${writeTimeoutMs / 1000}s: ${last?.message ?? "no answer"}; this process stops writing`,
            cm(headName(rolloutId)),
            last
          )
        if (attempt > 0) yield* Effect.sleep(Duration.millis(Math.min(2000, 100 * 2 ** Math.min(attempt, 5))))
        const state = mine.state
        const wanted = yield* next(state)
        const wrote = yield* Effect.result(replaceHead(rolloutId, wanted, state.resourceVersion))
        if (Result.isSuccess(wrote)) {
          mine.state = { ...wanted, resourceVersion: wrote.success }
          return
        }
        last = wrote.failure
        if (wrote.failure.code !== 409 && !wrote.failure.transient)
          return yield* error(
            rolloutId,
            operation,
            `${storeName}: ${wrote.failure.message}`,
            cm(headName(rolloutId)),
            wrote.failure
          )
        // A conflict, or no answer: what does the head say now?
        const fresh = yield* Effect.result(readHead(rolloutId, operation))
        if (Result.isFailure(fresh)) {
          last = wrote.failure
          continue
        }
        if (fresh.success === undefined) {
          mine.lost = "the rollout's head was deleted"
          continue
        }
        if (!sameFence(fresh.success.head, mine)) {
          const f = fresh.success.head.fence
          mine.lost = `generation ${f?.generation ?? "?"} is held by ${f?.holder ?? "nobody"}; this writer had generation ${mine.generation}`
          continue
        }
        if (JSON.stringify(fresh.success.head) === JSON.stringify(wanted.head) && fresh.success.tail === wanted.tail) {
          // Our write landed; only its answer was lost.
          mine.state = fresh.success
          return
        }
        mine.state = fresh.success
      }
    })

  /** Waits while this writer's lease is expired by its own clock (the apiserver unreachable). */
  const whileExpired = (rolloutId: string, operation: string, mine: Held) =>
    Effect.gen(function* () {
      const deadline = (yield* Clock.currentTimeMillis) + writeTimeoutMs
      while ((yield* Clock.currentTimeMillis) - mine.renewedAt > leaseMs) {
        if (mine.lost !== undefined) return yield* lostError(rolloutId, operation, mine.lost)
        if ((yield* Clock.currentTimeMillis) > deadline)
          return yield* error(
            rolloutId,
            operation,
            `${storeName}: the lease of rollout ${rolloutId} could not be renewed for ${Math.round(((yield* Clock.currentTimeMillis) - mine.renewedAt) / 1000)}s (is ${server} reachable?); this process stops writing`,
            `lease ${namespace}/${leaseName(rolloutId)}`
          )
        yield* Effect.sleep(Duration.millis(100))
      }
    })

  // --- the lease -------------------------------------------------------------------------------

  const leaseBody = (
    rolloutId: string,
    spec: { holder?: string; transitions: number; acquireTime?: Date; renewTime?: Date },
    resourceVersion?: string
  ): V1Lease => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: leaseName(rolloutId),
      namespace,
      labels: labelsOf(rolloutId, "head"),
      annotations: { [ROLLOUT_ID_ANNOTATION]: rolloutId },
      ...(resourceVersion === undefined ? {} : { resourceVersion })
    },
    spec: {
      ...(spec.holder === undefined ? {} : { holderIdentity: spec.holder }),
      leaseDurationSeconds: leaseSeconds,
      leaseTransitions: spec.transitions,
      ...(spec.acquireTime === undefined ? {} : { acquireTime: new V1MicroTime(spec.acquireTime.getTime()) }),
      ...(spec.renewTime === undefined ? {} : { renewTime: new V1MicroTime(spec.renewTime.getTime()) })
    }
  })

  const readLease = (rolloutId: string, operation: string) =>
    api(`get leases.coordination.k8s.io ${leaseName(rolloutId)} in namespace ${namespace}`, () =>
      coordination.readNamespacedLease({ name: leaseName(rolloutId), namespace })
    ).pipe(
      allowing(404, undefined),
      retrying,
      asStore(rolloutId, operation, `lease ${namespace}/${leaseName(rolloutId)}`),
      Effect.flatMap((lease) => {
        if (lease === undefined) return Effect.succeed(undefined)
        const spec = decode(LeaseSpec, lease.spec ?? {}, "loose")
        if (Result.isFailure(spec))
          return Effect.fail(
            error(
              rolloutId,
              operation,
              `lease ${namespace}/${leaseName(rolloutId)} is not a lease: spec: ${spec.failure}`
            )
          )
        return Effect.succeed({ spec: spec.success, resourceVersion: lease.metadata?.resourceVersion ?? "" })
      })
    )

  /** The live holder of a lease, or undefined when it is free or expired. */
  const liveHolder = (spec: typeof LeaseSpec.Type, now: number) => {
    const holder = spec.holderIdentity
    if (holder === undefined || holder === "") return undefined
    const renewed = timeOf(spec.renewTime) ?? timeOf(spec.acquireTime)
    if (renewed === undefined) return undefined
    return renewed + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 > now ? holder : undefined
  }

  /**
   * Renews the lease every third of its duration by a CAS on its resourceVersion. A conflict with
   * the lease no longer ours (another holder, another generation) marks this writer lost; failures
   * to reach the apiserver are retried (appends wait meanwhile, see {@link whileExpired}).
   */
  const renewLoop = (rolloutId: string, mine: Held) => {
    const period = Duration.millis(Math.max(50, leaseMs / 3))
    const renewOnce = Effect.gen(function* () {
      const sentAt = yield* Clock.currentTimeMillis
      const renewed = yield* Effect.result(
        api(`update leases.coordination.k8s.io ${leaseName(rolloutId)}`, () =>
          coordination.replaceNamespacedLease({
            name: leaseName(rolloutId),
            namespace,
            body: leaseBody(
              rolloutId,
              {
                holder: mine.identity,
                transitions: mine.generation,
                acquireTime: new Date(mine.acquiredAt),
                renewTime: new Date(sentAt)
              },
              mine.leaseVersion
            )
          })
        )
      )
      if (Result.isSuccess(renewed)) {
        mine.leaseVersion = renewed.success.metadata?.resourceVersion ?? mine.leaseVersion
        mine.renewedAt = sentAt
        return
      }
      if (renewed.failure.code === 409 || renewed.failure.code === 404) {
        const now = yield* Effect.result(readLease(rolloutId, "renew"))
        if (Result.isFailure(now)) return
        const lease = now.success
        if (
          lease !== undefined &&
          lease.spec.holderIdentity === mine.identity &&
          (lease.spec.leaseTransitions ?? 0) === mine.generation
        ) {
          // Still ours (someone edited its metadata): renew with its new version next time.
          mine.leaseVersion = lease.resourceVersion
          return
        }
        mine.lost =
          lease === undefined
            ? "the lease was deleted"
            : `taken over by ${lease.spec.holderIdentity || "nobody"} (generation ${lease.spec.leaseTransitions ?? 0})`
        yield* Effect.logWarning(`store: ${lostError(rolloutId, "renew", mine.lost).message}`)
      }
      // No answer: try again at the next beat; the writes wait once the lease is past its time.
    })
    return Effect.sleep(period).pipe(
      Effect.andThen(
        renewOnce.pipe(Effect.repeat({ schedule: Schedule.spaced(period), while: () => mine.lost === undefined }))
      ),
      Effect.ignore
    )
  }

  const releaseLease = (rolloutId: string, mine: Held) =>
    Effect.gen(function* () {
      if (mine.renewal !== undefined) yield* Fiber.interrupt(mine.renewal)
      if (mine.lost !== undefined) return
      // Holder cleared, generation kept: the next holder takes the next one at once.
      yield* api(`update leases.coordination.k8s.io ${leaseName(rolloutId)}`, () =>
        coordination.replaceNamespacedLease({
          name: leaseName(rolloutId),
          namespace,
          body: leaseBody(rolloutId, { transitions: mine.generation, renewTime: new Date() }, mine.leaseVersion)
        })
      )
    }).pipe(Effect.ignore)

  const acquireFresh = (rolloutId: string, owner: string) =>
    Effect.gen(function* () {
      const identity = options.identity ?? owner
      const where = `lease ${namespace}/${leaseName(rolloutId)}`
      for (let attempt = 0; attempt < 8; attempt++) {
        const head = yield* readHead(rolloutId, "acquire")
        if (head === undefined)
          return yield* error(rolloutId, "acquire", `${storeName}: no rollout ${rolloutId} in namespace ${namespace}`)
        const lease = yield* readLease(rolloutId, "acquire")
        const now = yield* Clock.currentTimeMillis
        if (lease !== undefined) {
          const holder = liveHolder(lease.spec, now)
          if (holder !== undefined) return yield* new RolloutLocked({ rolloutId, owner: holder })
        }
        // One more than both the lease's and the head's: a lease deleted and made again still
        // gets a generation above every fence the head ever carried.
        const generation = Math.max(lease?.spec.leaseTransitions ?? 0, head.head.fence?.generation ?? 0) + 1
        const body = leaseBody(
          rolloutId,
          { holder: identity, transitions: generation, acquireTime: new Date(now), renewTime: new Date(now) },
          lease?.resourceVersion
        )
        const took = yield* Effect.result(
          lease === undefined
            ? api(`create leases.coordination.k8s.io in namespace ${namespace}`, () =>
                coordination.createNamespacedLease({ namespace, body })
              )
            : api(`update leases.coordination.k8s.io ${leaseName(rolloutId)} in namespace ${namespace}`, () =>
                coordination.replaceNamespacedLease({ name: leaseName(rolloutId), namespace, body })
              )
        )
        if (Result.isFailure(took)) {
          // Someone else took it between our read and our write: look again.
          if (took.failure.code === 409) continue
          return yield* error(rolloutId, "acquire", `${storeName}: ${took.failure.message}`, where, took.failure)
        }
        const mine: Held = {
          owner,
          identity,
          generation,
          nonce: newNonce(),
          count: 1,
          state: head,
          leaseVersion: took.success.metadata?.resourceVersion ?? "",
          acquiredAt: now,
          renewedAt: now,
          lost: undefined,
          renewal: undefined
        }
        // The fence: from this write on, the head refuses every writer of an older generation.
        const fenced = yield* Effect.result(
          Effect.gen(function* () {
            let state = head
            for (;;) {
              const f = state.head.fence
              // Our own fence, read back after an answer that never came: it landed.
              if (f !== undefined && f.generation === generation && f.holder === identity) return state
              if (f !== undefined && f.generation >= generation)
                return yield* new RolloutLocked({ rolloutId, owner: f.holder })
              const wrote = yield* Effect.result(
                replaceHead(
                  rolloutId,
                  { head: { ...state.head, fence: { holder: identity, generation } }, tail: state.tail },
                  state.resourceVersion
                )
              )
              if (Result.isSuccess(wrote)) {
                return {
                  head: { ...state.head, fence: { holder: identity, generation } },
                  tail: state.tail,
                  resourceVersion: wrote.success
                } satisfies HeadState
              }
              if (wrote.failure.code !== 409 && !wrote.failure.transient)
                return yield* error(
                  rolloutId,
                  "acquire",
                  `${storeName}: ${wrote.failure.message}`,
                  cm(headName(rolloutId)),
                  wrote.failure
                )
              if (wrote.failure.transient) yield* Effect.sleep(Duration.millis(200))
              const fresh = yield* readHead(rolloutId, "acquire")
              if (fresh === undefined)
                return yield* error(rolloutId, "acquire", `${storeName}: rollout ${rolloutId} was deleted`)
              state = fresh
            }
          })
        )
        if (Result.isFailure(fenced)) {
          yield* releaseLease(rolloutId, mine)
          return yield* fenced.failure
        }
        mine.state = fenced.success
        // What the caller read is what it resumes from: a journal that grew since (its last holder
        // wrote between that read and this fence) must be read again.
        const seen = lastRead.get(rolloutId)
        if (seen !== undefined && seen !== fenced.success.head.entries) {
          yield* releaseLease(rolloutId, mine)
          return yield* error(
            rolloutId,
            "acquire",
            `${storeName}: the journal of ${rolloutId} grew from ${seen} to ${fenced.success.head.entries} entries since it was read (its previous holder wrote meanwhile); read it again`
          )
        }
        mine.renewal = yield* Effect.forkDetach(renewLoop(rolloutId, mine))
        held.set(rolloutId, mine)
        return
      }
      return yield* error(
        rolloutId,
        "acquire",
        `${storeName}: the lease of ${rolloutId} keeps changing hands; try again`,
        where
      )
    })

  // --- the control inbox -------------------------------------------------------------------------

  const listControls = (rolloutId: string, operation: string) =>
    Effect.gen(function* () {
      const list = yield* api(`list configmaps in namespace ${namespace}`, () =>
        core.listNamespacedConfigMap({ namespace, labelSelector: selectorOf(rolloutId, "control") })
      ).pipe(retrying, asStore(rolloutId, operation))
      const out: Array<{ readonly name: string; readonly request: ControlRequest }> = []
      for (const obj of list.items) {
        const name = obj.metadata?.name ?? "?"
        if (obj.metadata?.annotations?.[ROLLOUT_ID_ANNOTATION] !== rolloutId) continue // another rollout's (hash base)
        const text = dataKey(obj, KEY.control)
        const decoded = Result.isSuccess(text)
          ? parseWith(text.success, StoredRolloutCodec.controlRequest)
          : Result.fail(`data: ${text.failure}`)
        if (Result.isFailure(decoded)) {
          // Out of the inbox (relabelled, kept for the operator), so it is reported once.
          yield* api(`patch configmaps ${name}`, () =>
            core.patchNamespacedConfigMap(
              { name, namespace, body: { metadata: { labels: { [PART_LABEL]: "quarantined" } } } },
              mergePatch
            )
          ).pipe(Effect.ignore)
          yield* Effect.logWarning(
            `store: ${cm(name)} is not a control request (${decoded.failure}); relabelled ${PART_LABEL}=quarantined, ignored`
          ).pipe(Effect.annotateLogs({ store: cm(name) }))
          continue
        }
        out.push({ name, request: decoded.success as ControlRequest })
      }
      return out
    })

  const shape: RolloutStoreShape = {
    create: (header: RolloutHeader) => {
      const id = header.rolloutId
      return Effect.gen(function* () {
        if (!ROLLOUT_ID.test(id)) return yield* error(id, "create", `invalid rollout id "${id}"`)
        const checked = StoredRolloutCodec.header(header)
        if (Result.isFailure(checked)) return yield* error(id, "create", `invalid header: ${checked.failure}`)
        if ((yield* readHead(id, "create")) !== undefined)
          return yield* error(id, "create", `rollout ${id} already exists in ${storeName}`, cm(headName(id)))
        const nonce = newNonce()
        const chunks = splitUtf8(JSON.stringify(header), segmentBytes).map((text, i) => ({
          name: chunkName(id, "h", nonce, i),
          text
        }))
        yield* writeChunks(id, "create", "header", KEY.header, chunks)
        // The head is created last and exclusively: it is what makes the rollout exist.
        const head: HeadJson = {
          version: 1,
          rolloutId: id,
          header: chunks.map((c) => c.name),
          segments: [],
          entries: 0
        }
        const created = yield* api(`create configmaps in namespace ${namespace}`, () =>
          core.createNamespacedConfigMap({ namespace, body: headObject(namespace, id, { head, tail: "" }) })
        ).pipe(Effect.result)
        if (Result.isFailure(created)) {
          yield* deleteQuietly(chunks.map((c) => c.name))
          return yield* created.failure.code === 409
            ? error(id, "create", `rollout ${id} already exists in ${storeName}`, cm(headName(id)))
            : error(id, "create", `${storeName}: ${created.failure.message}`, cm(headName(id)), created.failure)
        }
        lastRead.set(id, 0)
      })
    },

    append: (rolloutId: string, entries: ReadonlyArray<JournalEntry>) =>
      Effect.gen(function* () {
        if (entries.length === 0) return
        const mine = held.get(rolloutId)
        if (mine === undefined)
          return yield* error(
            rolloutId,
            "append",
            `${storeName}: this process does not hold the lease of rollout ${rolloutId}`
          )
        yield* whileExpired(rolloutId, "append", mine)
        let text = ""
        for (const e of entries) text += `${JSON.stringify(e)}\n`
        const created: Array<string> = []
        yield* commit(rolloutId, "append", (state) =>
          Effect.gen(function* () {
            const tail = state.tail + text
            const pieces = splitUtf8(tail, segmentBytes)
            const head = { ...state.head, entries: state.head.entries + entries.length }
            if (pieces.length === 1) return { head, tail }
            // The full pieces become sealed segments (created before the head lists them); the
            // last one is the new tail.
            const sealed = pieces.slice(0, -1).map((t, i) => ({
              name: chunkName(rolloutId, "j", mine.nonce, state.head.segments.length + i),
              text: t
            }))
            created.push(...sealed.map((s) => s.name))
            yield* writeChunks(rolloutId, "append", "journal", KEY.journal, sealed)
            return {
              head: { ...head, segments: [...state.head.segments, ...sealed.map((s) => s.name)] },
              tail: pieces[pieces.length - 1] as string
            }
          })
        ).pipe(Effect.tapError(() => dropUnlisted(rolloutId, created)))
      }),

    read: (rolloutId: string) =>
      Effect.gen(function* () {
        const state = yield* mustHead(rolloutId, "read")
        const headerParts = yield* readChunks(rolloutId, "read", state.head.header, KEY.header)
        const headerText = headerParts.map((p) => p.text).join("")
        const header = parseWith(headerText, StoredRolloutCodec.header)
        if (Result.isFailure(header)) {
          const names = headerParts.map((p) => cm(p.name)).join(", ")
          return yield* error(
            rolloutId,
            "read",
            `the header of ${rolloutId} (${names}) is corrupt: ${header.failure}`,
            names
          )
        }
        if (header.success.rolloutId !== rolloutId)
          return yield* error(
            rolloutId,
            "read",
            `the header of ${rolloutId} names rollout "${header.success.rolloutId}"`
          )
        const segments = yield* readChunks(rolloutId, "read", state.head.segments, KEY.journal)
        const entries = yield* parseJournal(rolloutId, [...segments, { name: headName(rolloutId), text: state.tail }])
        if (entries.length !== state.head.entries)
          return yield* error(
            rolloutId,
            "read",
            `${cm(headName(rolloutId))} counts ${state.head.entries} journal entries, its segments and tail hold ${entries.length}`,
            cm(headName(rolloutId))
          )
        // The snapshot only saves replay time (the journal holds everything): a bad one is ignored.
        let snapshot: JournalSnapshot | undefined
        if (state.head.snapshot !== undefined) {
          const parts = yield* readChunks(rolloutId, "read", state.head.snapshot, KEY.snapshot).pipe(Effect.result)
          const decoded = Result.isSuccess(parts)
            ? parseWith(parts.success.map((p) => p.text).join(""), StoredRolloutCodec.snapshot)
            : Result.fail(parts.failure.message)
          if (Result.isSuccess(decoded)) snapshot = decoded.success as JournalSnapshot
          else
            yield* Effect.logWarning(
              `store: the snapshot of ${rolloutId} (${state.head.snapshot.join(", ")}) is unusable (${decoded.failure}); ignored: the whole journal is replayed`
            )
        }
        lastRead.set(rolloutId, entries.length)
        return {
          header: header.success as unknown as RolloutHeader,
          entries,
          ...(snapshot === undefined ? {} : { snapshot })
        } satisfies StoredRollout
      }),

    writeSnapshot: (rolloutId: string, snapshot: JournalSnapshot) =>
      Effect.gen(function* () {
        const mine = held.get(rolloutId)
        if (mine === undefined)
          return yield* error(
            rolloutId,
            "writeSnapshot",
            `${storeName}: this process does not hold the lease of rollout ${rolloutId}`
          )
        yield* whileExpired(rolloutId, "writeSnapshot", mine)
        const nonce = newNonce()
        const chunks = splitUtf8(JSON.stringify(snapshot), segmentBytes).map((text, i) => ({
          name: chunkName(rolloutId, "s", nonce, i),
          text
        }))
        yield* writeChunks(rolloutId, "writeSnapshot", "snapshot", KEY.snapshot, chunks)
        const before = mine.state.head.snapshot ?? []
        const wrote = yield* commit(rolloutId, "writeSnapshot", (state) =>
          Effect.succeed({ head: { ...state.head, snapshot: chunks.map((c) => c.name) }, tail: state.tail })
        ).pipe(Effect.result)
        // The replaced snapshot (or, when the write was refused, the new one) is garbage.
        yield* Result.isSuccess(wrote)
          ? deleteQuietly(before)
          : dropUnlisted(
              rolloutId,
              chunks.map((c) => c.name)
            )
        if (Result.isFailure(wrote)) return yield* wrote.failure
      }),

    list: () =>
      Effect.gen(function* () {
        const list = yield* api(`list configmaps in namespace ${namespace}`, () =>
          core.listNamespacedConfigMap({
            namespace,
            labelSelector: `app.kubernetes.io/managed-by=sluice,${PART_LABEL}=head`
          })
        ).pipe(retrying, asStore("*", "list"))
        return list.items
          .map((o) => o.metadata?.annotations?.[ROLLOUT_ID_ANNOTATION])
          .filter((id): id is string => id !== undefined && ROLLOUT_ID.test(id))
          .sort()
      }),

    acquire: (rolloutId: string, owner: string) =>
      Effect.suspend(() => {
        const mine = held.get(rolloutId)
        if (mine !== undefined && mine.owner === owner && mine.lost === undefined) {
          mine.count++
          return Effect.void
        }
        if (mine !== undefined && mine.lost === undefined)
          return Effect.fail(new RolloutLocked({ rolloutId, owner: mine.identity }))
        if (mine !== undefined) held.delete(rolloutId)
        return acquireFresh(rolloutId, owner)
      }),

    release: (rolloutId: string, owner: string) =>
      Effect.suspend(() => {
        const mine = held.get(rolloutId)
        if (mine === undefined || mine.owner !== owner) return Effect.void
        mine.count--
        if (mine.count > 0) return Effect.void
        held.delete(rolloutId)
        return releaseLease(rolloutId, mine)
      }),

    owner: (rolloutId: string) =>
      Effect.gen(function* () {
        const mine = held.get(rolloutId)
        if (mine !== undefined && mine.lost === undefined) return mine.identity
        const lease = yield* readLease(rolloutId, "owner")
        if (lease === undefined) return undefined
        return liveHolder(lease.spec, yield* Clock.currentTimeMillis)
      }),

    sendControl: (rolloutId: string, request: ControlRequest) =>
      Effect.gen(function* () {
        yield* mustHead(rolloutId, "sendControl")
        const checked = StoredRolloutCodec.controlRequest(request)
        if (Result.isFailure(checked))
          return yield* error(rolloutId, "sendControl", `invalid control request: ${checked.failure}`)
        const body: V1ConfigMap = {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            generateName: controlPrefix(rolloutId),
            namespace,
            labels: labelsOf(rolloutId, "control"),
            annotations: { [ROLLOUT_ID_ANNOTATION]: rolloutId }
          },
          data: { [KEY.control]: JSON.stringify(request) }
        }
        // generateName: every sender creates its own object, so senders never conflict.
        yield* api(`create configmaps in namespace ${namespace}`, () =>
          core.createNamespacedConfigMap({ namespace, body })
        ).pipe(retrying, asStore(rolloutId, "sendControl"))
      }),

    pendingControls: (rolloutId: string) => listControls(rolloutId, "pendingControls").pipe(Effect.map(pendingInOrder)),

    ackControls: (rolloutId: string, ids: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        if (ids.length === 0) return
        const wanted = new Set(ids)
        for (const { name, request } of yield* listControls(rolloutId, "ackControls")) {
          if (!wanted.has(request.id)) continue
          yield* api(`delete configmaps ${name} in namespace ${namespace}`, () =>
            core.deleteNamespacedConfigMap({ name, namespace })
          ).pipe(allowing(404, undefined), retrying, asStore(rolloutId, "ackControls", cm(name)))
        }
      })
  }

  // A store that cannot work is a StoreError when it is made, not a hang at the first rollout:
  // the apiserver must answer, and the role must allow reading both kinds of object.
  yield* Effect.all(
    [
      api(`list configmaps in namespace ${namespace}`, () =>
        core.listNamespacedConfigMap({ namespace, labelSelector: `${ROLLOUT_LABEL}`, limit: 1 })
      ),
      api(`list leases.coordination.k8s.io in namespace ${namespace}`, () =>
        coordination.listNamespacedLease({ namespace, limit: 1 })
      )
    ],
    { concurrency: 2, discard: true }
  ).pipe(Effect.mapError((e) => error("*", "open", `${storeName}: ${e.message}`, undefined, e)))

  return shape
})

/** The Kubernetes store as a layer providing core's `RolloutStore`; its failure is a StoreError. */
export const layer = (options: KubernetesStoreOptions) => Layer.effect(RolloutStore, make(options))

/** `RolloutStore` in the Kubernetes API (Lease-fenced journal in ConfigMaps): `.make`, `.layer`. */
export const KubernetesStore = { make, layer } as const
