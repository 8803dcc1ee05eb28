/**
 * The signature gate's verifier for cosign's signatures, read from the image's registry: made with a
 * key (`cosign sign --key`), or with a certificate identity (`--certificate`, checked in `keyless.ts`).
 *
 * Why this shape: `cosign sign --key` (v2) stores a signature as an OCI manifest tagged
 * `sha256-<hex of the image digest>.sig` in the image's repository; each layer is a "simple signing"
 * JSON payload (`critical.image.docker-manifest-digest` names the signed digest) with the base64
 * signature over the payload's bytes in the layer's `dev.cosignproject.cosign/signature`
 * annotation. The npm `sigstore` / `@sigstore/verify` libraries verify Sigstore *bundles* and have no
 * registry client, so the registry is read here (Distribution API over Effect's `HttpClient`, with
 * the registry's Basic or Bearer challenge), and each layer becomes a message-signature bundle that
 * `@sigstore/verify`'s `Verifier` checks against the trusted key (no transparency log or timestamp
 * is required: a key-based signature made with `--tlog-upload=false` has none, and the key itself
 * is the trust; for a keyless trust, the key of the layer's certificate once `keyless.ts` accepted
 * it). The payload's digest must equal the artifact's digest, or the signature vouches for other
 * bytes: a signature copied to another image's tag is refused.
 */
import { createHash } from "node:crypto"
import {
  openRepository,
  RegistryError,
  SignatureError,
  type SignatureRequest,
  type SignatureVerdict,
  SignatureVerifier,
  type SignatureVerifierShape
} from "@sluice/core"
import { Effect, Layer, Redacted, Schema } from "effect"
import { HttpClient } from "effect/http"
import { type LayerTrust, layerTrust } from "./trust.js"

export interface RegistryCredentials {
  readonly username: string
  readonly password: string
}

export interface CosignVerifierOptions {
  /** Credentials for a registry host (with its port), e.g. from the Docker adapter's config. */
  readonly credentials?: (registry: string) => RegistryCredentials | undefined
  /** Per registry request (default 30 s). */
  readonly timeoutMs?: number
}

/** The annotation cosign puts the base64 signature in, on each layer of the `.sig` manifest. */
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
const SIMPLE_SIGNING_TYPE = "cosign container image signature"
const DIGEST = /^sha256:([a-f0-9]{64})$/
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json"
]

const SignatureManifest = Schema.Struct({
  layers: Schema.Array(
    Schema.Struct({
      mediaType: Schema.String,
      digest: Schema.String,
      annotations: Schema.optional(Schema.Record(Schema.String, Schema.String))
    })
  )
})

/** The simple-signing payload: only `critical` is trusted (cosign's `optional` is unsigned metadata in practice). */
const SimpleSigningPayload = Schema.Struct({
  critical: Schema.Struct({
    identity: Schema.Struct({ "docker-reference": Schema.String }),
    image: Schema.Struct({ "docker-manifest-digest": Schema.String }),
    type: Schema.String
  })
})

/** `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: the signer as the journal names it. */
export { keyFingerprint } from "./trust.js"

/**
 * A {@link SignatureVerifier} for cosign key-based signatures stored in the image's registry. Needs
 * an `HttpClient` (e.g. `FetchHttpClient.layer` from `effect/http`).
 */
export const makeCosignVerifier = (options: CosignVerifierOptions = {}) =>
  Effect.map(Effect.service(HttpClient.HttpClient), (client): SignatureVerifierShape => {
    const timeoutMs = options.timeoutMs ?? 30_000
    const verify = Effect.fn("CosignVerifier.verify")(function* (request: SignatureRequest) {
      const { digest, registry, repository } = request
      const fail = (reason: SignatureError["reason"], message: string, cause?: unknown) =>
        new SignatureError({ reason, digest, message, ...(cause === undefined ? {} : { cause }) })
      const hex = DIGEST.exec(digest)?.[1]
      if (hex === undefined) return yield* fail("malformed", `${digest} is not a sha256 digest`)
      let trust: LayerTrust
      try {
        trust = layerTrust(request.trust)
      } catch (e) {
        const part = request.trust.keyless === undefined ? "publicKey" : "keyless roots or subjectRegExp"
        return yield* fail("malformed", `the signature gate's ${part} cannot be read: ${String(e)}`, e)
      }
      // No trusted timestamp says when a certificate signed: it must be valid now.
      const now = new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis))
      const sigTag = `sha256-${hex}.sig`
      const source = `${registry}/${repository}:${sigTag}`
      const what = `${digest} of ${request.image}`

      // Core's registry reader: the registry's auth challenge, http then https for one on this host.
      const credentials = options.credentials?.(registry)
      const reader = yield* openRepository(registry, repository, {
        credentials:
          credentials === undefined
            ? undefined
            : { username: credentials.username, password: Redacted.make(credentials.password) },
        timeoutMs
      }).pipe(Effect.provideService(HttpClient.HttpClient, client))

      const read = Effect.gen(function* () {
        const res = yield* reader.get(`manifests/${sigTag}`, MANIFEST_ACCEPT)
        if (res.status === 404) {
          return yield* fail(
            "unsigned",
            `${what} is not signed: the registry has no cosign signature ${source} (sign it with cosign sign)`
          )
        }
        if (res.status !== 200) {
          return yield* fail(
            "unreachable",
            `cannot read the signatures of ${what}: GET ${sigTag} answered ${res.status}${res.status === 401 || res.status === 403 ? " (no or refused registry credentials)" : ""}`
          )
        }
        const manifest = yield* res.json.pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(SignatureManifest)),
          Effect.mapError((e) => fail("malformed", `the signature manifest ${source} is not a manifest: ${e}`, e))
        )
        const layers = manifest.layers.filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE)
        if (layers.length === 0)
          return yield* fail("unsigned", `${source} holds no cosign simple-signing layer: ${what} is not signed`)
        const problems: string[] = []
        let otherDigest: string | undefined
        for (const layer of layers) {
          const sig = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]
          if (sig === undefined || !DIGEST.test(layer.digest)) {
            problems.push(`layer ${layer.digest}: no signature annotation`)
            continue
          }
          const blob = yield* reader.get(`blobs/${layer.digest}`)
          if (blob.status !== 200) {
            problems.push(`layer ${layer.digest}: GET answered ${blob.status}`)
            continue
          }
          const payload = new Uint8Array(
            yield* blob.arrayBuffer.pipe(
              Effect.mapError((e) =>
                fail("unreachable", `cannot read the signature layer ${layer.digest}: ${e.message}`, e)
              )
            )
          )
          // Content addressing: the bytes must be the ones the signature manifest names.
          if (`sha256:${createHash("sha256").update(payload).digest("hex")}` !== layer.digest) {
            problems.push(`layer ${layer.digest}: the registry served other bytes`)
            continue
          }
          const checked = trust.check(layer.annotations, payload, Buffer.from(sig, "base64"), now)
          if ("problem" in checked) {
            problems.push(`layer ${layer.digest}: ${checked.problem}`)
            continue
          }
          // Only a payload whose signature verifies is read: its claims are the signer's.
          let claims: typeof SimpleSigningPayload.Type
          try {
            claims = Schema.decodeUnknownSync(SimpleSigningPayload)(JSON.parse(Buffer.from(payload).toString("utf8")))
          } catch (e) {
            problems.push(`layer ${layer.digest}: the signed payload is not a simple-signing document (${String(e)})`)
            continue
          }
          if (claims.critical.type !== SIMPLE_SIGNING_TYPE) {
            problems.push(`layer ${layer.digest}: signed payload of type ${JSON.stringify(claims.critical.type)}`)
            continue
          }
          const signed = claims.critical.image["docker-manifest-digest"]
          if (signed !== digest) {
            otherDigest = signed
            continue
          }
          return {
            digest,
            signer: checked.signer,
            source,
            scheme: trust.scheme
          } satisfies SignatureVerdict
        }
        if (otherDigest !== undefined) {
          return yield* fail(
            "mismatch",
            `the signature ${source} was made by ${trust.describe} for ${otherDigest}, not for ${what}: the image under that name is not the one signed`
          )
        }
        return yield* fail(
          "invalid",
          `no signature of ${what} verifies against ${trust.describe} (${source}: ${problems.join("; ")})`
        )
      })

      // No answer at all (connection refused on every scheme, the time limit): the gate cannot
      // tell, and denies. Anything the registry answered is judged by `read` above.
      return yield* read.pipe(
        Effect.catchIf(
          (e): e is RegistryError => e instanceof RegistryError,
          (e) => fail("unreachable", `cannot read the signatures of ${what} from ${registry} (${e.message})`, e)
        )
      )
    })
    return { verify }
  })

export const CosignSignatureVerifier = {
  /** The verifier as a `SignatureVerifier` layer (provide an `HttpClient`). */
  layer: (options: CosignVerifierOptions = {}): Layer.Layer<SignatureVerifier, never, HttpClient.HttpClient> =>
    Layer.effect(
      SignatureVerifier,
      Effect.map(makeCosignVerifier(options), (s) => SignatureVerifier.of(s))
    ),
  make: makeCosignVerifier
} as const
