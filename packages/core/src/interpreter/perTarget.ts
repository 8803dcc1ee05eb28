import { indexOf } from "../machine/steps.js"

/**
 * A value per target of a run, kept in a slot per position of the machine's target ids (its
 * `indexOf`): one array sized for the fleet, allocated once. A `Map` keyed by target id rehashes
 * its way up to the fleet's size (and down again as entries go), each outgrown table garbage, and
 * at 100,000 targets its tables are a few MB promoted to the old generation during the waves. Ids
 * the machine does not know (a journal may name one) are kept aside in a `Map`.
 */
export class PerTarget<V> {
  private readonly index: ReadonlyMap<string, number>
  private readonly slots: Array<V | undefined>
  private filled = 0
  private others: Map<string, V> | undefined

  /** `ids`: the machine's target ids (`targetIdsOf` its input). */
  constructor(private readonly ids: ReadonlyArray<string>) {
    this.index = indexOf({ ids })
    this.slots = new Array<V | undefined>(ids.length)
  }

  get size(): number {
    return this.filled + (this.others?.size ?? 0)
  }

  get(id: string): V | undefined {
    const i = this.index.get(id)
    return i === undefined ? this.others?.get(id) : this.slots[i]
  }

  has(id: string): boolean {
    return this.get(id) !== undefined
  }

  set(id: string, value: V): void {
    const i = this.index.get(id)
    if (i === undefined) {
      this.others ??= new Map()
      this.others.set(id, value)
      return
    }
    if (this.slots[i] === undefined) this.filled++
    this.slots[i] = value
  }

  delete(id: string): boolean {
    const i = this.index.get(id)
    if (i === undefined) return this.others?.delete(id) ?? false
    if (this.slots[i] === undefined) return false
    this.slots[i] = undefined
    this.filled--
    return true
  }

  clear(): void {
    if (this.filled > 0) this.slots.fill(undefined)
    this.filled = 0
    this.others = undefined
  }

  /** Every value with its id: the machine's targets in its order, then the others as they came. */
  forEach(f: (value: V, id: string) => void): void {
    if (this.filled > 0) {
      for (let i = 0; i < this.slots.length; i++) {
        const value = this.slots[i]
        if (value !== undefined) f(value, this.ids[i]!)
      }
    }
    this.others?.forEach(f)
  }
}
