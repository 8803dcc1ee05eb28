import { createRequire } from "node:module"
import type * as OpaWasm from "@open-policy-agent/opa-wasm"
import { BundleLoadError } from "./errors.js"

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

/**
 * Instantiates a compiled policy module with its data. Throws {@link BundleLoadError} when the
 * module is not an OPA policy, lacks the entrypoint, or cannot load the data.
 */
export const instantiate = (bundle: {
  readonly name: string
  readonly module: CompiledModule
  readonly data: unknown
  readonly entrypoint: string
  readonly memory: MemoryLimits
}): Instance => {
  let policy: LoadedPolicy
  try {
    policy = opa.loadPolicySync(bundle.module as unknown as Parameters<typeof opa.loadPolicySync>[0], {
      initial: bundle.memory.initialPages,
      maximum: bundle.memory.maximumPages
    })
  } catch (e) {
    throw new BundleLoadError({
      bundle: bundle.name,
      reason: "invalid-wasm",
      message: `not an OPA Wasm policy: ${describeThrown(e)}`
    })
  }
  const entrypoints = policy.entrypoints as Record<string, unknown>
  const entrypointId = Object.hasOwn(entrypoints, bundle.entrypoint) ? entrypoints[bundle.entrypoint] : undefined
  if (typeof entrypointId !== "number") {
    const known = Object.keys(entrypoints)
    throw new BundleLoadError({
      bundle: bundle.name,
      reason: "entrypoint",
      message: `policy has no entrypoint "${bundle.entrypoint}" (it has: ${known.length > 0 ? known.join(", ") : "none"}); build it with \`opa build -t wasm -e ${bundle.entrypoint}\``
    })
  }
  try {
    policy.setData(bundle.data as object)
  } catch (e) {
    throw new BundleLoadError({
      bundle: bundle.name,
      reason: "invalid-data",
      message: `policy cannot load its data: ${describeThrown(e)}`
    })
  }
  return { policy, entrypointId }
}
