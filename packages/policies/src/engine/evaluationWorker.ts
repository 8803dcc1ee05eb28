import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads"
import type * as Wasm from "./wasm.js"

/**
 * The policy evaluation worker: holds an instance of every bundle and evaluates inputs on request.
 * Evaluation runs here, off the caller's thread, because opa's Wasm evaluation is synchronous and
 * can run forever (`replace(s, "", x)` never returns; a huge `numbers.range` takes hours): only
 * `Worker.terminate` stops it. policyWorker.ts is the other side, and owns the time limits.
 *
 * Node loads this file on its own, from the package's TypeScript sources too (type stripping):
 * hence no import of the package's modules but the one given in `workerData.wasm`.
 */

export type WorkerBundle = Wasm.InstantiableBundle

export interface WorkerData {
  /** URL of wasm.ts / wasm.js, as the spawning module resolved it. */
  readonly wasm: string
  readonly bundles: ReadonlyArray<WorkerBundle>
  /** `WorkerSignal` slots (wasm.ts) over a SharedArrayBuffer. */
  readonly signal: SharedArrayBuffer
  readonly port: MessagePort
}

export type WorkerRequest =
  | { readonly _tag: "evaluate"; readonly id: number; readonly input: ArrayBuffer }
  | { readonly _tag: "stats"; readonly id: number }

/** One bundle's evaluation: opa-wasm's result set, or what it threw (classified). */
export type BundleOutcome =
  | { readonly _tag: "result"; readonly raw: unknown }
  | { readonly _tag: "thrown"; readonly rule: "engine/out-of-memory" | "engine/eval-error"; readonly message: string }

export type WorkerReply =
  | { readonly _tag: "ready"; readonly id: 0 }
  | { readonly _tag: "evaluated"; readonly id: number; readonly outcomes: ReadonlyArray<BundleOutcome> }
  | {
      readonly _tag: "stats"
      readonly id: number
      readonly wasmMemoryBytes: number
      readonly instancesCreated: number
    }
  | { readonly _tag: "failed"; readonly id: number; readonly message: string }

const data = workerData as WorkerData
const wasm = (await import(data.wasm)) as typeof Wasm
const Signal = wasm.WorkerSignal
const signal = new Int32Array(data.signal)

interface Slot {
  readonly bundle: WorkerBundle
  instance: Wasm.Instance | undefined
  instances: number
}
const slots: Array<Slot> = data.bundles.map((bundle) => ({ bundle, instance: undefined, instances: 0 }))

const reply = (message: WorkerReply) => {
  data.port.postMessage(message)
  // The message is in the client's queue before the counter moves: a client woken by the counter
  // always finds it.
  Atomics.add(signal, Signal.replies, 1)
  Atomics.notify(signal, Signal.replies)
}

const evaluateSlot = (slot: Slot, input: ArrayBuffer): BundleOutcome => {
  try {
    if (slot.instance === undefined) {
      slot.instance = wasm.instantiate(slot.bundle)
      slot.instances++
    }
    return { _tag: "result", raw: slot.instance.policy.evaluate(input, slot.instance.entrypointId) }
  } catch (e) {
    // A trapped instance may be left in any state: the next evaluation gets a fresh one.
    slot.instance = undefined
    const rule = wasm.classifyThrown(e)
    return {
      _tag: "thrown",
      rule,
      message: `policy evaluation failed${rule === "engine/out-of-memory" ? " (out of memory)" : ""}: ${wasm.describeThrown(e)}`
    }
  }
}

const handle = (request: WorkerRequest): WorkerReply => {
  if (request._tag === "stats") {
    let wasmMemoryBytes = 0
    let instancesCreated = 0
    for (const slot of slots) {
      wasmMemoryBytes += slot.instance?.policy.mem.buffer.byteLength ?? 0
      instancesCreated += slot.instances
    }
    return { _tag: "stats", id: request.id, wasmMemoryBytes, instancesCreated }
  }
  const outcomes = slots.map((slot, i) => {
    Atomics.store(signal, Signal.bundle, i)
    return evaluateSlot(slot, request.input)
  })
  return { _tag: "evaluated", id: request.id, outcomes }
}

// Every instance is made before answering `ready`, so the client's start limit covers them.
for (const slot of slots) {
  try {
    slot.instance = wasm.instantiate(slot.bundle)
    slot.instances++
  } catch {
    // The bundle instantiated when it was loaded; if it does not here, its evaluations say why.
  }
}
reply({ _tag: "ready", id: 0 })

// A blocking loop rather than port events: a request is picked up without a turn of this thread's
// event loop (a round trip costs tens of microseconds, not hundreds). Terminate wakes the wait.
let seen = 0
for (;;) {
  Atomics.wait(signal, Signal.requests, seen)
  seen = Atomics.load(signal, Signal.requests)
  for (let m = receiveMessageOnPort(data.port); m !== undefined; m = receiveMessageOnPort(data.port)) {
    const request = m.message as WorkerRequest
    let answer: WorkerReply
    try {
      answer = handle(request)
    } catch (e) {
      answer = { _tag: "failed", id: request.id, message: e instanceof Error ? e.message : String(e) }
    }
    reply(answer)
  }
}
