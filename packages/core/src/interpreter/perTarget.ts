/**
 * A value per target of a run, kept in a slot per position of the machine's target ids (its
 * `indexOf`): one array sized for the fleet, allocated once. A `Map` keyed by target id rehashes
 * its way up to the fleet's size, each outgrown table garbage, and at 100,000 targets its tables
 * are a few MB promoted to the old generation during the waves. Ids the machine does not know (a
 * journal may name one) are kept aside in a `Map`.
 */
export class PerTarget<V> {
  private readonly slots: Array<V | undefined>
  private others: Map<string, V> | undefined

  constructor(private readonly index: ReadonlyMap<string, number>) {
    this.slots = new Array<V | undefined>(index.size)
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
    if (i !== undefined) {
      this.slots[i] = value
      return
    }
    this.others ??= new Map()
    this.others.set(id, value)
  }
}
