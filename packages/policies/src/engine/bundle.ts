import { readFile, stat } from "node:fs/promises"
import { basename, dirname, extname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { deepMerge, sha256Hex } from "@sluice/core"
import { Effect, Predicate } from "effect"
import { parse as parseYaml } from "yaml"
import { BundleLoadError } from "./errors.js"
import { readTarGz } from "./tar.js"
import {
  type CompiledModule,
  compileWasm,
  DEFAULT_ENTRYPOINT,
  DEFAULT_MEMORY,
  describeThrown,
  InstantiateError,
  instantiate,
  type MemoryLimits
} from "./wasm.js"

export { BundleLoadError } from "./errors.js"

/** Where the built-in bundle lives: `packages/policies/dist/{policy.wasm,data.json,manifest.json}`. */
export const builtinBundleDir: string = fileURLToPath(new URL("../../dist/", import.meta.url))

/**
 * A bundle to load:
 * - a path: an OPA bundle (`.tar.gz` / `.tgz` / `.tar`, as `opa build -t wasm` writes it), a
 *   directory holding `policy.wasm` (+ optional `data.json`, `manifest.json` or `.manifest`), or a
 *   `policy.wasm` file (its sibling `data.json` / `manifest.json` are used when present);
 * - `{ path, data }`: the same, with `data` (an object, or a path to a JSON/YAML file) deep-merged
 *   over the bundle's own data (objects merge key by key; anything else replaces);
 * - `{ wasm, data }`: an already compiled policy in memory.
 */
export type BundleSource =
  | string
  | {
      readonly path: string
      readonly name?: string
      readonly data?: unknown
    }
  | {
      readonly wasm: Uint8Array
      readonly data?: unknown
      readonly name?: string
      readonly revision?: string
    }

export interface BundleOptions {
  /** Entrypoint whose result is the decision document. Default `sluice/decision`. */
  readonly entrypoint?: string
  /** Wasm memory limits in 64 KiB pages. Default 5 initial, 4096 maximum (256 MiB). */
  readonly memory?: MemoryLimits
}

export interface LoadedBundle {
  readonly name: string
  /** The manifest `revision`, else `sha256:<first 12 hex digits of policy.wasm>`. */
  readonly revision: string
  /** Where it came from (a path, or `<memory>`). */
  readonly location: string
  readonly module: CompiledModule
  readonly data: unknown
  readonly entrypoint: string
  readonly memory: MemoryLimits
}

const isObject = (u: unknown): u is Record<string, unknown> => Predicate.isObject(u) && !Array.isArray(u)

/**
 * Deep merge of bundle data: objects merge key by key, anything else in `over` (`null` included:
 * OPA data has nulls) replaces `base`. Core's merge, so a `__proto__` key in a data file stays data.
 */
export const mergeData = (base: unknown, over: unknown): unknown => deepMerge(base, over, { nullDeletes: false })

/** Places `value` at `path` (directory segments) in a fresh object tree. */
const atPath = (segments: ReadonlyArray<string>, value: unknown): unknown =>
  segments.reduceRight<unknown>((acc, seg) => ({ [seg]: acc }), value)

interface RawBundle {
  readonly wasm: Uint8Array
  readonly data: unknown
  readonly manifest: unknown
}

const fail = (bundle: string, reason: BundleLoadError["reason"], message: string) =>
  Effect.fail(new BundleLoadError({ bundle, reason, message }))

const readMaybe = (file: string) =>
  Effect.tryPromise({ try: () => readFile(file), catch: (e) => e }).pipe(
    Effect.map((b): Uint8Array | undefined => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
    Effect.catch((e) =>
      Predicate.hasProperty(e, "code") && e.code === "ENOENT"
        ? Effect.succeed(undefined)
        : fail(file, "unreadable", `cannot read ${file}: ${String(e)}`)
    )
  )

const parseJson = (bundle: string, what: string, bytes: Uint8Array | undefined) =>
  Effect.try({
    try: () => (bytes === undefined ? undefined : (JSON.parse(new TextDecoder().decode(bytes)) as unknown)),
    catch: (e) =>
      new BundleLoadError({ bundle, reason: "invalid-data", message: `${what} is not valid JSON: ${String(e)}` })
  })

/** Data overrides: an object, or a JSON / YAML file. */
const loadOverrides = (bundle: string, data: unknown) =>
  typeof data !== "string"
    ? Effect.succeed(data)
    : readMaybe(data).pipe(
        Effect.flatMap((bytes) =>
          bytes === undefined
            ? fail(bundle, "missing", `data file ${data} does not exist`)
            : /\.ya?ml$/i.test(data)
              ? Effect.try({
                  try: () => parseYaml(new TextDecoder().decode(bytes)) as unknown,
                  catch: (e) =>
                    new BundleLoadError({
                      bundle,
                      reason: "invalid-data",
                      message: `${data}: invalid YAML: ${String(e)}`
                    })
                })
              : parseJson(bundle, data, bytes)
        )
      )

const readDirBundle = Effect.fnUntraced(function* (dir: string, wasmFile: string) {
  const wasm = yield* readMaybe(wasmFile)
  if (wasm === undefined) return yield* fail(dir, "missing", `no policy.wasm at ${wasmFile}`)
  const data = yield* parseJson(dir, join(dir, "data.json"), yield* readMaybe(join(dir, "data.json")))
  const manifestBytes = (yield* readMaybe(join(dir, "manifest.json"))) ?? (yield* readMaybe(join(dir, ".manifest")))
  const manifest = yield* parseJson(dir, "manifest", manifestBytes)
  return { wasm, data: data ?? {}, manifest } satisfies RawBundle
})

const readTarBundle = Effect.fnUntraced(function* (file: string, entrypoint: string) {
  const bytes = yield* readMaybe(file)
  if (bytes === undefined) return yield* fail(file, "missing", `bundle ${file} does not exist`)
  const files = yield* Effect.fromResult(readTarGz(bytes)).pipe(
    Effect.mapError(
      (e) => new BundleLoadError({ bundle: file, reason: "unreadable", message: `not a bundle archive: ${e.message}` })
    )
  )
  const manifest = yield* parseJson(file, ".manifest", files.get(".manifest"))
  // The manifest names the module for each entrypoint; default /policy.wasm.
  const wasmEntries = isObject(manifest) && Array.isArray(manifest.wasm) ? manifest.wasm : []
  const declared = wasmEntries.find((w) => isObject(w) && w.entrypoint === entrypoint)
  const modulePath =
    isObject(declared) && typeof declared.module === "string" ? declared.module.replace(/^(\.?\/)+/, "") : "policy.wasm"
  const wasm = files.get(modulePath)
  if (wasm === undefined) {
    return yield* fail(file, "missing", `bundle has no ${modulePath} (was it built with \`opa build -t wasm\`?)`)
  }
  let data: unknown = {}
  // data.json files sit at the data path of their directory (OPA bundle layout).
  const dataFiles = [...files.keys()].filter((p) => p === "data.json" || p.endsWith("/data.json")).sort()
  for (const p of dataFiles) {
    const doc = yield* parseJson(file, p, files.get(p))
    const segments = p.split("/").slice(0, -1)
    data = mergeData(data, atPath(segments, doc))
  }
  return { wasm, data, manifest } satisfies RawBundle
})

const readBundle = Effect.fnUntraced(function* (path: string, entrypoint: string) {
  const info = yield* Effect.tryPromise({ try: () => stat(path), catch: (e) => e }).pipe(
    Effect.catch((e) =>
      Predicate.hasProperty(e, "code") && e.code === "ENOENT"
        ? fail(path, "missing", `bundle ${path} does not exist`)
        : fail(path, "unreadable", `cannot read ${path}: ${String(e)}`)
    )
  )
  if (info.isDirectory()) return yield* readDirBundle(path, join(path, "policy.wasm"))
  if (extname(path) === ".wasm") return yield* readDirBundle(dirname(path), path)
  return yield* readTarBundle(path, entrypoint)
})

const nameFromPath = (path: string) => {
  if (resolve(path) === resolve(builtinBundleDir)) return "sluice"
  const base = basename(path.replace(/\/+$/, ""))
  return base.replace(/\.(tar\.gz|tgz|tar|wasm)$/, "") || path
}

const manifestString = (manifest: unknown, key: string): string | undefined => {
  if (!isObject(manifest)) return undefined
  const v = manifest[key]
  if (typeof v === "string" && v !== "") return v
  const md = manifest.metadata
  if (key === "name" && isObject(md) && typeof md.name === "string" && md.name !== "") return md.name
  return undefined
}

/** The display name a source gets before it is loaded (used for load errors). */
export const sourceLabel = (source: BundleSource): string =>
  typeof source === "string"
    ? nameFromPath(source)
    : "path" in source
      ? (source.name ?? nameFromPath(source.path))
      : (source.name ?? "<memory>")

/**
 * Loads, compiles and test-instantiates a bundle: a missing file, an unreadable archive, invalid
 * Wasm, a missing entrypoint or data the policy cannot load fail here, with the reason.
 */
export const loadBundle = Effect.fnUntraced(function* (
  source: BundleSource,
  options: BundleOptions = {}
): Effect.fn.Return<LoadedBundle, BundleLoadError> {
  const entrypoint = options.entrypoint ?? DEFAULT_ENTRYPOINT
  const memory = options.memory ?? DEFAULT_MEMORY
  const label = sourceLabel(source)
  let raw: RawBundle
  let location: string
  let name: string | undefined
  let revision: string | undefined
  let overrides: unknown
  if (typeof source === "string" || "path" in source) {
    const path = typeof source === "string" ? source : source.path
    raw = yield* readBundle(path, entrypoint).pipe(
      Effect.mapError((e) => new BundleLoadError({ bundle: label, reason: e.reason, message: e.message }))
    )
    location = path
    name = typeof source === "string" ? undefined : source.name
    overrides = typeof source === "string" ? undefined : yield* loadOverrides(label, source.data)
    name ??= manifestString(raw.manifest, "name") ?? nameFromPath(path)
  } else {
    raw = { wasm: source.wasm, data: {}, manifest: undefined }
    location = "<memory>"
    name = source.name ?? "<memory>"
    revision = source.revision
    overrides = yield* loadOverrides(label, source.data)
  }
  revision ??= manifestString(raw.manifest, "revision") ?? `sha256:${sha256Hex(raw.wasm).slice(0, 12)}`
  const data = mergeData(raw.data ?? {}, overrides)
  if (!isObject(data)) {
    return yield* fail(label, "invalid-data", "bundle data must be a JSON object")
  }
  const module = yield* Effect.tryPromise({
    try: () => compileWasm(raw.wasm),
    catch: (e) => new BundleLoadError({ bundle: label, reason: "invalid-wasm", message: `invalid Wasm: ${String(e)}` })
  })
  const bundle: LoadedBundle = { name, revision, location, module, data, entrypoint, memory }
  // Instantiate once now, so a broken module, a missing entrypoint or bad data is reported at load.
  yield* Effect.try({
    try: () => instantiate(bundle),
    catch: (e) =>
      e instanceof InstantiateError
        ? new BundleLoadError({ bundle: name, reason: e.reason, message: e.message })
        : new BundleLoadError({
            bundle: label,
            reason: "invalid-wasm",
            message: `cannot instantiate: ${describeThrown(e)}`
          })
  })
  return bundle
})
