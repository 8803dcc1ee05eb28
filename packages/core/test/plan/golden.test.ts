// The planner is a contract: same spec + inventory → the same waves byte for byte and the same
// fingerprint, across refactors (issue 9 made it ~3× faster with no change of output). The
// expected digest was computed with the planner as it was before that work (commit 033d8c5,
// before 729d050) over the seeded cases of goldenCases.ts: every strategy × topology variant ×
// fleets of 0 to 700 targets with duplicates, unlabelled and up-to-date targets. A change of the
// digest is a change of plans: deliberate ones update it (and say so); accidental ones are bugs.
import { createHash } from "node:crypto"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { planWaves } from "../../src/plan/index.js"
import { decodeRolloutSpec } from "../../src/spec/index.js"
import { goldenCases } from "./goldenCases.js"

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

describe("golden plans", () => {
  it("260 seeded cases plan to the same JSON and fingerprints as before issue 9", () => {
    const cases = goldenCases()
    expect(cases).toHaveLength(260)
    const lines = cases.map(({ doc, inventory }) => {
      const spec = decodeRolloutSpec(doc)
      if (Result.isFailure(spec)) throw new Error(spec.failure.message)
      const plan = planWaves(spec.success, inventory)
      return `${plan.fingerprint} ${sha256(JSON.stringify(plan))}`
    })
    expect(sha256(lines.join("\n"))).toBe("fd1abebb4c8de1e0c108d4d2d4598694d67f1d7f7840ef85b556bc7bf040966c")
  })
})
