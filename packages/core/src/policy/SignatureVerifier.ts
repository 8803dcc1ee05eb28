import { Context, type Effect, Schema } from "effect"

/**
 * The signature gate's trust: what a signature must verify against (`spec.gates.signature`). A
 * public key only for now (cosign's `sign --key`); a keyless certificate identity needs a trusted
 * Fulcio root and Rekor, which a rollout cannot reach offline, so the spec does not accept one yet.
 */
export interface SignatureTrust {
  /**
   * A PEM `PUBLIC KEY` block (cosign's `cosign.pub`): ECDSA (`cosign generate-key-pair` makes P-256)
   * or RSA, signatures over SHA-256 as cosign makes them. An Ed25519 key verifies nothing (denied).
   */
  readonly publicKey: string
}

export interface SignatureRequest {
  /** The reference as the spec wrote it (for messages): e.g. `registry.example.com/agents/agent:2.0`. */
  readonly image: string
  /** The registry host (with its port) and the repository path the signatures are looked up in. */
  readonly registry: string
  readonly repository: string
  /** `sha256:<64 hex>`: the manifest digest the rollout deploys; a signature must be made for it. */
  readonly digest: string
  readonly trust: SignatureTrust
}

/** Who signed: the key's fingerprint (`sha256:` of its DER SubjectPublicKeyInfo, as `cosign.pub` encodes it). */
export const Signer = Schema.Struct({
  kind: Schema.Literal("key"),
  fingerprint: Schema.String
})
export type Signer = typeof Signer.Type

/** A verified signature: recorded in the `gateDecided` event and in the journal with the gate's pass. */
export const SignatureVerdict = Schema.Struct({
  /** The artifact digest the signature was verified for. */
  digest: Schema.String,
  signer: Signer,
  /** Where the signature was read, e.g. `localhost:5000/sluice/agent:sha256-<hex>.sig`. */
  source: Schema.String,
  /** The verification scheme, e.g. `cosign simple-signing (key)`. */
  scheme: Schema.String
})
export type SignatureVerdict = typeof SignatureVerdict.Type

/**
 * Why a signature was not accepted. The gate denies with `signature/<reason>` and this message,
 * which names the digest: `unsigned` (no signature stored for the digest), `unreachable` (the
 * registry could not be read), `mismatch` (a signature made for another digest), `invalid` (no
 * signature verifies against the trusted key), `malformed` (a stored signature or the key cannot be
 * read).
 */
export class SignatureError extends Schema.TaggedError<SignatureError>()("SignatureError", {
  reason: Schema.Literals(["unsigned", "unreachable", "mismatch", "invalid", "malformed"]),
  digest: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export interface SignatureVerifierShape {
  /**
   * Verifies that the image at `digest` is signed by the trusted key. Fails with a
   * {@link SignatureError} when it is not (the gate denies: fail closed); never succeeds without
   * a signature that verifies for exactly `digest`.
   */
  readonly verify: (request: SignatureRequest) => Effect.Effect<SignatureVerdict, SignatureError>
}

/**
 * The signature gate's service: `@sluice/policies`' `CosignSignatureVerifier` reads cosign's
 * signatures from the image's registry. A rollout whose spec turns the gate on without one denies.
 */
export class SignatureVerifier extends Context.Service<SignatureVerifier, SignatureVerifierShape>()(
  "@sluice/core/policy/SignatureVerifier"
) {}
