import { readFile } from "node:fs/promises"
import type { WorkloadSource } from "@sluice/core"
import { Effect, Predicate, Result, Schema } from "effect"
import { parseAllDocuments } from "yaml"
import { supportedKubernetesKinds } from "../normalize/kubernetes.js"
import { parseTrivyReport } from "../scan/trivy.js"

/** A harness input file or inline input could not be read or understood. */
export class HarnessInputError extends Schema.TaggedError<HarnessInputError>()("HarnessInputError", {
  file: Schema.optional(Schema.String),
  message: Schema.String
}) {}

/**
 * What a harness input describes: a complete policy `input` document (it has `workload`), or a
 * workload the engine normalizes first (a Kubernetes manifest, a Docker container inspect, an
 * already-normalized workload).
 */
export type HarnessInput =
  | { readonly kind: "input"; readonly input: Record<string, unknown> }
  | { readonly kind: "source"; readonly source: WorkloadSource }

const isKubernetesWorkload = (u: unknown): boolean =>
  Predicate.isObject(u) &&
  typeof (u as Record<string, unknown>).kind === "string" &&
  (supportedKubernetesKinds as ReadonlyArray<unknown>).includes((u as Record<string, unknown>).kind)

/** Interprets a parsed document. Docker's CLI prints `docker inspect` as a one-element array. */
export const classifyInput = (
  doc: unknown,
  image?: unknown,
  file?: string
): Result.Result<HarnessInput, HarnessInputError> => {
  const err = (message: string) =>
    Result.fail(new HarnessInputError({ ...(file !== undefined ? { file } : {}), message }))
  let value = doc
  if (Array.isArray(value)) {
    if (value.length !== 1) return err(`expected one object, got an array of ${value.length}`)
    value = value[0]
  }
  if (!Predicate.isObject(value) || Array.isArray(value)) return err("expected a JSON/YAML object")
  const o = value as Record<string, unknown>
  if ("workload" in o) return Result.succeed({ kind: "input", input: o })
  if (typeof o.kind === "string" && typeof o.apiVersion === "string") {
    return Result.succeed({ kind: "source", source: { source: "kubernetes", object: o } })
  }
  if ("HostConfig" in o || "Config" in o || "State" in o) {
    const img = Array.isArray(image) && image.length === 1 ? image[0] : image
    return Result.succeed({
      kind: "source",
      source: img !== undefined ? { source: "docker", container: o, image: img } : { source: "docker", container: o }
    })
  }
  if ("platform" in o && "containers" in o) {
    return Result.succeed({ kind: "source", source: { source: "normalized", workload: o } })
  }
  return err(
    "cannot tell what this is: expected a policy input (with `workload`), a Kubernetes manifest (apiVersion + kind), a Docker container inspect (Config/HostConfig) or a normalized workload (platform + containers)"
  )
}

const readText = (file: string) =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (e) => new HarnessInputError({ file, message: `cannot read: ${String(e)}` })
  })

/**
 * Parses a JSON or YAML file. For multi-document YAML (and `kind: List`), the first workload
 * (Deployment, StatefulSet, DaemonSet or Pod) is taken.
 */
export const readDocument = Effect.fnUntraced(function* (file: string): Effect.fn.Return<unknown, HarnessInputError> {
  const text = yield* readText(file)
  if (/\.json$/i.test(file)) {
    return yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new HarnessInputError({ file, message: `invalid JSON: ${String(e)}` })
    })
  }
  const docs = parseAllDocuments(text)
  const list = Array.isArray(docs) ? docs : [docs]
  const values: Array<unknown> = []
  for (const d of list) {
    if (d.errors.length > 0)
      return yield* new HarnessInputError({ file, message: `invalid YAML: ${d.errors[0]?.message}` })
    // toJS throws on aliases it refuses (an alias bomb, an undefined alias): a bad file, not a crash.
    const v = yield* Effect.try({
      try: () => d.toJS() as unknown,
      catch: (e) =>
        new HarnessInputError({ file, message: `invalid YAML: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (v !== null && v !== undefined) values.push(v)
  }
  const flattened = values.flatMap((v) =>
    Predicate.isObject(v) &&
    (v as Record<string, unknown>).kind === "List" &&
    Array.isArray((v as Record<string, unknown>).items)
      ? ((v as Record<string, unknown>).items as Array<unknown>)
      : [v]
  )
  if (flattened.length === 1) return flattened[0]
  const workload = flattened.find(isKubernetesWorkload)
  if (workload !== undefined) return workload
  if (flattened.length === 0) return yield* new HarnessInputError({ file, message: "the file is empty" })
  return yield* new HarnessInputError({
    file,
    message: "several documents and none is a Deployment, StatefulSet, DaemonSet or Pod"
  })
})

/** Reads an input file (and an optional Docker image inspect file). */
export const readInputFile = Effect.fnUntraced(function* (file: string, imageFile?: string) {
  const doc = yield* readDocument(file)
  const image = imageFile !== undefined ? yield* readDocument(imageFile) : undefined
  const classified = classifyInput(doc, image, file)
  return Result.isSuccess(classified) ? classified.success : yield* classified.failure
})

/** Reads a Trivy JSON report and returns the raw document (validated). */
export const readScanFile = Effect.fnUntraced(function* (file: string) {
  const doc = yield* readDocument(file)
  const parsed = parseTrivyReport(doc, file)
  if (Result.isFailure(parsed)) return yield* new HarnessInputError({ file, message: parsed.failure.message })
  return parsed.success
})
