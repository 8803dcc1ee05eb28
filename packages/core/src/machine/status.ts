import { Result } from "effect"
import * as Base64 from "effect/encoding/Base64"

/**
 * Every target's rollout status as bit flags, in an immutable vector the machine's context holds.
 *
 * The machine must stay pure (a transition never changes the snapshot it was given) and cost O(k)
 * for an event about k targets, whatever the fleet's size. A plain array copied per event is
 * O(n) (quadratic over a rollout); a hash-array-mapped set costs ~1.5 µs per update. This vector is
 * copy-on-write in chunks of {@link CHUNK} bytes: an update copies the (n / CHUNK)-slot chunk index
 * once per batch and each chunk it writes to once per batch, so a batch of k targets costs
 * O(k + n / CHUNK) — 98 slots at 100,000 targets.
 */
export const CHUNK = 1024

export const Flag = {
  /** An update was dispatched for it (write-ahead: before the adapter acts). */
  touched: 1,
  /** Dispatched and not yet healthy: counts as unavailable. */
  inFlight: 2,
  /** Healthy on the new version. */
  updated: 4,
  rollbackInFlight: 8,
  rolledBack: 16,
  rollbackFailed: 32,
  /** Failed within the failure budget: rolled back on its own while the rollout goes on. */
  failedWithinBudget: 64
} as const

export class StatusVector {
  private constructor(
    readonly size: number,
    private readonly chunks: ReadonlyArray<Uint8Array>
  ) {}

  static empty(size: number): StatusVector {
    const chunks: Uint8Array[] = []
    for (let at = 0; at < size; at += CHUNK) chunks.push(new Uint8Array(Math.min(CHUNK, size - at)))
    return new StatusVector(size, chunks)
  }

  get(index: number): number {
    return this.chunks[index >>> 10]![index & (CHUNK - 1)]!
  }

  has(index: number, flag: number): boolean {
    return (this.get(index) & flag) !== 0
  }

  /** A new vector with `f` applied to the given targets' flags; this one is left as it was. */
  update(indices: Iterable<number>, f: (flags: number, index: number) => number): StatusVector {
    let chunks: Uint8Array[] | undefined
    const copied = new Set<number>()
    for (const index of indices) {
      const c = index >>> 10
      const old = (chunks ?? this.chunks)[c]![index & (CHUNK - 1)]!
      const next = f(old, index)
      if (next === old) continue
      chunks ??= [...this.chunks]
      if (!copied.has(c)) {
        chunks[c] = new Uint8Array(chunks[c]!)
        copied.add(c)
      }
      chunks[c]![index & (CHUNK - 1)] = next
    }
    return chunks === undefined ? this : new StatusVector(this.size, chunks)
  }

  /** Base64 of the flags, one byte per target: how snapshots store it. */
  encode(): string {
    const all = new Uint8Array(this.size)
    this.chunks.forEach((chunk, i) => all.set(chunk, i * CHUNK))
    return Base64.encode(all)
  }

  static decode(size: number, encoded: string): StatusVector {
    const decoded = Base64.decode(encoded)
    if (Result.isFailure(decoded)) throw new Error(`status vector is not base64: ${decoded.failure.message}`)
    const all = decoded.success
    if (all.length !== size) throw new Error(`status vector has ${all.length} entries, expected ${size}`)
    const chunks: Uint8Array[] = []
    for (let at = 0; at < size; at += CHUNK) chunks.push(new Uint8Array(all.subarray(at, Math.min(size, at + CHUNK))))
    return new StatusVector(size, chunks)
  }

  /** JSON is the encoded form, so a context compares and prints compactly. */
  toJSON(): string {
    return this.encode()
  }
}
