import { fc, test } from "@fast-check/vitest"
import { issueToProblems } from "@sluice/core"
import { Result, Schema } from "effect"
import { afterAll, describe, expect } from "vitest"
import {
  arbPlacedMutations,
  assertNoPrototypePollution,
  checkRejectionPaths,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  mutate
} from "../../../core/test/fuzz/mutate.js"
import { KubernetesAdapterConfig, KubernetesSelector } from "../../src/index.js"

// Fuzzing the Kubernetes adapter's two decoders, read with the options the adapter uses (every
// error, unknown keys refused): its configuration and the selector of a rollout spec. Valid
// documents, mutated (core/test/fuzz/mutate.ts). Decoding never throws, every rejection names
// places in the document (and the place a wrong type was put), accepted values encode back, and
// Object.prototype stays as it was. Pure decoding: no control plane is needed (the project's
// global setup still starts one for the other files of a full run).

const counter = new FuzzCounter("kubernetes adapter config")
afterAll(() => console.log(counter.summary()))

const word = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"), minLength: 1, maxLength: 8 })
/** A DNS-1123 name, as the selector's pattern wants it. */
const objectName = fc
  .tuple(word, fc.option(word, { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a}-${b}`))
const labels = fc.dictionary(word, word, { maxKeys: 3 })

const arbConfig = fc.record(
  {
    kubeconfig: fc.constantFrom("/root/.kube/config", "./kubeconfig.yaml"),
    context: word,
    inCluster: fc.boolean(),
    fieldManager: fc.constantFrom("sluice", "sluice-ci"),
    observeTimeoutSeconds: fc.integer({ min: 1, max: 600 })
  },
  { requiredKeys: [] }
)

/** A valid selector: one workload by namespace/name, or a label selector; nodeSelector only for DaemonSets. */
const arbSelector = fc
  .record({
    kind: fc.constantFrom("DaemonSet", "StatefulSet", "Deployment"),
    target: fc.oneof(
      fc.record({ namespace: objectName, name: objectName }),
      fc.record(
        { namespace: objectName, labelSelector: fc.oneof(fc.constant("app=agent,tier in (edge)"), labels) },
        { requiredKeys: ["labelSelector"] }
      )
    ),
    nodeSelector: fc.option(labels, { nil: undefined }),
    extra: fc.record({ container: word, configVolume: word }, { requiredKeys: [] })
  })
  .map(({ kind, target, nodeSelector, extra }) => ({
    kind,
    ...target,
    ...(kind === "DaemonSet" && nodeSelector !== undefined ? { nodeSelector } : {}),
    ...extra
  }))

const strict = { errors: "all", onExcessProperty: "error" } as const
const decodeConfig = Schema.decodeUnknownResult(KubernetesAdapterConfig, strict)
const decodeSelector = Schema.decodeUnknownResult(KubernetesSelector, strict)
const encodeConfig = Schema.encodeUnknownResult(KubernetesAdapterConfig)
const encodeSelector = Schema.encodeUnknownResult(KubernetesSelector)

const extraKeys = ["kind", "name", "namespace", "labelSelector", "nodeSelector", "container", "kubeconfig", "inCluster"]

describe("fuzz: Kubernetes adapter configuration and selectors", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbConfig, arbSelector], { numRuns: fuzzRuns(0.5) })(
    "valid configurations and selectors decode (the generators are right)",
    (config, selector) => {
      counter.hit("valid")
      expect(Result.isSuccess(decodeConfig(config))).toBe(true)
      expect(Result.isSuccess(decodeSelector(selector))).toBe(true)
    }
  )

  /** One decoder: mutated documents are decoded and encodable, or rejected at the places that are wrong. */
  const fuzzDecoder = <A>(
    kind: string,
    arb: fc.Arbitrary<unknown>,
    decode: (u: unknown) => Result.Result<A, Schema.SchemaError>,
    encode: (a: A) => Result.Result<unknown, Schema.SchemaError>,
    factor: number
  ) =>
    test.prop([arb, arbPlacedMutations(3, extraKeys)], { numRuns: fuzzRuns(factor) })(
      `${kind}: decoded and encodable, or rejected at the places that are wrong`,
      (doc, mutations) => {
        counter.hit(kind)
        const { value, touched } = mutate(doc, mutations)
        const decoded = decode(value)
        assertNoPrototypePollution()
        counter.outcome(`${kind} ${Result.isSuccess(decoded) ? "accepted" : "rejected"}`)
        if (Result.isSuccess(decoded)) {
          expect(Result.isSuccess(encode(decoded.success))).toBe(true)
          return
        }
        checkRejectionPaths(decoded.failure.issue, doc, value, mutations, touched)
        // The adapter's KubernetesConfigError / discover error messages are built from these.
        expect(decoded.failure.message.length).toBeGreaterThan(0)
        expect(issueToProblems(decoded.failure.issue, value).length).toBeGreaterThan(0)
      }
    )

  fuzzDecoder("config", arbConfig, decodeConfig, encodeConfig, 5)
  fuzzDecoder("selector", arbSelector, decodeSelector, encodeSelector, 7)
})
