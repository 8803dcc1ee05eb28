import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium } from "playwright-core"
import type { JournalEntry } from "@sluice/core"
import { describe, expect, it } from "vitest"
import type { ReportInput } from "../src/report/html.js"
import { FAST, fixture, sluice, tmpStore } from "./helpers.js"

// The report page is checked in a real browser: Debian's chromium, driven by playwright-core.
const browser = spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" })
  .stdout.trim()
  .split("\n")[0]
if (!browser) {
  const message = "chromium is not installed. Provision it with: bash scripts/setup.sh (apt-get install chromium)"
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING the report page suite: ${message}\n`)
}
/** A report input for a rollout with no plan: what the page shows comes from `entries` alone. */
const reportInput = (o: {
  readonly rolloutId: string
  readonly image: string
  readonly entries: ReadonlyArray<JournalEntry>
  readonly state: string
}): ReportInput => ({
  header: {
    rolloutId: o.rolloutId,
    createdAt: 0,
    spec: {},
    image: o.image,
    adapter: "simulated",
    config: {} as never,
    machineInput: {
      waves: [],
      rollback: { onFailure: true, onAbort: true },
      progressDeadlineMs: 1,
      rollbackConcurrency: 1
    },
    plan: { strategy: "rolling", targets: [], waves: [], upToDate: [], fingerprint: "f" } as never,
    previous: {}
  },
  entries: o.entries,
  progress: {
    failedWithinBudget: [],
    touched: [],
    updated: [],
    inFlight: [],
    rollbackPending: [],
    rollbackInFlight: [],
    rolledBack: [],
    rollbackFailed: []
  },
  result: undefined,
  state: o.state
})

/** Where the screenshot is kept: the CI's artifacts directory when it gives one. */
const artifacts = process.env.SLUICE_ARTIFACTS ?? fs.mkdtempSync(path.join(os.tmpdir(), "sluice-report-"))

describe.skipIf(!browser)("sluice report --html (real Chromium)", () => {
  it("shows the outcome, the waves per zone, the timeline, the gates and the rollback of a rolled-back rollout", async () => {
    const store = tmpStore()
    const run = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--id",
      "rep-1",
      "--plain",
      "--store",
      store,
      "--fleet-size",
      "24",
      ...FAST,
      "--faults",
      "never-healthy=:2.0.0"
    ])
    expect(run.code, run.stderr).toBe(3)
    const file = path.join(store, "report.html")
    const r = await sluice(["report", "rep-1", "--store", store, "--html", file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("(rolledBack)")

    const b = await chromium.launch({ executablePath: browser!, args: ["--no-sandbox"] })
    try {
      const page = await b.newPage({ viewport: { width: 1100, height: 900 } })
      const requests: string[] = []
      const errors: string[] = []
      page.on("request", (req) => requests.push(req.url()))
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()))
      page.on("pageerror", (e) => errors.push(e.message))
      await page.goto(`file://${file}`)
      expect(await page.title()).toBe("Sluice rollout rep-1: rolledBack")
      expect(await page.getByTestId("outcome").textContent()).toBe("rolledBack")
      expect(await page.getByTestId("reason").textContent()).toMatch(/progress deadline|unhealthy/)
      // Three zones, one column per planned wave; the first wave's cells show rollbacks.
      const zones = page.getByTestId("zones")
      expect(await zones.locator("tbody tr").count()).toBe(3)
      const rolledBackCells = await zones.locator("td.rolledback").count()
      expect(rolledBackCells).toBeGreaterThan(0)
      expect(await page.getByTestId("wave-bar").count()).toBeGreaterThan(0)
      expect(await page.locator("svg .wave.failed").count()).toBe(1)
      expect(await page.getByTestId("rollback").textContent()).toMatch(/rolled back \d+ target\(s\)/)
      expect(await page.locator("li", { hasText: "policy and scan gates (pre-flight)" }).count()).toBe(1)
      expect(await page.getByTestId("counts").textContent()).toMatch(/^0\/24 updated, \d+ rolled back$/)
      // Self-contained: nothing but the page itself was loaded, and nothing failed in it.
      expect(requests).toEqual([`file://${file}`])
      expect(errors).toEqual([])
      const shot = path.join(artifacts, "report-rolled-back.png")
      await page.screenshot({ path: shot, fullPage: true })
      expect(fs.statSync(shot).size).toBeGreaterThan(10_000)
    } finally {
      await b.close()
    }
  }, 120_000)

  it("escapes what the journal says (a reason is text, never markup)", async () => {
    const { renderReport } = await import("../src/report/html.js")
    const html = renderReport(
      reportInput({
        rolloutId: "<script>x</script>",
        image: 'agent:"2"',
        entries: [{ kind: "event", at: 1, event: { type: "GATES_DENIED", reason: "<img src=x onerror=alert(1)>" } }],
        state: "blocked"
      })
    )
    expect(html).not.toContain("<script>x</script>")
    expect(html).not.toContain("<img src=x")
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;")
  })

  it("shows each analysis verdict, and a canary judgement's metrics plotted canary against baseline", async () => {
    const { renderReport } = await import("../src/report/html.js")
    // The verdict exactly as the analysis gate journals it with ANALYSIS_FAILED (see the judge's
    // end-to-end test against the real Prometheus, which checks the values travel with it).
    const metric = (name: string, classification: "High" | "Pass", canary: number[], baseline: number[]) => ({
      name,
      group: name,
      classification,
      failed: classification === "High",
      critical: false,
      canaryCount: canary.length,
      baselineCount: baseline.length,
      p: classification === "High" ? 0.009 : 0.6,
      u: 0,
      method: "exact" as const,
      estimate: classification === "High" ? 0.04 : 0,
      canaryMedian: canary[1]!,
      baselineMedian: baseline[4]!,
      reason: "x",
      canaryValues: canary,
      baselineValues: baseline
    })
    const verdict = {
      analysis: "agent-health",
      phase: "Failed" as const,
      successful: 0,
      failed: 1,
      inconclusive: 0,
      errors: 0,
      reason: 'analysis "agent-health" failed: more than 0 measurement(s) failed (failureLimit)',
      judgement: {
        result: "fail" as const,
        score: 50,
        reason: "errors High",
        canary: ["n-0", "n-1", "n-2"],
        baseline: ["n-3", "n-4", "n-5", "n-6", "n-7", "n-8", "n-9", "n-10", "n-11"],
        metrics: [
          metric("errors", "High", [0.061, 0.06, 0.059], [0.02, 0.021, 0.019, 0.02, 0.022, 0.018, 0.02, 0.021, 0.019]),
          metric("memory", "Pass", [101, 99, 100], [100, 98, 102, 99, 101, 100, 100, 97, 103])
        ]
      }
    }
    const html = renderReport(
      reportInput({
        rolloutId: "judged",
        image: "agent:2",
        entries: [
          { kind: "event", at: 1000, event: { type: "WAVE_CHECKED", wave: 0 } },
          {
            kind: "event",
            at: 5000,
            event: { type: "ANALYSIS_FAILED", wave: 0, reason: verdict.reason, verdicts: [verdict] }
          }
        ],
        state: "rollingBack"
      })
    )
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-report-")), "judged.html")
    fs.writeFileSync(file, html)
    const b = await chromium.launch({ executablePath: browser!, args: ["--no-sandbox"] })
    try {
      const page = await b.newPage({ viewport: { width: 1100, height: 900 } })
      const errors: string[] = []
      page.on("pageerror", (e) => errors.push(e.message))
      await page.goto(`file://${file}`)
      const section = page.getByTestId("analysis")
      expect(await section.count()).toBe(1)
      expect(await section.locator("h3").textContent()).toContain("agent-health failed")
      const rows = page.getByTestId("metric-row")
      expect(await rows.count()).toBe(2)
      expect(await rows.nth(0).getAttribute("class")).toBe("deny")
      expect(await rows.nth(1).getAttribute("class")).toBe("allow")
      // Every value is a dot: 3 canary and 9 baseline targets per metric, on a plot per metric.
      expect(await page.getByTestId("metric-plot").count()).toBe(2)
      expect(await page.locator("svg.metric circle.canary").count()).toBe(6)
      expect(await page.locator("svg.metric circle.baseline").count()).toBe(18)
      // The failing metric's canary dots sit right of every baseline dot (its values are higher).
      const xs = async (cls: string) =>
        page
          .getByTestId("metric-plot")
          .first()
          .locator(`circle.${cls}`)
          .evaluateAll((cs) => cs.map((c) => Number(c.getAttribute("cx"))))
      expect(Math.min(...(await xs("canary")))).toBeGreaterThan(Math.max(...(await xs("baseline"))))
      expect(errors).toEqual([])
      const shot = path.join(artifacts, "report-analysis.png")
      await page.screenshot({ path: shot, fullPage: true })
      expect(fs.statSync(shot).size).toBeGreaterThan(10_000)
    } finally {
      await b.close()
    }
  }, 120_000)
})
