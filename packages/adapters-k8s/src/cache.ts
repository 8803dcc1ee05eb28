import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node"

/** A list of objects as the API returns it (what ListWatch wants from its list function). */
export interface ObjectList<T> {
  readonly items: Array<T>
  readonly metadata?: { readonly resourceVersion?: string }
}

export interface WatchCacheOptions<T> {
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** Secondary index: the keys an object is filed under (e.g. a pod's node name). */
  readonly indexBy?: (obj: T) => ReadonlyArray<string>
}

/**
 * Waits on several caches at once (`changedSince` with the same race), ended together by `end()`
 * once one of them answered, so no timer is left running. (An AbortController per wait cost the
 * 1,000-node benchmark a quarter of a second of CPU in DOMException objects alone.)
 */
export class WaitRace {
  over = false
  private readonly ends: Array<() => void> = []
  enter(end: () => void) {
    this.ends.push(end)
  }
  end() {
    this.over = true
    for (const end of this.ends.splice(0)) end()
  }
}

/**
 * A watch-fed cache of one kind of object (list, then watch; relists after `410 Gone`), so health
 * checks read memory instead of sending a GET per target per poll. Built on client-node's ListWatch;
 * this adds what a long rollout needs: restart after the watch ends in an error (an apiserver
 * restart), an index, and a change counter that waiters can poll for free.
 */
export class WatchCache<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>
  private readonly index = new Map<string, Map<string, T>>()
  private readonly keysOf = new Map<string, ReadonlyArray<string>>()
  private started: Promise<void> | undefined
  private stopped = false
  private restartDelayMs = 500
  private restartTimer: NodeJS.Timeout | undefined
  /** Incremented on every change the watch delivers. */
  version = 0
  /** Per index key: the version of its last change, and who waits for the next one. */
  private readonly keyVersions = new Map<string, number>()
  private readonly waiters = new Map<string, Set<() => void>>()
  /** The last error of the list or watch, cleared by the next successful (re)connect. */
  lastError: unknown = undefined
  /** List requests sent so far (the initial one and every relist). */
  lists = 0

  constructor(
    config: KubeConfig,
    readonly path: string,
    listFn: () => Promise<ObjectList<T>>,
    private readonly options: WatchCacheOptions<T> = {}
  ) {
    const counted = () => {
      this.lists++
      return listFn() as Promise<never>
    }
    this.informer = new ListWatch<T>(
      path,
      new Watch(config),
      counted,
      false,
      options.labelSelector,
      options.fieldSelector
    )
    const changed = (obj: T, removed: boolean) => {
      this.version++
      const before = this.keysOf.get(this.keyOf(obj)) ?? []
      this.reindex(obj, removed)
      for (const k of new Set([...before, ...(this.keysOf.get(this.keyOf(obj)) ?? [])])) this.wake(k)
    }
    this.informer.on("add", (obj) => changed(obj, false))
    this.informer.on("update", (obj) => changed(obj, false))
    this.informer.on("delete", (obj) => changed(obj, true))
    this.informer.on("connect", () => {
      this.lastError = undefined
    })
    this.informer.on("error", (err) => {
      // ListWatch stops after an error that is not a 410 or a client timeout: start it again, with
      // a growing delay, until stop() is called. The objects it holds stay readable meanwhile.
      this.lastError = err
      if (this.stopped) return
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined
        if (!this.stopped) this.informer.start().catch((e: unknown) => (this.lastError = e))
      }, this.restartDelayMs)
      this.restartTimer.unref?.()
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, 8_000)
    })
  }

  private wake(key: string) {
    this.keyVersions.set(key, this.version)
    const waiters = this.waiters.get(key)
    if (waiters === undefined) return
    this.waiters.delete(key)
    for (const w of waiters) w()
  }

  /** The version of the last change to an object filed under `key` (0 if none yet). */
  keyVersion(key: string): number {
    return this.keyVersions.get(key) ?? 0
  }

  /**
   * Resolves on the next change to an object filed under `key` after `since` (a `keyVersion(key)`
   * read earlier), or after `timeoutMs`: a health check answers as soon as the pod on its node turns
   * Ready instead of at the next poll, and is not woken by the other pods of the wave.
   */
  changedSince(key: string, since: number, timeoutMs: number, race?: WaitRace): Promise<void> {
    if (this.keyVersion(key) !== since || race?.over === true) return Promise.resolve()
    return new Promise((resolve) => {
      let waiters = this.waiters.get(key)
      if (waiters === undefined) {
        waiters = new Set()
        this.waiters.set(key, waiters)
      }
      const done = () => {
        clearTimeout(timer)
        this.waiters.get(key)?.delete(done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      race?.enter(done)
      waiters.add(done)
    })
  }

  private keyOf(obj: T) {
    return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`
  }

  private reindex(obj: T, removed: boolean) {
    if (this.options.indexBy === undefined) return
    const key = this.keyOf(obj)
    for (const k of this.keysOf.get(key) ?? []) this.index.get(k)?.delete(key)
    this.keysOf.delete(key)
    if (removed) return
    const keys = this.options.indexBy(obj)
    this.keysOf.set(key, keys)
    for (const k of keys) {
      let bucket = this.index.get(k)
      if (bucket === undefined) {
        bucket = new Map()
        this.index.set(k, bucket)
      }
      bucket.set(key, obj)
    }
  }

  /** Starts the list+watch once; resolves when the first list is in memory (or failed). */
  start(): Promise<void> {
    this.started ??= this.informer.start().then(() => {
      this.restartDelayMs = 500
    })
    return this.started
  }

  /** Whether the initial list has landed. */
  get synced(): boolean {
    return this.lists > 0 && this.informer.latestResourceVersion() !== ""
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace)
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.informer.list(namespace)
  }

  /** Objects filed under `key` by `indexBy`. */
  byIndex(key: string): ReadonlyArray<T> {
    const bucket = this.index.get(key)
    return bucket === undefined ? [] : [...bucket.values()]
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer)
    await this.informer.stop()
  }
}
