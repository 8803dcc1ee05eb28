/**
 * Parity of Sluice's built-in `pod-security/baseline` and `pod-security/restricted` profiles with the
 * real apiserver's Pod Security admission (Kubernetes v1.36 of the test control plane): seeded
 * fast-check pods (packages/policies/test/pod-security/podArbitrary.ts) are created with `dryRun=All` in namespaces labelled
 * `pod-security.kubernetes.io/enforce=baseline` and `=restricted`; pods with ephemeral containers
 * are created for real in a namespace labelled afterwards, and their ephemeral containers added
 * with a dry-run update of the `ephemeralcontainers` subresource. For every case and level the
 * profile must agree with the apiserver on the verdict, on the violated checks, and on the text:
 * the apiserver's `violates PodSecurity "<level>:latest": <reason> (<detail>), …` must equal the
 * profile's deny messages joined in the apiserver's check order. Each pod is evaluated twice: with
 * the profile selected (spec), and with no profile but its namespace's enforce label in the input
 * (the namespace-aware pre-flight's path); both must agree.
 *
 * SLUICE_PSA_CASES (default 500) sets the number of pods, SLUICE_PSA_SEED (default 13) the seed,
 * SLUICE_PSA_BUNDLE another bundle directory to hold to the apiserver (default: the built-in one).
 */
import { ApiException, type V1Pod } from "@kubernetes/client-node"
import { builtinBundleDir } from "@sluice/policies"
import { loadPolicy, type PolicyUnderTest } from "@sluice/policies/testing"
import fc from "fast-check"
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithCluster, kube, mergePatch, uniqueSuffix } from "../support/cluster.js"
import { notYet, waitFor } from "../support/wait.js"
import { type GeneratedPod, podArbitrary } from "../../../policies/test/pod-security/podArbitrary.js"

const CASES = Number(process.env.SLUICE_PSA_CASES ?? 500)
const SEED = Number(process.env.SLUICE_PSA_SEED ?? 13)
const BUNDLE = process.env.SLUICE_PSA_BUNDLE ?? builtinBundleDir
const IN_FLIGHT = 8
const LEVELS = ["baseline", "restricted"] as const
type Level = (typeof LEVELS)[number]

const BASELINE_CHECKS = [
  "appArmorProfile",
  "capabilities_baseline",
  "hostNamespaces",
  "hostPathVolumes",
  "hostPorts",
  "hostProbesAndHostLifecycle",
  "privileged",
  "procMount",
  "seLinuxOptions",
  "seccompProfile_baseline",
  "sysctls",
  "windowsHostProcess"
]
const RESTRICTED_CHECKS = [
  "allowPrivilegeEscalation",
  "capabilities_restricted",
  "procMount_restricted",
  "restrictedVolumes",
  "runAsNonRoot",
  "runAsUser",
  "seccompProfile_restricted"
]
const OVERRIDDEN = new Set(["capabilities_baseline", "seccompProfile_baseline", "hostPathVolumes", "procMount"])
/** The checks each level runs, in the order the apiserver reports them (baseline ids sorted, then restricted). */
const CHECKS: Record<Level, ReadonlyArray<string>> = {
  baseline: [...BASELINE_CHECKS].sort(),
  restricted: [...[...BASELINE_CHECKS].sort().filter((c) => !OVERRIDDEN.has(c)), ...[...RESTRICTED_CHECKS].sort()]
}

interface Verdict {
  readonly allowed: boolean
  /** The text after `violates PodSecurity "<level>:latest": ` ("" when allowed). */
  readonly detail: string
  readonly checks: ReadonlyArray<string>
}

/**
 * The profile's verdict. `prefix`: the text a deny starts with when the level comes from the
 * namespace's label instead of the spec (`namespace "…" (pod-security.kubernetes.io/enforce=…): `).
 */
const sluiceVerdict = (policy: PolicyUnderTest, level: Level, subject: unknown, prefix = ""): Verdict => {
  const decision = policy.evaluate(subject)
  const order = CHECKS[level]
  const hits = decision.deny
    .filter((v) => v.rule.startsWith("pod-security/"))
    .map((v) => ({
      check: v.rule.slice("pod-security/".length),
      message: v.message.startsWith(prefix) ? v.message.slice(prefix.length) : `(no ${prefix}) ${v.message}`
    }))
    .sort((a, b) => order.indexOf(a.check) - order.indexOf(b.check))
  return {
    allowed: hits.length === 0,
    detail: hits.map((h) => h.message).join(", "),
    checks: hits.map((h) => h.check)
  }
}

/** The checks named in the apiserver's detail, found by their reasons in the order they come. */
const REASONS: ReadonlyArray<[string, RegExp]> = [
  ["appArmorProfile", /^forbidden AppArmor profiles? \(/],
  ["capabilities_baseline", /^non-default capabilities \(/],
  ["hostNamespaces", /^host namespaces \(/],
  ["hostPathVolumes", /^hostPath volumes \(/],
  ["hostPorts", /^hostPort \(/],
  ["hostProbesAndHostLifecycle", /^probe or lifecycle host \(/],
  ["privileged", /^privileged \(/],
  ["procMount", /^procMount \(/],
  ["seLinuxOptions", /^seLinuxOptions \(/],
  ["seccompProfile", /^seccompProfile \(/],
  ["sysctls", /^forbidden sysctls \(/],
  ["windowsHostProcess", /^hostProcess \(/],
  ["allowPrivilegeEscalation", /^allowPrivilegeEscalation != false \(/],
  ["capabilities_restricted", /^unrestricted capabilities \(/],
  ["restrictedVolumes", /^restricted volume types \(/],
  ["runAsNonRoot", /^runAsNonRoot != true \(/],
  ["runAsUser", /^runAsUser=0 \(/]
]

const apiserverChecks = (level: Level, detail: string): ReadonlyArray<string> => {
  // Split at ", " followed by a known reason (details contain ", " too).
  const starts: number[] = []
  for (let i = 0; i < detail.length; i++) {
    if (i !== 0 && !(detail[i - 2] === "," && detail[i - 1] === " ")) continue
    if (REASONS.some(([, re]) => re.test(detail.slice(i)))) starts.push(i)
  }
  return starts.map((s) => {
    const found = REASONS.find(([, re]) => re.test(detail.slice(s)))?.[0] ?? "unknown"
    // Same reason text, level-specific check ids.
    if (found === "seccompProfile")
      return level === "restricted" ? "seccompProfile_restricted" : "seccompProfile_baseline"
    if (found === "procMount") return level === "restricted" ? "procMount_restricted" : "procMount"
    return found
  })
}

type Outcome = { readonly verdict: Verdict } | { readonly invalid: string }

const fromError = (level: Level, error: unknown): Outcome => {
  if (!(error instanceof ApiException)) return { invalid: String(error) }
  const body = typeof error.body === "string" ? error.body : JSON.stringify(error.body)
  let message = body
  try {
    message = String((JSON.parse(body) as { message?: unknown }).message ?? body)
  } catch {
    // not JSON: keep the body
  }
  const marker = `violates PodSecurity "${level}:latest": `
  const at = message.indexOf(marker)
  if (error.code !== 403 || at < 0) return { invalid: `HTTP ${error.code}: ${message}` }
  const detail = message.slice(at + marker.length)
  return { verdict: { allowed: false, detail, checks: apiserverChecks(level, detail) } }
}

const allowed: Outcome = { verdict: { allowed: true, detail: "", checks: [] } }

const pool = async <T, R>(items: ReadonlyArray<T>, n: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> => {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await f(items[i] as T, i)
      }
    })
  )
  return out
}

describeWithCluster("pod-security profiles: parity with the apiserver's Pod Security admission", () => {
  const suffix = uniqueSuffix()
  const ns = (kind: "dry" | "eph", level: Level) => `psa-${kind}-${level}-${suffix}`
  const namespaces = LEVELS.flatMap((level) => [ns("dry", level), ns("eph", level)])
  const policies = {} as Record<Level, PolicyUnderTest>
  /** No profile selected: the level comes from the namespace the workload source names. */
  let byNamespace: PolicyUnderTest
  const cases: ReadonlyArray<GeneratedPod> = fc.sample(podArbitrary, { seed: SEED, numRuns: CASES })

  beforeAll(async () => {
    const { core } = kube()
    byNamespace = await loadPolicy({ path: BUNDLE, name: "sluice" })
    for (const level of LEVELS) {
      policies[level] = await loadPolicy({
        path: BUNDLE,
        name: "sluice",
        data: { sluice: { params: { podSecurity: { profiles: [`pod-security/${level}`] } } } }
      })
      await core.createNamespace({
        body: { metadata: { name: ns("dry", level), labels: { "pod-security.kubernetes.io/enforce": level } } }
      })
      // Labelled once its pods exist: the pods with ephemeral containers are created without them.
      await core.createNamespace({ body: { metadata: { name: ns("eph", level) } } })
    }
    for (const name of namespaces) {
      await waitFor(`the default ServiceAccount of ${name}`, async () =>
        core
          .readNamespacedServiceAccount({ name: "default", namespace: name })
          .then(() => true)
          .catch(() => notYet("not yet"))
      )
    }
    await pool(
      cases.flatMap((c, i) => (c.ephemeralContainers.length > 0 ? LEVELS.map((level) => ({ c, i, level })) : [])),
      IN_FLIGHT,
      async ({ c, i, level }) => {
        const body = { ...c.pod, metadata: { ...(c.pod.metadata as object), name: `case-${i}` } } as V1Pod
        await core.createNamespacedPod({ namespace: ns("eph", level), body })
      }
    )
    for (const level of LEVELS) {
      await core.patchNamespace(
        { name: ns("eph", level), body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": level } } } },
        mergePatch
      )
    }
  }, 300_000)

  afterAll(async () => {
    const { core } = kube()
    await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)))
  })

  it(`agrees with the apiserver on ${CASES} generated pods (seed ${SEED}) at baseline and restricted`, async () => {
    const { core } = kube()
    const work = cases.flatMap((c, i) => LEVELS.map((level) => ({ c, i, level })))
    const results = await pool(work, IN_FLIGHT, async ({ c, i, level }) => {
      const subject = { ...c.pod, spec: { ...(c.pod.spec as object), ephemeralContainers: c.ephemeralContainers } }
      const object = c.ephemeralContainers.length > 0 ? subject : c.pod
      const sluice = sluiceVerdict(policies[level], level, object)
      // The same pod held to the level its namespace's label names (the pre-flight's input).
      const namespace = { name: ns("dry", level), labels: { "pod-security.kubernetes.io/enforce": level } }
      const fromLabel = sluiceVerdict(
        byNamespace,
        level,
        { source: "kubernetes", object, namespace },
        `namespace "${namespace.name}" (pod-security.kubernetes.io/enforce=${level}): `
      )
      let apiserver: Outcome
      try {
        if (c.ephemeralContainers.length === 0) {
          await core.createNamespacedPod({ namespace: ns("dry", level), body: c.pod as V1Pod, dryRun: "All" })
        } else {
          // The latest version: the scheduler and kwok write to the pod after it is created.
          const pod = await core.readNamespacedPod({ name: `case-${i}`, namespace: ns("eph", level) })
          const body = { ...pod, spec: { ...pod.spec, ephemeralContainers: c.ephemeralContainers } } as unknown as V1Pod
          await core.replaceNamespacedPodEphemeralcontainers({
            name: `case-${i}`,
            namespace: ns("eph", level),
            body,
            dryRun: "All"
          })
        }
        apiserver = allowed
      } catch (error) {
        apiserver = fromError(level, error)
      }
      return { i, level, pod: subject, sluice, fromLabel, apiserver }
    })

    const invalid = results.flatMap((r) =>
      "invalid" in r.apiserver ? [{ case: r.i, level: r.level, error: r.apiserver.invalid, pod: r.pod }] : []
    )
    const compared = results.flatMap((r) =>
      "verdict" in r.apiserver ? [{ ...r, apiserver: r.apiserver.verdict }] : []
    )
    const same = (a: Verdict, b: Verdict) =>
      a.allowed === b.allowed && a.detail === b.detail && a.checks.join() === b.checks.join()
    const disagreements = compared.filter((r) => !same(r.sluice, r.apiserver) || !same(r.fromLabel, r.apiserver))
    const hit = (level: Level) => new Set(compared.filter((r) => r.level === level).flatMap((r) => r.apiserver.checks))
    const summary = LEVELS.map((level) => {
      const mine = compared.filter((r) => r.level === level)
      const denied = mine.filter((r) => !r.apiserver.allowed).length
      return `${level}: ${mine.length} compared, ${denied} denied, ${mine.length - denied} allowed, checks hit: ${[...hit(level)].sort().join(" ")}`
    })
    console.log(
      `pod-security parity (seed ${SEED}, ${CASES} pods, ${cases.filter((c) => c.ephemeralContainers.length > 0).length} with ephemeral containers): ${compared.length - disagreements.length}/${results.length} agree\n  ${summary.join("\n  ")}`
    )

    for (const r of invalid.slice(0, 10)) console.log(`invalid case ${r.case} (${r.level}): ${r.error}`)
    for (const r of disagreements.slice(0, 10)) {
      console.log(
        `case ${r.i} (${r.level}):\n  sluice:    ${r.sluice.detail}\n  by label:  ${r.fromLabel.detail}\n  apiserver: ${r.apiserver.detail}`
      )
    }
    // Every generated pod is valid, so each one reaches Pod Security admission.
    expect(invalid.slice(0, 3), `${invalid.length} pods the apiserver refused before Pod Security`).toEqual([])
    expect(disagreements.slice(0, 3), `${disagreements.length} disagreements`).toEqual([])
    // The corpus reaches every check of each level, and both verdicts. Except baseline's procMount:
    // the apiserver refuses procMount: Unmasked unless hostUsers is false, which exempts the pod from
    // that check, so no valid pod violates it (the Rego tests cover it).
    for (const level of LEVELS) {
      const reachable = CHECKS[level].filter((c) => !(level === "baseline" && c === "procMount"))
      expect(
        reachable.filter((c) => !hit(level).has(c)),
        `${level} checks never violated`
      ).toEqual([])
      expect(
        compared.some((r) => r.level === level && r.apiserver.allowed),
        `${level}: no allowed pod`
      ).toBe(true)
    }
  }, 600_000)
})
