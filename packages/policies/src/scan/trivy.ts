import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { type ScanFinding, type ScanReport, ScanReportSource } from "@sluice/core"
import { Effect, Layer, Result, Schema } from "effect"

// Trivy JSON report, SchemaVersion 2 (`trivy image --format json`). Only the fields Sluice reads
// are declared; the report is kept as is in `ScanReport.raw` for the policies.

export const TrivySeverity = Schema.Literals(["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"])

const opt = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))

export const TrivyVulnerability = Schema.Struct({
  VulnerabilityID: Schema.String,
  PkgName: Schema.String,
  InstalledVersion: opt(Schema.String),
  FixedVersion: opt(Schema.String),
  Severity: TrivySeverity
})

export const TrivyResult = Schema.Struct({
  Target: Schema.String,
  Class: opt(Schema.String),
  Type: opt(Schema.String),
  /** Absent when the target has no known vulnerability. */
  Vulnerabilities: opt(Schema.Array(TrivyVulnerability))
})

const Sha256 = Schema.String.check(Schema.isPattern(/^sha256:[a-f0-9]{64}$/))

export const TrivyReport = Schema.Struct({
  SchemaVersion: Schema.Literal(2),
  ArtifactName: Schema.String,
  /** The report's own record of the image digest it was made for (optional; Sluice's, not Trivy's). */
  digest: Schema.optional(Sha256),
  ArtifactType: opt(Schema.String),
  Metadata: opt(
    Schema.Struct({
      ImageID: opt(Schema.String),
      RepoTags: opt(Schema.Array(Schema.String)),
      RepoDigests: opt(Schema.Array(Schema.String))
    })
  ),
  Results: opt(Schema.Array(TrivyResult))
})
export type TrivyReport = typeof TrivyReport.Type

/** A Trivy report could not be read or decoded. */
export class TrivyReportError extends Schema.TaggedError<TrivyReportError>()("TrivyReportError", {
  file: Schema.optional(Schema.String),
  message: Schema.String
}) {}

const decodeReport = Schema.decodeUnknownResult(TrivyReport, { errors: "all" })

/** Decodes a parsed Trivy JSON document into a {@link ScanReport} (`raw` = the document as is). */
export const parseTrivyReport = (json: unknown, file?: string): Result.Result<ScanReport, TrivyReportError> => {
  const decoded = decodeReport(json)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new TrivyReportError({
        ...(file !== undefined ? { file } : {}),
        message: `not a Trivy SchemaVersion 2 report: ${decoded.failure.message}`
      })
    )
  }
  const report = decoded.success
  const findings: Array<ScanFinding> = []
  for (const result of report.Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) {
      findings.push({
        id: v.VulnerabilityID,
        pkg: v.PkgName,
        installedVersion: v.InstalledVersion ?? "",
        ...(v.FixedVersion != null && v.FixedVersion !== "" ? { fixedVersion: v.FixedVersion } : {}),
        severity: v.Severity
      })
    }
  }
  return Result.succeed({
    image: report.ArtifactName,
    digests: reportDigests(report),
    ...(file !== undefined ? { source: file } : {}),
    findings,
    raw: json
  })
}

/**
 * The image digests a report names: each `Metadata.RepoDigests` entry's digest (`repo@sha256:…`),
 * `Metadata.ImageID` (the image configuration's digest) and the report's own `digest`; anything
 * that is not a sha256 digest is left out.
 */
export const reportDigests = (report: TrivyReport): ReadonlyArray<string> => {
  const out = new Set<string>()
  const add = (d: string | null | undefined) => {
    if (d != null && /^sha256:[a-f0-9]{64}$/.test(d)) out.add(d)
  }
  for (const rd of report.Metadata?.RepoDigests ?? []) add(rd.slice(rd.lastIndexOf("@") + 1))
  add(report.Metadata?.ImageID)
  add(report.digest)
  return [...out]
}

/** Parses Trivy JSON text. */
export const parseTrivyReportText = (text: string, file?: string): Result.Result<ScanReport, TrivyReportError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Result.fail(
      new TrivyReportError({ ...(file !== undefined ? { file } : {}), message: `invalid JSON: ${String(e)}` })
    )
  }
  return parseTrivyReport(json, file)
}

/** File name under which a report for `image` is looked up first: every `/`, `:`, `@` becomes `_`. */
export const trivyReportFileName = (image: string): string => `${image.replace(/[/:@]/g, "_")}.json`

/** Vulnerability id of the finding that stands for an unreadable report (fails the scan gate closed). */
export const INVALID_REPORT_ID = "SLUICE-INVALID-SCAN-REPORT"

/**
 * An unreadable report must not look like "no report" nor like a clean one: it becomes a report
 * with one CRITICAL finding that names the problem, so severity-threshold policies deny.
 */
export const invalidReport = (image: string, error: TrivyReportError): ScanReport => {
  const reason = `${error.file !== undefined ? `${error.file}: ` : ""}${error.message}`
  return {
    image,
    // It names no digest: the scan gate denies it for that too.
    digests: [],
    ...(error.file !== undefined ? { source: error.file } : {}),
    findings: [{ id: INVALID_REPORT_ID, pkg: "sluice", installedVersion: "", severity: "CRITICAL" }],
    raw: {
      SchemaVersion: 2,
      ArtifactName: image,
      ArtifactType: "container_image",
      Results: [
        {
          Target: image,
          Class: "sluice",
          Vulnerabilities: [
            {
              VulnerabilityID: INVALID_REPORT_ID,
              PkgName: "sluice",
              InstalledVersion: "",
              Severity: "CRITICAL",
              Title: `unreadable scan report: ${reason}`
            }
          ]
        }
      ]
    }
  }
}

const matches = (report: ScanReport, image: string): boolean => {
  if (report.image === image) return true
  const md = (report.raw as { Metadata?: { RepoTags?: unknown; RepoDigests?: unknown } } | undefined)?.Metadata
  const inList = (xs: unknown) => Array.isArray(xs) && xs.includes(image)
  return inList(md?.RepoTags) || inList(md?.RepoDigests)
}

const namesDigest = (report: ScanReport, digest: string | undefined) =>
  digest !== undefined && report.digests.includes(digest)

const readText = (file: string) =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (e) => new TrivyReportError({ file, message: String(e) })
  })

const isMissing = (e: TrivyReportError) => /ENOENT/.test(e.message)

/**
 * Looks up the Trivy report for `image` in `dir`: `<image with / : @ replaced by _>.json`, or any
 * `*.json` whose `ArtifactName` (or `Metadata.RepoTags` / `RepoDigests`) is the image. With a
 * `digest`, a report that names it (see {@link reportDigests}) wins over one that only has the
 * image's name, wherever it is in the directory; a report found by name alone is returned as is
 * (the scan gate then refuses it, naming both digests). Files are read on every call, so reports
 * written during a rollout are seen.
 */
export const findTrivyReport = Effect.fnUntraced(function* (
  dir: string,
  image: string,
  digest?: string
): Effect.fn.Return<ScanReport | undefined, TrivyReportError> {
  const direct = join(dir, trivyReportFileName(image))
  const directText = yield* readText(direct).pipe(
    Effect.map((t): string | undefined => t),
    Effect.catchIf(isMissing, () => Effect.succeed(undefined))
  )
  let byName: ScanReport | undefined
  if (directText !== undefined) {
    const parsed = parseTrivyReportText(directText, direct)
    if (Result.isFailure(parsed)) return yield* parsed.failure
    if (digest === undefined || namesDigest(parsed.success, digest)) return parsed.success
    byName = parsed.success
  }
  const entries = yield* Effect.tryPromise({
    try: () => readdir(dir),
    catch: (e) => new TrivyReportError({ file: dir, message: String(e) })
  })
  for (const entry of entries.filter((e) => e.endsWith(".json")).sort()) {
    const file = join(dir, entry)
    if (file === direct) continue
    const text = yield* readText(file)
    const parsed = parseTrivyReportText(text, file)
    // Unrelated or foreign JSON files in the directory are skipped.
    if (Result.isFailure(parsed)) continue
    if (namesDigest(parsed.success, digest)) return parsed.success
    if (matches(parsed.success, image)) {
      if (digest === undefined) return parsed.success
      byName ??= parsed.success
    }
  }
  return byName
})

/** `ScanReportSource` over a directory of Trivy JSON reports (see {@link findTrivyReport}). */
export const TrivyReportDirectory = {
  make: (dir: string): ScanReportSource["Service"] =>
    ScanReportSource.of({
      reportFor: (image, digest) =>
        findTrivyReport(dir, image, digest).pipe(
          Effect.catch((error) =>
            Effect.logWarning(
              `scan report for ${image} is unreadable; failing the scan gate closed`,
              error.message
            ).pipe(Effect.as(invalidReport(image, error)))
          )
        )
    }),
  layer: (dir: string): Layer.Layer<ScanReportSource> => Layer.succeed(ScanReportSource, TrivyReportDirectory.make(dir))
}
