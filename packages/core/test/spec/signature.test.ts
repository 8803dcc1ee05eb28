/**
 * `spec.gates.signature` decodes strictly like the rest of the spec (issue 12): off by default, on
 * only with the signer's PEM public key or a keyless identity (issuer, subject or subjectRegExp,
 * roots); a misspelt field, a key that is not a PEM public key, roots that are not PEM certificates,
 * a regular expression that does not compile, both trusts or none on an enabled gate: a problem
 * with its path.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { configFromSpec } from "../../src/run/fromSpec.js"
import { decodeRolloutSpec } from "../../src/spec/index.js"

const KEY =
  "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEL2Ux0uRTUBK2s1w6bHRz1ns8u0Ht\nYW8=\n-----END PUBLIC KEY-----\n"

const ROOTS =
  "-----BEGIN CERTIFICATE-----\nMIIBlTCCATygAwIBAgIUeBRGnM5nhJh6lqDr3CjAN06QIDYwCgYIKoZIzj0EAwIw\nKTEQ\n-----END CERTIFICATE-----\n"
const KEYLESS = { issuer: "https://issuer.example.com", subject: "ci@example.com", roots: ROOTS }

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
    const problems = problemsOf(withGates({ signature: { enabled: true, publicKey: KEY, certificate: "x" } }))
    expect(problems).toEqual([expect.stringMatching(/^spec\.gates\.signature\.certificate: unknown field/)])
  })
})

describe("spec.gates.signature.keyless", () => {
  const decoded = (signature: unknown) => {
    const r = decodeRolloutSpec(withGates({ signature }))
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    return r.success
  }

  it("on, with an identity: the rollout's trust is the identity", () => {
    const spec = decoded({ enabled: true, keyless: KEYLESS })
    expect(spec.spec.gates.signature).toEqual({ enabled: true, keyless: KEYLESS })
    expect(configFromSpec(spec, "r1").gates.signature).toEqual({ keyless: KEYLESS })
    const regexp = { issuer: KEYLESS.issuer, subjectRegExp: "https://ci\\.example\\.com/.+", roots: ROOTS + ROOTS }
    expect(decoded({ enabled: true, keyless: regexp }).spec.gates.signature.keyless).toEqual(regexp)
  })

  it("off, an identity given is kept out of the rollout's trust", () => {
    expect(configFromSpec(decoded({ keyless: KEYLESS }), "r1").gates.signature).toBeUndefined()
  })

  it("a key and an identity together is a problem at keyless: one trust per gate", () => {
    expect(problemsOf(withGates({ signature: { enabled: true, publicKey: KEY, keyless: KEYLESS } }))).toEqual([
      expect.stringMatching(/^spec\.gates\.signature\.keyless: publicKey and keyless are both given/)
    ])
  })

  it("exactly one of subject and subjectRegExp", () => {
    const { subject: _, ...none } = KEYLESS
    expect(problemsOf(withGates({ signature: { enabled: true, keyless: none } }))).toEqual([
      "spec.gates.signature.keyless: expected exactly one subject match (subject, subjectRegExp), got none"
    ])
    expect(
      problemsOf(withGates({ signature: { enabled: true, keyless: { ...KEYLESS, subjectRegExp: ".*" } } }))
    ).toEqual([
      "spec.gates.signature.keyless: expected exactly one subject match (subject, subjectRegExp), got 2: subject, subjectRegExp"
    ])
  })

  it("a regular expression that does not compile, roots that are not PEM certificates, a missing issuer", () => {
    const { subject: _, ...noSubject } = KEYLESS
    const problems = problemsOf(
      withGates({ signature: { enabled: true, keyless: { ...noSubject, subjectRegExp: "(unclosed", roots: KEY } } })
    )
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^spec\.gates\.signature\.keyless\.subjectRegExp: .*regular expression/),
        expect.stringMatching(/^spec\.gates\.signature\.keyless\.roots: .*PEM certificates/)
      ])
    )
    const { issuer: __, ...noIssuer } = KEYLESS
    expect(problemsOf(withGates({ signature: { enabled: true, keyless: noIssuer } }))).toEqual([
      expect.stringMatching(/^spec\.gates\.signature\.keyless\.issuer: /)
    ])
  })

  it("an unknown field in keyless is a problem with its path (no Rekor or CT options to pretend with)", () => {
    expect(
      problemsOf(withGates({ signature: { enabled: true, keyless: { ...KEYLESS, rekor: { url: "x" } } } }))
    ).toEqual([expect.stringMatching(/^spec\.gates\.signature\.keyless\.rekor: unknown field/)])
  })
})
