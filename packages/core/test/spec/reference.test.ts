import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { EXACTLY_ONE_RULES, RolloutSpecSchema } from "../../src/spec/Rollout.js"
import { referenceRows, renderSpecReference } from "../../src/spec/reference.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..")
const committed = path.join(root, "docs", "spec-reference.md")

describe("the spec field reference (docs/spec-reference.md)", () => {
  it("is what the Rollout schema generates (run `npm run docs:spec` after changing the schema)", () => {
    expect(fs.readFileSync(committed, "utf8")).toBe(renderSpecReference())
  })

  it("has a row for every field of every strategy, with the schema's defaults as a document writes them", () => {
    const rows = new Map(referenceRows().map((r) => [r.path, r]))
    for (const kind of EXACTLY_ONE_RULES[0]!.keys) expect(rows.has(`spec.strategy.${kind}`)).toBe(true)
    expect(rows.get("spec.health.progressDeadline")?.presence).toBe('default: `"10m"`')
    expect(rows.get("spec.strategy.rolling.maxUnavailable")?.presence).toBe("default: `1`")
    expect(rows.get("spec.gates.manualApproval.before")?.presence).toBe('default: `"none"`')
    expect(rows.get("spec.strategy.rolling.batchSize")?.presence).toBe("required")
    expect(rows.get("spec.topology")?.presence).toBe("optional")
    expect(rows.get("spec.health.probe.period")?.accepts).toMatch(/duration/)
  })

  it("starts from the document's own top-level fields and reaches into lists", () => {
    const paths = referenceRows().map((r) => r.path)
    const top = RolloutSpecSchema.ast.propertySignatures.map((p) => String(p.name))
    expect(paths.filter((p) => !p.includes("."))).toEqual(top)
    expect(paths).toContain("spec.strategy.canary.steps[].pause.duration")
    expect(paths).toContain("spec.gates.analysis[].successCondition")
  })
})
