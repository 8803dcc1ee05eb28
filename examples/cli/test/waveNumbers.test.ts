import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { FAST, fixture, sluice, tmpStore } from "./helpers.js"

describe("waves are numbered from 0 everywhere", () => {
  it("the plan, the live lines, the failure reason, status and the spec's manualApproval agree", async () => {
    const store = tmpStore()
    const common = ["-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "20"]
    const plan = JSON.parse((await sluice(["plan", ...common, "--json"])).stdout) as {
      waves: Array<{ targets: string[] }>
    }
    const k = 2
    const victim = plan.waves[k]!.targets[0]!
    const r = await sluice([
      "apply",
      ...common,
      "--id",
      "num",
      "--plain",
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      `never-healthy=:2.0.0#${victim}`,
      ...FAST
    ])
    expect(r.code, r.stderr).toBe(3)
    const total = plan.waves.length
    expect(r.stdout).toContain(`wave 0 (1/${total}, batch) started`)
    expect(r.stdout).toContain(`wave ${k} (${k + 1}/${total}, batch) started`)
    // The core's reason names the same index as the plan and the live lines.
    expect(r.stdout).toMatch(new RegExp(`exceeded in wave ${k} \\(`))
    expect(r.stdout).not.toContain(`wave ${k + 1} (${k + 2}/${total}, batch) started`)
    const status = await sluice(["status", "num", "--json", "--store", store])
    expect(JSON.parse(status.stdout).wave).toMatchObject({ index: k, total })
    // The report page's columns and timeline count the same way.
    const html = path.join(store, "report.html")
    const report = await sluice(["report", "num", "--html", html, "--store", store])
    expect(report.code, report.stderr).toBe(0)
    const page = fs.readFileSync(html, "utf8")
    expect(page).toContain(">wave 0<br>")
    expect(page).toContain(`>wave ${total - 1}<br>`)
    expect(page).not.toContain(`>wave ${total}<br>`)
    expect(page).toContain(`wave ${k}: failed`)

    // manualApproval.before counts the same way: before [k] marks the plan's wave k.
    const gatedPlan = JSON.parse(
      (await sluice(["plan", ...common, "--json", "--set", `spec.gates.manualApproval.before=[${k}]`])).stdout
    ) as { waves: Array<{ index: number; approvalBefore: boolean }> }
    expect(gatedPlan.waves.filter((w) => w.approvalBefore).map((w) => w.index)).toEqual([k])
  })
})
