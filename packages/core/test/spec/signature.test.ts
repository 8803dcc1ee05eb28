/**
 * `spec.gates.signature` decodes strictly like the rest of the spec (issue 12): off by default, on
 * only with the signer's PEM public key; a misspelt field, a key that is not a PEM public key, or an
 * enabled gate without a key is a problem with its path.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeRolloutSpec } from "../../src/spec/index.js"

const KEY =
  "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEL2Ux0uRTUBK2s1w6bHRz1ns8u0Ht\nYW8=\n-----END PUBLIC KEY-----\n"

const withGates = (gates: unknown) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "agent" },
  spec: {
    target: { adapter: "simulated" },
    artifact: { image: "r.io/agent:2" },
    strategy: { rolling: { batchSize: 2 } },
    gates
  }
})

const problemsOf = (input: unknown): Array<string> => {
  const r = decodeRolloutSpec(input)
  if (Result.isSuccess(r)) throw new Error("expected the spec to be rejected")
  return r.failure.problems.map((p) => `${p.path}: ${p.message}`)
}

describe("spec.gates.signature", () => {
  it("is off by default", () => {
    const r = decodeRolloutSpec(withGates({}))
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success.spec.gates.signature).toEqual({ enabled: false })
  })

  it("on, with a PEM public key", () => {
    const r = decodeRolloutSpec(withGates({ signature: { enabled: true, publicKey: KEY } }))
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success.spec.gates.signature).toEqual({ enabled: true, publicKey: KEY })
  })

  it("on without a key is a problem at publicKey", () => {
    expect(problemsOf(withGates({ signature: { enabled: true } }))).toEqual([
      expect.stringMatching(/^spec\.gates\.signature\.publicKey: the signature gate is enabled: it needs/)
    ])
  })

  it("a key that is not a PEM public key is a problem with its path", () => {
    const problems = problemsOf(withGates({ signature: { enabled: true, publicKey: "cosign.pub" } }))
    expect(problems).toEqual([expect.stringMatching(/^spec\.gates\.signature\.publicKey: .*PEM public key/)])
  })

  it("an unknown field is a problem with its path", () => {
    const problems = problemsOf(withGates({ signature: { enabled: true, publicKey: KEY, keyless: {} } }))
    expect(problems).toEqual([expect.stringMatching(/^spec\.gates\.signature\.keyless: unknown field/)])
  })
})
