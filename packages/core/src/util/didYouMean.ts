/**
 * Edit distance and "did you mean": the one implementation behind every typo hint (unknown spec
 * fields, unknown CLI commands and options), so a typo is suggested the same way wherever it is made.
 */

/**
 * Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, because swapped
 * neighbours (`nmae`) are the commonest typo and should cost one edit, not two. Two rows of memory.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  if (a.length === 0) return b.length
  if (b.length === 0) return a.length
  // Three rows: the transposition looks two rows back.
  let prev2: Array<number> = new Array(b.length + 1).fill(0)
  let prev: Array<number> = Array.from({ length: b.length + 1 }, (_, j) => j)
  let cur: Array<number> = new Array(b.length + 1).fill(0)
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1)
      cur[j] = v
    }
    ;[prev2, prev, cur] = [prev, cur, prev2]
  }
  return prev[b.length]!
}

/**
 * The closest candidate, when it is close enough to be a likely typo of `name`; `undefined` when
 * nothing is. Case is ignored (`batchsize` → `batchSize`); a unique candidate that extends `name`
 * (or that `name` extends), for names of four or more characters, wins (`maxShare` →
 * `maxSharePerWave`); otherwise the nearest by {@link editDistance} within a third of the name's
 * length (at least 1, at most 3), so short words are not "corrected" into unrelated ones.
 */
export function didYouMean(name: string, candidates: ReadonlyArray<string>): string | undefined {
  const lower = name.toLowerCase()
  const exact = candidates.find((c) => c.toLowerCase() === lower)
  if (exact !== undefined) return exact
  if (lower.length >= 4) {
    const prefixed = candidates.filter((c) => {
      const cl = c.toLowerCase()
      return cl.startsWith(lower) || (cl.length >= 4 && lower.startsWith(cl))
    })
    if (prefixed.length === 1) return prefixed[0]
  }
  let best: string | undefined
  let bestScore = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase())
    if (d < bestScore) {
      best = c
      bestScore = d
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)))
  return bestScore <= limit ? best : undefined
}
