import { createRequire } from "node:module"
import type * as OpaWasm from "@open-policy-agent/opa-wasm"

// This module runs in the evaluation worker too (evaluationWorker.ts), which Node loads on its own:
// from the package's TypeScript sources (its tests) through type stripping, so it imports no other
// module of the package and no syntax beyond erasable types.

// The package's ESM entry only re-exports `loadPolicy`; its CommonJS entry has `loadPolicySync`,
// which lets a trapped instance be replaced synchronously from the already compiled module.
const opa = createRequire(import.meta.url)("@open-policy-agent/opa-wasm") as typeof OpaWasm

export type LoadedPolicy = OpaWasm.LoadedPolicy

/** A compiled `WebAssembly.Module` (opaque: this package is typed without the DOM lib). */
export interface CompiledModule {
  readonly __compiledWasmModule: unique symbol
}

const wasmGlobal = (globalThis as unknown as { WebAssembly: { compile: (bytes: Uint8Array) => Promise<unknown> } })
  .WebAssembly

/** `WebAssembly.compile`; rejects on invalid Wasm. */
export const compileWasm = (bytes: Uint8Array): Promise<CompiledModule> =>
  wasmGlobal.compile(bytes) as Promise<CompiledModule>

export const DEFAULT_ENTRYPOINT = "sluice/decision"

/** Wasm linear memory, in 64 KiB pages. */
export interface MemoryLimits {
  readonly initialPages: number
  readonly maximumPages: number
}
export const DEFAULT_MEMORY: MemoryLimits = { initialPages: 5, maximumPages: 4096 }

export interface Instance {
  readonly policy: LoadedPolicy
  readonly entrypointId: number
}

/** A readable description of whatever a Wasm policy threw (opa-wasm throws strings and plain objects). */
export const describeThrown = (e: unknown): string => {
  if (typeof e === "string") return e
  if (e instanceof Error) return `${e.name}: ${e.message}`
  if (e !== null && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message)
  try {
    return JSON.stringify(e) ?? String(e)
  } catch {
    return String(e)
  }
}

/** `engine/out-of-memory` for allocation failures, `engine/eval-error` for every other trap / abort. */
export const classifyThrown = (e: unknown): "engine/out-of-memory" | "engine/eval-error" => {
  const text = describeThrown(e)
  return (e instanceof RangeError && /memory|allocation/i.test(text)) || /malloc|out of memory|memory\.grow/i.test(text)
    ? "engine/out-of-memory"
    : "engine/eval-error"
}

/** Why a module cannot be instantiated (`bundle.ts` makes it a `BundleLoadError`). */
export class InstantiateError extends Error {
  readonly reason: "invalid-wasm" | "entrypoint" | "invalid-data"
  constructor(reason: "invalid-wasm" | "entrypoint" | "invalid-data", message: string) {
    super(message)
    this.reason = reason
  }
}

/** What instantiating a bundle needs; structured-cloneable, so a worker can be given it. */
export interface InstantiableBundle {
  readonly name: string
  readonly module: CompiledModule
  readonly data: unknown
  readonly entrypoint: string
  readonly memory: MemoryLimits
}

/**
 * Instantiates a compiled policy module with its data. Throws {@link InstantiateError} when the
 * module is not an OPA policy, lacks the entrypoint, or cannot load the data.
 */
export const instantiate = (bundle: InstantiableBundle): Instance => {
  let policy: LoadedPolicy
  try {
    policy = opa.loadPolicySync(bundle.module as unknown as Parameters<typeof opa.loadPolicySync>[0], {
      initial: bundle.memory.initialPages,
      maximum: bundle.memory.maximumPages
    })
  } catch (e) {
    throw new InstantiateError("invalid-wasm", `not an OPA Wasm policy: ${describeThrown(e)}`)
  }
  const entrypoints = policy.entrypoints as Record<string, unknown>
  const entrypointId = Object.hasOwn(entrypoints, bundle.entrypoint) ? entrypoints[bundle.entrypoint] : undefined
  if (typeof entrypointId !== "number") {
    const known = Object.keys(entrypoints)
    throw new InstantiateError(
      "entrypoint",
      `policy has no entrypoint "${bundle.entrypoint}" (it has: ${known.length > 0 ? known.join(", ") : "none"}); build it with \`opa build -t wasm -e ${bundle.entrypoint}\``
    )
  }
  try {
    policy.setData(bundle.data as object)
  } catch (e) {
    throw new InstantiateError("invalid-data", `policy cannot load its data: ${describeThrown(e)}`)
  }
  return { policy, entrypointId }
}

/**
 * Int32 slots of the buffer the evaluation worker and its client share (here because this is the
 * one module both sides load).
 */
export const WorkerSignal = {
  /** Bumped by the worker after each reply it posts. */
  replies: 0,
  /** Bumped by the client after each request it posts. */
  requests: 1,
  /** Index of the bundle being evaluated (so a time-out can name it). */
  bundle: 2,
  length: 3
} as const
