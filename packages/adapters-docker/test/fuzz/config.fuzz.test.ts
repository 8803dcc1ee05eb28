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
import { decodeDockerAdapterConfig } from "../../src/config.js"
import { DockerAdapterConfig, DockerSelector } from "../../src/index.js"

// Fuzzing the Docker adapter's two decoders: its configuration (written by whoever embeds Sluice
// or runs the CLI) and the selector of a rollout spec (`spec.target.selector`, written by whoever
// writes specs). Valid documents, mutated (core/test/fuzz/mutate.ts). Decoding never throws, every
// rejection is a Schema issue whose problems name places in the document (and the place a wrong
// type was put), accepted values encode back, and Object.prototype stays as it was.

const counter = new FuzzCounter("docker adapter config")
afterAll(() => console.log(counter.summary()))

const word = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"), minLength: 1, maxLength: 8 })
const hostName = fc
  .tuple(fc.constantFrom(..."abcxyz"), fc.string({ unit: fc.constantFrom(..."abc019_.-"), maxLength: 8 }))
  .map(([a, b]) => a + b)
const labels = fc.dictionary(word, word, { maxKeys: 3 })
const seconds = fc.integer({ min: 1, max: 600 })

const probe = fc.record(
  {
    action: fc.oneof(
      fc.record(
        {
          type: fc.constant("http"),
          port: fc.integer({ min: 1, max: 65535 }),
          path: fc.constant("/healthz"),
          scheme: fc.constantFrom("http", "https"),
          via: fc.constantFrom("auto", "published", "container-ip", "exec")
        },
        { requiredKeys: ["type", "port"] }
      ),
      fc.record(
        {
          type: fc.constant("tcp"),
          port: fc.integer({ min: 1, max: 65535 }),
          via: fc.constantFrom("auto", "published")
        },
        { requiredKeys: ["type", "port"] }
      ),
      fc.record({ type: fc.constant("exec"), command: fc.array(word, { minLength: 1, maxLength: 3 }) })
    ),
    initialDelaySeconds: fc.nat(60),
    periodSeconds: seconds,
    timeoutSeconds: seconds,
    successThreshold: fc.integer({ min: 1, max: 5 }),
    failureThreshold: fc.integer({ min: 1, max: 5 })
  },
  { requiredKeys: ["action"] }
)
const health = fc.record({ probe, preferProbe: fc.boolean(), minReadySeconds: fc.nat(600) }, { requiredKeys: [] })

/** A valid adapter configuration, every field used somewhere. */
const arbConfig = fc.record(
  {
    hosts: fc.array(
      fc.record(
        {
          name: hostName,
          endpoint: fc.constantFrom(
            "unix:///var/run/docker.sock",
            "tcp://10.0.0.1:2376",
            "tcp://docker.internal:2375/"
          ),
          tls: fc.record(
            {
              ca: fc.constantFrom("/etc/docker/ca.pem", "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----"),
              cert: fc.constant("/etc/docker/cert.pem"),
              key: fc.constant("/etc/docker/key.pem"),
              verifyServerName: fc.boolean()
            },
            { requiredKeys: ["cert", "key"] }
          ),
          labels,
          containerLabels: labels
        },
        { requiredKeys: ["name"] }
      ),
      { minLength: 1, maxLength: 3 }
    ),
    pullPolicy: fc.constantFrom("Always", "IfNotPresent", "Never"),
    registries: fc.dictionary(
      fc.constantFrom("docker.io", "localhost:5000", "registry.sluice.dev"),
      fc.oneof(fc.record({ username: word, password: word }), fc.record({ identityToken: word })),
      { maxKeys: 2 }
    ),
    dockerConfig: fc.constantFrom(false, "/root/.docker/config.json"),
    keepOld: fc.nat(5),
    stopTimeoutSeconds: fc.nat(60),
    apiTimeoutSeconds: seconds,
    pullTimeoutSeconds: seconds,
    rollbackHealthTimeoutSeconds: fc.nat(600),
    health
  },
  { requiredKeys: [] }
)

/** A valid selector (it needs `names` or `labels`). */
const arbSelector = fc
  .record(
    {
      hosts: fc.array(hostName, { maxLength: 3 }),
      hostLabels: labels,
      names: fc.array(fc.constantFrom("agent", "agent-*", "*-exporter"), { minLength: 1, maxLength: 3 }),
      labels,
      includeStopped: fc.boolean(),
      health
    },
    { requiredKeys: [] }
  )
  .map((s) => (s.names === undefined && s.labels === undefined ? { ...s, names: ["agent"] } : s))

const strict = { errors: "all", onExcessProperty: "error" } as const
const decodeSelectorStrict = Schema.decodeUnknownResult(DockerSelector, strict)
// How the adapter's discover reads a selector (unknown keys ignored; the CLI checks them first).
const decodeSelectorLenient = Schema.decodeUnknownResult(DockerSelector, { errors: "all" })
const encodeConfig = Schema.encodeUnknownResult(DockerAdapterConfig)
const encodeSelector = Schema.encodeUnknownResult(DockerSelector)

const extraKeys = ["hosts", "name", "endpoint", "tls", "health", "probe", "action", "names", "labels", "port"]

describe("fuzz: Docker adapter configuration and selectors", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbConfig], { numRuns: fuzzRuns(0.5) })(
    "valid configurations decode (the generator is right)",
    (config) => {
      counter.hit("valid")
      expect(Result.isSuccess(decodeDockerAdapterConfig(config))).toBe(true)
    }
  )

  test.prop([arbConfig, arbPlacedMutations(3, extraKeys)], { numRuns: fuzzRuns(6) })(
    "adapter configuration: decoded and encodable, or rejected at the places that are wrong",
    (config, mutations) => {
      counter.hit("config")
      const { value, touched } = mutate(config, mutations)
      const decoded = decodeDockerAdapterConfig(value)
      assertNoPrototypePollution()
      counter.outcome(`config ${Result.isSuccess(decoded) ? "accepted" : "rejected"}`)
      if (Result.isSuccess(decoded)) {
        expect(Result.isSuccess(encodeConfig(decoded.success))).toBe(true)
        return
      }
      checkRejectionPaths(decoded.failure.issue, config, value, mutations, touched)
      // The message the adapter's DockerConfigError carries, and the CLI's rendering, do not throw.
      expect(decoded.failure.message.length).toBeGreaterThan(0)
      expect(issueToProblems(decoded.failure.issue, value).length).toBeGreaterThan(0)
    }
  )

  test.prop([arbSelector, arbPlacedMutations(3, extraKeys)], { numRuns: fuzzRuns(6) })(
    "selector: decoded and encodable, or rejected at the places that are wrong (strictly and as discover reads it)",
    (selector, mutations) => {
      counter.hit("selector")
      const { value, touched } = mutate(selector, mutations)
      const strictly = decodeSelectorStrict(value)
      const leniently = decodeSelectorLenient(value)
      assertNoPrototypePollution()
      counter.outcome(`selector ${Result.isSuccess(strictly) ? "accepted" : "rejected"}`)
      // Whatever the strict check accepts, discover accepts too.
      if (Result.isSuccess(strictly)) expect(Result.isSuccess(leniently)).toBe(true)
      for (const r of [strictly, leniently]) {
        if (Result.isSuccess(r)) {
          expect(Result.isSuccess(encodeSelector(r.success))).toBe(true)
          continue
        }
        checkRejectionPaths(r.failure.issue, selector, value, mutations, touched)
        expect(issueToProblems(r.failure.issue, value).length).toBeGreaterThan(0)
      }
    }
  )
})
