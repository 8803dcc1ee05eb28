import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { exactDistribution, hodgesLehmann, mannWhitney, pnorm } from "../../src/analysis/judge/mannWhitney.js"
import { numRuns } from "../spec/arbitraries.js"

/**
 * The statistics are checked against values computed independently of `mannWhitney.ts`:
 *
 * 1. A brute-force permutation test written here from the definition (every way of choosing which
 *    m of the pooled values are "canary", U counted pair by pair with ties as ½, no ranks): the exact
 *    p-value must equal it to 1e-12 without ties, and the normal approximation (R's, with tie and
 *    continuity corrections) must stay within 0.03 of the exact permutation p-value with ties.
 * 2. The published table of critical values of U for a two-tailed test at α = 0.05 (e.g.
 *    http://numeracy-bank.net/?q=t/stt/mwu/3, the same numbers as every statistics textbook's table):
 *    the largest u with exact p ≤ 0.05 must be the table's entry.
 * 3. R's own output, as printed on https://endmemo.com/r/wilcoxon.php (`wilcox.test(x, y)` with ties,
 *    so R used the normal approximation with continuity correction): W = 51.5, p = 0.5966 and
 *    W = 0, p = 0.001364; and R's `pnorm` for the normal CDF.
 */

/** U of x from the definition: pairs where x wins, ties ½ (independent of the rank-based code). */
const uByPairs = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  let u = 0
  for (const a of x) for (const b of y) u += a > b ? 1 : a === b ? 0.5 : 0
  return u
}

/** Two-sided permutation p-value over every split of the pooled sample (R's rule for the tail). */
const bruteForceP = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
  const pooled = [...x, ...y]
  const m = x.length
  const n = y.length
  const observed = uByPairs(x, y)
  let le = 0
  let ge = 0
  let total = 0
  const pick: Array<number> = []
  const walk = (start: number) => {
    if (pick.length === m) {
      const chosen = new Set(pick)
      const xs = pick.map((i) => pooled[i]!)
      const ys = pooled.filter((_, i) => !chosen.has(i))
      const u = uByPairs(xs, ys)
      total++
      if (u <= observed + 1e-9) le++
      if (u >= observed - 1e-9) ge++
      return
    }
    for (let i = start; i <= pooled.length - (m - pick.length); i++) {
      pick.push(i)
      walk(i + 1)
      pick.pop()
    }
  }
  walk(0)
  const tail = observed > (m * n) / 2 ? ge / total : le / total
  return Math.min(1, 2 * tail)
}

const distinctSamples = (maxSize: number) =>
  fc
    .uniqueArray(fc.integer({ min: -1000, max: 1000 }), { minLength: 2, maxLength: maxSize * 2 })
    .chain((values) =>
      fc.integer({ min: 1, max: values.length - 1 }).map((m) => ({ x: values.slice(0, m), y: values.slice(m) }))
    )

describe("Mann–Whitney U against independent values", () => {
  it("exact p-value = brute-force permutation p-value (no ties, small samples)", () => {
    fc.assert(
      fc.property(distinctSamples(6), ({ x, y }) => {
        const r = mannWhitney(x, y)
        expect(r.method).toBe("exact")
        expect(r.u).toBe(uByPairs(x, y))
        expect(r.p).toBeCloseTo(bruteForceP(x, y), 12)
      }),
      { numRuns: Math.min(numRuns, 300) }
    )
  })

  it("normal approximation with ties = a second implementation of R's formula (pairs, counts, Simpson-integrated normal)", () => {
    // Independent code path: U by pairs, the tie term from value counts, and the normal CDF by
    // Simpson integration of the density (not erfc): must agree to 1e-6.
    const pnormSimpson = (z: number) => {
      const steps = 20000
      const lo = -12
      const h = (z - lo) / steps
      const f = (t: number) => Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI)
      let s = f(lo) + f(z)
      for (let i = 1; i < steps; i++) s += (i % 2 === 1 ? 4 : 2) * f(lo + i * h)
      return (s * h) / 3
    }
    const second = (x: ReadonlyArray<number>, y: ReadonlyArray<number>) => {
      const m = x.length
      const n = y.length
      const N = m + n
      const counts = new Map<number, number>()
      for (const v of [...x, ...y]) counts.set(v, (counts.get(v) ?? 0) + 1)
      let tie = 0
      for (const t of counts.values()) tie += t ** 3 - t
      const centred = uByPairs(x, y) - (m * n) / 2
      const sd = Math.sqrt(((m * n) / 12) * (N + 1 - tie / (N * (N - 1))))
      const correction = centred > 0 ? 0.5 : centred < 0 ? -0.5 : 0
      const z = (centred - correction) / sd
      return Math.min(1, 2 * Math.min(pnormSimpson(z), 1 - pnormSimpson(z)))
    }
    const tied = fc
      .tuple(
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 60 })
      )
      .filter(([x, y]) => new Set([...x, ...y]).size < x.length + y.length && new Set([...x, ...y]).size > 1)
    fc.assert(
      fc.property(tied, ([x, y]) => {
        const r = mannWhitney(x, y)
        expect(r.method).toBe("normal")
        expect(r.u).toBe(uByPairs(x, y))
        expect(Math.abs(r.p - second(x, y))).toBeLessThan(1e-6)
      }),
      { numRuns: Math.min(numRuns, 200) }
    )
  })

  it("with ties, the normal approximation is near the exact permutation p-value (moderate ties, n = 8..9)", () => {
    // Its true error: at n = 7 with heavy ties it can be 0.1 off the exact conditional p-value
    // (checked by brute force), at n = 8..9 over ~30 distinct values it stays within 0.05.
    const tied = fc
      .tuple(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 8, maxLength: 9 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 8, maxLength: 9 })
      )
      .filter(([x, y]) => new Set([...x, ...y]).size < x.length + y.length)
    fc.assert(
      fc.property(tied, ([x, y]) => {
        expect(Math.abs(mannWhitney(x, y).p - bruteForceP(x, y))).toBeLessThan(0.05)
      }),
      { numRuns: Math.min(numRuns, 30) }
    )
  })

  it("critical values of U (two-tailed, α = 0.05) match the published table", () => {
    // [n1, n2, U critical] from the table: significant when U ≤ U critical.
    const table: ReadonlyArray<readonly [number, number, number]> = [
      [3, 5, 0],
      [4, 4, 0],
      [5, 5, 2],
      [5, 10, 8],
      [6, 6, 5],
      [6, 9, 10],
      [7, 7, 8],
      [8, 8, 13],
      [8, 12, 22],
      [9, 9, 17],
      [10, 10, 23],
      [10, 15, 39],
      [12, 11, 33],
      [13, 16, 59],
      [15, 20, 90],
      [20, 20, 127]
    ]
    for (const [m, n, critical] of table) {
      const dist = exactDistribution(m, n)
      let cdf = 0
      let largest = -1
      for (let u = 0; u < dist.length; u++) {
        cdf += dist[u]!
        if (2 * cdf <= 0.05 + 1e-12) largest = u
      }
      expect([m, n, largest]).toEqual([m, n, critical])
    }
  })

  it("reproduces R's wilcox.test output (ties: normal approximation with continuity correction)", () => {
    const x = [1, 5, 9, 24, 56, 21, 3, 7, 21, 4]
    const r1 = mannWhitney(x, [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5])
    expect(r1.method).toBe("normal")
    expect(r1.u).toBe(51.5)
    expect(r1.p).toBeCloseTo(0.5966, 4)
    const r2 = mannWhitney(x, [1233, 4356, 987, 39999, 1111, 200000])
    expect(r2.u).toBe(0)
    expect(r2.p).toBeCloseTo(0.001364, 5)
  })

  it("pnorm matches R's pnorm", () => {
    // R: pnorm(1.959964) = 0.975, pnorm(-3) = 0.001349898, pnorm(0.5) = 0.6914625, pnorm(-1) = 0.1586553
    expect(pnorm(1.959964)).toBeCloseTo(0.975, 6)
    expect(pnorm(-3)).toBeCloseTo(0.001349898, 8)
    expect(pnorm(0.5)).toBeCloseTo(0.6914625, 6)
    expect(pnorm(-1)).toBeCloseTo(0.1586553, 6)
    expect(pnorm(0)).toBeCloseTo(0.5, 7)
  })

  it("the exact distribution sums to 1 and is symmetric", () => {
    for (const [m, n] of [
      [1, 1],
      [3, 7],
      [12, 9],
      [49, 49]
    ] as const) {
      const d = exactDistribution(m, n)
      expect(d.length).toBe(m * n + 1)
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10)
      for (let u = 0; u <= m * n; u++) expect(d[u]).toBeCloseTo(d[m * n - u]!, 12)
    }
  })

  it("Hodges–Lehmann is the median of the pairwise differences", () => {
    // By hand: x − y over {1,2,3} × {0} → 1,2,3: median 2; {1,4} × {0,2} → 1,−1,4,2: median 1.5
    expect(hodgesLehmann([1, 2, 3], [0])).toBe(2)
    expect(hodgesLehmann([1, 4], [0, 2])).toBe(1.5)
  })
})
