import { Effect } from "effect"
import type { GateViolation } from "../events/RolloutEvent.js"
import type { DeniedTarget } from "../machine/types.js"
import type { SignatureTrust, SignatureVerdict, SignatureVerifier } from "../policy/SignatureVerifier.js"
import type { Emitter } from "./emitter.js"
import type { RolloutConfig } from "./RolloutConfig.js"

export interface SignatureGateResult {
  /** Empty when the gate passed or is off. */
  readonly denied: ReadonlyArray<DeniedTarget>
  /** The verified signature, when the gate is on and passed: journaled with the pass. */
  readonly verdict?: SignatureVerdict
}

/**
 * The signature gate: the artifact's digest (resolved before any gate, see `artifactDigest.ts`)
 * must carry a signature by the spec's trusted key or certificate identity. It runs once, before the
 * policy and scan gates and before any target is touched: the rollout deploys by that digest, so
 * the bytes a later wave runs are the bytes verified here. It fails closed: no verifier, no
 * known digest, or any verification failure is a deny whose message names the digest.
 */
export const makeSignatureGate = (deps: {
  readonly config: RolloutConfig
  /** `undefined`: the spec leaves the gate off. */
  readonly trust: SignatureTrust | undefined
  readonly verifier: SignatureVerifier["Service"] | undefined
  readonly events: Emitter
}) => {
  const { config, trust, verifier, events } = deps

  const decided = (violations: ReadonlyArray<GateViolation>, verdict?: SignatureVerdict) =>
    events
      .emit({
        type: "gateDecided",
        gate: "signature",
        allow: violations.length === 0,
        violations,
        warnings: [],
        ...(verdict === undefined ? {} : { signature: verdict })
      })
      .pipe(
        Effect.as<SignatureGateResult>({
          denied: violations.map(({ targetId, rule, message }) => ({ targetId, rule, message })),
          ...(verdict === undefined ? {} : { verdict })
        })
      )
  const deny = (rule: string, message: string) => decided([{ targetId: "*", rule, message }])

  const check: Effect.Effect<SignatureGateResult> = Effect.suspend(() => {
    if (trust === undefined) return Effect.succeed<SignatureGateResult>({ denied: [] })
    const image = config.artifact.image
    const digest = config.artifactDigest
    if (digest === undefined) {
      return deny(
        "signature/digest-unknown",
        `the signature gate needs the digest of ${image.raw}: the spec pins none and the ${config.adapter} adapter resolved none from a registry (pin the image by digest); nothing verified, nothing touched`
      )
    }
    if (verifier === undefined) {
      return deny(
        "signature/no-verifier",
        `the signature gate is enabled but no signature verifier is configured (fail closed): ${digest.digest} of ${digest.reference} is not verified`
      )
    }
    return verifier
      .verify({
        image: digest.reference,
        registry: image.registry,
        repository: image.repository,
        digest: digest.digest,
        trust
      })
      .pipe(
        Effect.matchEffect({
          onFailure: (e) => deny(`signature/${e.reason}`, e.message),
          onSuccess: (verdict) =>
            verdict.digest === digest.digest
              ? decided([], verdict)
              : // A verifier answering for another digest is a broken verifier: never a pass.
                deny(
                  "signature/mismatch",
                  `the signature verifier vouched for ${verdict.digest}, not for ${digest.digest}, the digest of ${digest.reference} the rollout deploys`
                )
        })
      )
  })

  return { check }
}
