import { parseDuration, parseImageRef } from "@sluice/core"
import type { Faults, Latency, VersionBehaviour, VersionProfile } from "@sluice/core/testing"
import { Result } from "effect"
import { UsageError } from "../errors.js"

/** What `--faults` describes: per-version behaviour plus infrastructure faults. */
export interface FaultSpec {
  readonly versions: Readonly<Record<string, VersionProfile>>
  readonly faults: Faults
}

const TAG = /^:[\w][\w.-]{0,127}$/
const TARGET = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/

const bad = (item: string, index: number, why: string): never => {
  throw new UsageError({ message: `--faults item ${index + 1} "${item}": ${why}`, command: "apply" })
}

const probability = (item: string, index: number, text: string): number => {
  const p = Number(text)
  if (text.trim() === "" || !Number.isFinite(p) || p < 0 || p > 1)
    bad(item, index, `"${text}" is not a probability between 0 and 1`)
  return p
}

const version = (item: string, index: number, text: string): string => {
  if (text === "") bad(item, index, "missing the version (a tag like :2.1.0 or a full image)")
  if (text.startsWith(":")) {
    if (!TAG.test(text)) bad(item, index, `"${text}" is not a valid tag (like :2.1.0)`)
    return text
  }
  if (/^v?\d[\w.-]*$/.test(text)) bad(item, index, `"${text}" looks like a tag: write it :${text}`)
  const parsed = parseImageRef(text)
  if (Result.isFailure(parsed))
    bad(item, index, `"${text}" is neither a tag like :2.1.0 nor an image reference (${parsed.failure.reason})`)
  return text
}

const targets = (item: string, index: number, text: string): string[] => {
  const ids = text.split("+")
  for (const id of ids) if (!TARGET.test(id)) bad(item, index, `"${id}" is not a target id (like node-007)`)
  return ids
}

/** Splits `v[@x][#targets]`: the `@` part is the last `@` whose rest is not a digest. */
const splitVersion = (value: string) => {
  const hash = value.indexOf("#")
  const head = hash < 0 ? value : value.slice(0, hash)
  const only = hash < 0 ? undefined : value.slice(hash + 1)
  const at = head.lastIndexOf("@")
  if (at < 0 || head.slice(at + 1).startsWith("sha256:")) return { version: head, arg: undefined, only }
  return { version: head.slice(0, at), arg: head.slice(at + 1), only }
}

export const parseFaults = (text: string | undefined): FaultSpec => {
  const versions: Record<string, VersionProfile> = {}
  const faults: {
    transientErrorRate?: number
    healthErrorRate?: number
    permanentApplyFailures?: string[]
    permanentRollbackFailures?: string[]
  } = {}
  if (text === undefined || text.trim() === "") return { versions, faults }
  const behaviours = new Map<string, string>()
  const merge = (key: string, patch: VersionProfile) => {
    versions[key] = { ...versions[key], ...patch }
  }
  text.split(",").forEach((raw, index) => {
    const item = raw.trim()
    if (item === "") bad(raw, index, "empty item (two commas in a row?)")
    const eq = item.indexOf("=")
    if (eq < 0) bad(item, index, "expected KIND=VALUE")
    const kind = item.slice(0, eq)
    const value = item.slice(eq + 1)
    const withBehaviour = (behaviour: VersionBehaviour, parts: ReturnType<typeof splitVersion>) => {
      const v = version(item, index, parts.version)
      const previous = behaviours.get(v)
      if (previous !== undefined) bad(item, index, `version ${v} already has a behaviour ("${previous}")`)
      behaviours.set(v, item)
      merge(v, {
        behaviour,
        ...(parts.only === undefined ? {} : { onlyOn: targets(item, index, parts.only) })
      })
    }
    switch (kind) {
      case "transient":
        faults.transientErrorRate = probability(item, index, value)
        return
      case "probe-errors":
        faults.healthErrorRate = probability(item, index, value)
        return
      case "permanent":
        faults.permanentApplyFailures = [...(faults.permanentApplyFailures ?? []), ...targets(item, index, value)]
        return
      case "rollback-fails":
        faults.permanentRollbackFailures = [...(faults.permanentRollbackFailures ?? []), ...targets(item, index, value)]
        return
      case "never-healthy":
      case "flapping": {
        const parts = splitVersion(value)
        if (parts.arg !== undefined) bad(item, index, `${kind} takes no @ argument`)
        withBehaviour(kind === "flapping" ? { kind: "flapping" } : { kind: "neverHealthy" }, parts)
        return
      }
      case "fail-after": {
        const parts = splitVersion(value)
        if (parts.arg === undefined)
          bad(item, index, "expected fail-after=<version>@<duration>, e.g. fail-after=:2.2.0@3s")
        const ms = parseDuration(parts.arg!)
        if (ms === undefined) bad(item, index, `"${parts.arg}" is not a duration (like 500ms, 3s, 1m)`)
        withBehaviour({ kind: "failAfter", afterMs: ms! }, parts)
        return
      }
      case "root":
      case "no-limits": {
        const parts = splitVersion(value)
        if (parts.arg !== undefined || parts.only !== undefined) bad(item, index, `${kind} takes only a version`)
        merge(version(item, index, parts.version), kind === "root" ? { runsAsRoot: true } : { noLimits: true })
        return
      }
      case "error-rate": {
        const parts = splitVersion(value)
        if (parts.arg === undefined)
          bad(item, index, "expected error-rate=<version>@<rate>, e.g. error-rate=:2.1.0@0.2")
        merge(version(item, index, parts.version), { errorRate: probability(item, index, parts.arg!) })
        return
      }
      default: {
        const kinds = [
          "transient",
          "probe-errors",
          "permanent",
          "rollback-fails",
          "never-healthy",
          "fail-after",
          "flapping",
          "root",
          "no-limits",
          "error-rate"
        ]
        bad(item, index, `unknown fault kind "${kind}" (one of ${kinds.join(", ")})`)
      }
    }
  })
  return { versions, faults }
}

/**
 * The target ids `--faults` names (`permanent=a+b`, `…#a+b`), each with its item; `text` has been
 * through {@link parseFaults}.
 */
export const faultTargets = (text: string | undefined): Array<{ readonly item: string; readonly id: string }> =>
  (text ?? "")
    .split(",")
    .map((raw) => raw.trim())
    .flatMap((item) => {
      const value = item.slice(item.indexOf("=") + 1)
      const named =
        item.startsWith("permanent=") || item.startsWith("rollback-fails=")
          ? value
          : value.includes("#")
            ? value.slice(value.indexOf("#") + 1)
            : ""
      return named === "" ? [] : named.split("+").map((id) => ({ item, id }))
    })

/** `100ms..400ms` or a single duration. */
export const parseLatency = (option: string, text: string): Latency => {
  const [lo, hi, ...rest] = text.split("..")
  const fail = (why: string): never => {
    throw new UsageError({ message: `--${option} "${text}": ${why}`, command: "apply" })
  }
  if (rest.length > 0 || lo === undefined) fail("expected <min>..<max> or one duration, e.g. 50ms..200ms")
  const min = parseDuration(lo!)
  if (min === undefined) fail(`"${lo}" is not a duration (like 50ms, 1s)`)
  const max = hi === undefined ? min : parseDuration(hi)
  if (max === undefined) fail(`"${hi}" is not a duration (like 50ms, 1s)`)
  if (max! < min!) fail("the maximum is below the minimum")
  return { minMs: min!, maxMs: max! }
}
