/** A small seeded PRNG (mulberry32): the simulated fleet must replay the same faults for a seed. */
export interface Prng {
  readonly next: () => number
}

export const makePrng = (seed: number): Prng => {
  let a = seed >>> 0
  return {
    next: () => {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
}
