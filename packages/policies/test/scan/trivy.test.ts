import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ScanReportSource } from "@sluice/core"
import { Effect } from "effect"
import {
  findTrivyReport,
  INVALID_REPORT_ID,
  parseTrivyReport,
  TrivyReportDirectory,
  trivyReportFileName
} from "../../src/index.js"
import { fixture, getFailure, getOrThrow, loadFixture } from "../helpers.js"

const AGENT = "registry.sluice.dev/agents/fleet-agent:4.2.0"

describe("parseTrivyReport", () => {
  it("flattens vulnerabilities of every result and keeps the raw report", () => {
    const raw = loadFixture("trivy/registry.sluice.dev_agents_fleet-agent_4.2.0.json")
    const report = getOrThrow(parseTrivyReport(raw))
    expect(report.image).toBe(AGENT)
    expect(report.raw).toBe(raw)
    expect(report.findings).toEqual([
      {
        id: "CVE-2024-9143",
        pkg: "libcrypto3",
        installedVersion: "3.3.2-r0",
        fixedVersion: "3.3.2-r1",
        severity: "MEDIUM"
      },
      { id: "CVE-2025-0001", pkg: "busybox", installedVersion: "1.36.1-r29", severity: "HIGH" },
      {
        id: "GHSA-xxxx-yyyy-zzzz",
        pkg: "golang.org/x/net",
        installedVersion: "v0.26.0",
        fixedVersion: "v0.33.0",
        severity: "CRITICAL"
      }
    ])
  })

  it("accepts results without Vulnerabilities and reports without Results", () => {
    expect(getOrThrow(parseTrivyReport(loadFixture("trivy/clean-image.json"))).findings).toEqual([])
    expect(getOrThrow(parseTrivyReport(loadFixture("trivy/scratch-no-results.json"))).findings).toEqual([])
  })

  it("rejects other schema versions and unknown severities", () => {
    expect(getFailure(parseTrivyReport({ SchemaVersion: 1, ArtifactName: "x" })).message).toMatch(/SchemaVersion/)
    const bad = {
      SchemaVersion: 2,
      ArtifactName: "x",
      Results: [{ Target: "x", Vulnerabilities: [{ VulnerabilityID: "C", PkgName: "p", Severity: "SEVERE" }] }]
    }
    expect(getFailure(parseTrivyReport(bad)).message).toMatch(/Severity/)
  })
})

describe("TrivyReportDirectory", () => {
  const dir = fixture("trivy")
  const reportFor = (d: string, image: string) =>
    ScanReportSource.use((s) => s.reportFor(image)).pipe(Effect.provide(TrivyReportDirectory.layer(d)))

  it("maps image references to file names", () => {
    expect(trivyReportFileName(AGENT)).toBe("registry.sluice.dev_agents_fleet-agent_4.2.0.json")
    expect(trivyReportFileName("localhost:5000/a@sha256:ab")).toBe("localhost_5000_a_sha256_ab.json")
  })

  it.effect("finds a report by file name", () =>
    Effect.gen(function* () {
      const r = yield* reportFor(dir, AGENT)
      expect(r?.findings).toHaveLength(3)
    })
  )

  it.effect("finds a report by ArtifactName, RepoTags or RepoDigests when the file name differs", () =>
    Effect.gen(function* () {
      expect((yield* reportFor(dir, "registry.sluice.dev/tools/config-init:1.0.4"))?.image).toBe(
        "registry.sluice.dev/tools/config-init:1.0.4"
      )
      const byDigest = yield* reportFor(
        dir,
        "registry.sluice.dev/tools/config-init@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      )
      expect(byDigest?.image).toBe("registry.sluice.dev/tools/config-init:1.0.4")
    })
  )

  it.effect("returns undefined when no report exists for the image (foreign JSON files are skipped)", () =>
    Effect.gen(function* () {
      expect(yield* reportFor(dir, "registry.sluice.dev/unknown:1")).toBeUndefined()
    })
  )

  it.effect("fails the scan closed on an unreadable report: one CRITICAL finding naming the problem", () =>
    Effect.gen(function* () {
      const r = yield* reportFor(fixture("trivy-bad"), AGENT)
      expect(r?.findings).toEqual([
        { id: INVALID_REPORT_ID, pkg: "sluice", installedVersion: "", severity: "CRITICAL" }
      ])
      const raw = r?.raw as { Results: Array<{ Vulnerabilities: Array<{ Title: string }> }> }
      expect(raw.Results[0]?.Vulnerabilities[0]?.Title).toMatch(/unreadable scan report: .*SchemaVersion/)
      // The stand-in is itself a valid Trivy report.
      expect(getOrThrow(parseTrivyReport(r?.raw)).findings).toHaveLength(1)
    })
  )

  it.effect("fails the scan closed when the directory does not exist", () =>
    Effect.gen(function* () {
      const r = yield* reportFor(join(tmpdir(), "sluice-no-such-dir"), AGENT)
      expect(r?.findings[0]?.id).toBe(INVALID_REPORT_ID)
      expect(yield* findTrivyReport(join(tmpdir(), "sluice-no-such-dir"), AGENT).pipe(Effect.flip)).toMatchObject({
        _tag: "TrivyReportError"
      })
    })
  )

  it.effect("sees reports written after the source was created", () =>
    Effect.gen(function* () {
      const d = mkdtempSync(join(tmpdir(), "sluice-trivy-"))
      const source = TrivyReportDirectory.make(d)
      expect(yield* source.reportFor("a:1")).toBeUndefined()
      writeFileSync(join(d, "whatever.json"), JSON.stringify({ SchemaVersion: 2, ArtifactName: "a:1" }))
      expect((yield* source.reportFor("a:1"))?.image).toBe("a:1")
    })
  )
})

describe("the digests a report names (issue 12)", () => {
  const D1 = `sha256:${"1".repeat(64)}`
  const D2 = `sha256:${"2".repeat(64)}`
  const D3 = `sha256:${"3".repeat(64)}`
  const doc = (name: string, extra: Record<string, unknown>) => ({ SchemaVersion: 2, ArtifactName: name, ...extra })

  it("reads RepoDigests (after the @), ImageID and the report's own digest; nothing else", () => {
    const r = getOrThrow(
      parseTrivyReport(
        doc(AGENT, {
          digest: D3,
          Metadata: { RepoDigests: [`registry.sluice.dev/agents/fleet-agent@${D1}`, "junk"], ImageID: D2 }
        }),
        "scans/a.json"
      )
    )
    expect(r.digests).toEqual([D1, D2, D3])
    expect(r.source).toBe("scans/a.json")
    expect(getOrThrow(parseTrivyReport(doc(AGENT, {}))).digests).toEqual([])
  })

  it("refuses a report whose own digest is not a sha256 digest", () => {
    expect(getFailure(parseTrivyReport(doc(AGENT, { digest: "sha256:xyz" }))).message).toMatch(/digest/)
  })

  it.effect("given a digest, a report that names it wins over the one with the image's file name", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "sluice-trivy-digest-"))
      writeFileSync(join(dir, trivyReportFileName(AGENT)), JSON.stringify(doc(AGENT, { Metadata: { ImageID: D1 } })))
      writeFileSync(join(dir, "z-rescan.json"), JSON.stringify(doc("elsewhere", { Metadata: { ImageID: D2 } })))
      expect((yield* findTrivyReport(dir, AGENT, D2))?.source).toBe(join(dir, "z-rescan.json"))
      // Named by neither: the report found by name comes back (the scan gate then refuses it).
      expect((yield* findTrivyReport(dir, AGENT, D3))?.digests).toEqual([D1])
      expect((yield* findTrivyReport(dir, AGENT))?.digests).toEqual([D1])
    })
  )
})
