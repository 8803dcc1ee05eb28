import { performance } from "node:perf_hooks"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import type { WorkerBundle, WorkerData, WorkerReply, WorkerRequest } from "./evaluationWorker.js"
import { WorkerSignal } from "./wasm.js"

/**
 * The client of the policy evaluation worker (evaluationWorker.ts): one long-lived worker thread
 * holding an instance of every bundle, started on first use, asked synchronously (the caller's
 * thread blocks on `Atomics.wait`, for the synchronous `PolicyEvaluator` API) or asynchronously
 * (`Atomics.waitAsync`: the event loop runs on while the worker evaluates). Every wait is bounded:
 * a worker that does not answer within the limit is terminated, the call answers `timeout`, and the
 * next call starts a fresh worker. This is the one place that stops a policy evaluation.
 */

export interface PolicyWorkerLimits {
  /** How long one evaluation may take, in milliseconds. */
  readonly timeoutMs: number
  /** How long the worker may take to start and instantiate every bundle, in milliseconds. */
  readonly startTimeoutMs: number
}

/** Why a call got no answer. */
export type NoAnswer =
  | {
      readonly _tag: "timeout"
      readonly phase: "start" | "call"
      /** The bundle being evaluated when the limit passed (by the worker's last note). */
      readonly bundle: string | undefined
      readonly limitMs: number
    }
  | { readonly _tag: "crashed"; readonly message: string; readonly outOfMemory: boolean }

export type CallResult = { readonly _tag: "answered"; readonly reply: WorkerReply } | NoAnswer

export type RequestBody = { readonly _tag: "evaluate"; readonly input: ArrayBuffer } | { readonly _tag: "stats" }

// The worker file next to this module: wasm.js / evaluationWorker.js when compiled, the .ts
// sources when this module itself runs from them (the package's tests; Node strips the types).
const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"
const WORKER = new URL(`./evaluationWorker${extension}`, import.meta.url)
const WASM = new URL(`./wasm${extension}`, import.meta.url).href

interface Running {
  readonly worker: Worker
  readonly port: MessagePort
  readonly signal: Int32Array
  /** Replies taken off the port but not yet claimed by their caller. */
  readonly replies: Map<number, WorkerReply>
  /** Settles when the worker ends: exits, fails, or is stopped (with why). */
  readonly ended: Promise<NoAnswer>
  readonly settle: (why: NoAnswer) => void
  /** Why it ended, once known (a synchronous wait cannot see an exit: it times out instead). */
  endedWith: NoAnswer | undefined
  /** The worker answered `ready`: every bundle is instantiated. */
  started: boolean
}

/** Marks a worker ended and wakes every wait on it. */
const end = (running: Running, why: NoAnswer) => {
  if (running.endedWith !== undefined) return
  running.endedWith = why
  running.settle(why)
  Atomics.notify(running.signal, WorkerSignal.replies)
}

// ES2024's Atomics.waitAsync (Node has it; the package is typed against ES2023).
const waitAsync = (
  Atomics as unknown as {
    waitAsync: (
      array: Int32Array,
      index: number,
      value: number
    ) => { readonly async: false; readonly value: string } | { readonly async: true; readonly value: Promise<string> }
  }
).waitAsync

const sleep = (ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const promise = new Promise<"timed-out">((resolve) => {
    timer = setTimeout(() => resolve("timed-out"), ms)
  })
  return { promise, cancel: () => clearTimeout(timer) }
}

export class PolicyWorker {
  private running: Running | undefined
  private nextId = 1
  /** Async calls one at a time: each one's limit starts when it is sent. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Workers started so far (1 unless one was stopped or crashed). */
  workersStarted = 0

  constructor(
    private readonly bundles: ReadonlyArray<WorkerBundle>,
    private readonly limits: PolicyWorkerLimits
  ) {}

  private spawn(): Running {
    const buffer = new SharedArrayBuffer(WorkerSignal.length * Int32Array.BYTES_PER_ELEMENT)
    const { port1, port2 } = new MessageChannel()
    const workerData: WorkerData = { wasm: WASM, bundles: this.bundles, signal: buffer, port: port2 }
    const worker = new Worker(WORKER, { workerData, transferList: [port2] })
    // A worker never keeps the process alive: an evaluator nobody closes does not hang an exit.
    worker.unref()
    this.workersStarted++
    let settle: (why: NoAnswer) => void = () => {}
    const ended = new Promise<NoAnswer>((resolve) => {
      settle = resolve
    })
    const running: Running = {
      worker,
      port: port1,
      signal: new Int32Array(buffer),
      replies: new Map(),
      ended,
      settle,
      endedWith: undefined,
      started: false
    }
    worker.on("error", (e: Error & { code?: string }) =>
      end(running, {
        _tag: "crashed",
        message: e.message,
        outOfMemory: e.code === "ERR_WORKER_OUT_OF_MEMORY"
      })
    )
    worker.on("exit", (code) =>
      end(running, { _tag: "crashed", message: `the evaluation worker exited (code ${code})`, outOfMemory: false })
    )
    return running
  }

  /** Stops a worker (every wait on it answers `why`); the next call starts another. */
  private stop(running: Running, why: NoAnswer): NoAnswer {
    if (this.running === running) this.running = undefined
    end(running, why)
    running.port.close()
    void running.worker.terminate()
    return running.endedWith ?? why
  }

  private take(running: Running, id: number): WorkerReply | undefined {
    for (let m = receiveMessageOnPort(running.port); m !== undefined; m = receiveMessageOnPort(running.port)) {
      const reply = m.message as WorkerReply
      if (reply._tag === "ready") running.started = true
      else running.replies.set(reply.id, reply)
    }
    if (id === 0) return running.started ? { _tag: "ready", id: 0 } : undefined
    const reply = running.replies.get(id)
    if (reply !== undefined) running.replies.delete(id)
    return reply
  }

  private send(running: Running, id: number, body: RequestBody) {
    const request: WorkerRequest = { ...body, id }
    running.port.postMessage(request, body._tag === "evaluate" ? [body.input] : [])
    Atomics.add(running.signal, WorkerSignal.requests, 1)
    Atomics.notify(running.signal, WorkerSignal.requests)
  }

  private timedOut(running: Running, phase: "start" | "call"): NoAnswer {
    const index = Atomics.load(running.signal, WorkerSignal.bundle)
    return this.stop(running, {
      _tag: "timeout",
      phase,
      bundle: phase === "call" ? this.bundles[index]?.name : undefined,
      limitMs: this.limitOf(phase)
    })
  }

  private limitOf(phase: "start" | "call"): number {
    return phase === "start" ? this.limits.startTimeoutMs : this.limits.timeoutMs
  }

  /**
   * One look at the worker for both waits: its answer, its end, or the limit passed; else what to
   * wait on (the replies counter as read before looking, so a reply in between wakes the wait).
   */
  private look(
    running: Running,
    id: number,
    phase: "start" | "call",
    deadline: number
  ): CallResult | { readonly _tag: "wait"; readonly before: number; readonly left: number } {
    const before = Atomics.load(running.signal, WorkerSignal.replies)
    const reply = this.take(running, id)
    if (reply !== undefined) return { _tag: "answered", reply }
    // A worker that dies is not seen by the synchronous wait (its exit event needs the event loop): it times out there.
    if (running.endedWith !== undefined) return this.stop(running, running.endedWith)
    const left = deadline - performance.now()
    if (left <= 0) return this.timedOut(running, phase)
    return { _tag: "wait", before, left }
  }

  private waitSync(running: Running, id: number, phase: "start" | "call"): CallResult {
    const deadline = performance.now() + this.limitOf(phase)
    for (;;) {
      const looked = this.look(running, id, phase, deadline)
      if (looked._tag !== "wait") return looked
      Atomics.wait(running.signal, WorkerSignal.replies, looked.before, looked.left)
    }
  }

  private async waitAsync(running: Running, id: number, phase: "start" | "call"): Promise<CallResult> {
    const deadline = performance.now() + this.limitOf(phase)
    for (;;) {
      const looked = this.look(running, id, phase, deadline)
      if (looked._tag !== "wait") return looked
      const waited = waitAsync(running.signal, WorkerSignal.replies, looked.before)
      if (!waited.async) continue
      // The timer is what keeps the process alive while the worker evaluates (a parked waitAsync
      // does not); `ended` answers a crash at once instead of at the limit.
      const timer = sleep(looked.left)
      await Promise.race([waited.value, timer.promise, running.ended])
      timer.cancel()
    }
  }

  private current(): Running {
    if (this.running?.endedWith !== undefined) this.stop(this.running, this.running.endedWith)
    this.running ??= this.spawn()
    return this.running
  }

  /** Sends `body` and blocks the calling thread until the answer, the limit, or the worker's end. */
  callSync(body: RequestBody): CallResult {
    const running = this.current()
    if (!running.started) {
      const ready = this.waitSync(running, 0, "start")
      if (ready._tag !== "answered") return ready
    }
    const id = this.nextId++
    this.send(running, id, body)
    return this.waitSync(running, id, "call")
  }

  /** Like {@link callSync}, without blocking: calls are queued and sent one at a time. */
  call(body: RequestBody): Promise<CallResult> {
    const result = this.queue.then(async (): Promise<CallResult> => {
      const running = this.current()
      if (!running.started) {
        const ready = await this.waitAsync(running, 0, "start")
        if (ready._tag !== "answered") return ready
      }
      const id = this.nextId++
      this.send(running, id, body)
      return this.waitAsync(running, id, "call")
    })
    this.queue = result.catch(() => undefined)
    return result
  }

  /** Terminates the worker (a later call starts a new one). */
  close(): void {
    if (this.running !== undefined) {
      this.stop(this.running, { _tag: "crashed", message: "the policy engine was closed", outOfMemory: false })
    }
  }
}
