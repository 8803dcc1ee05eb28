/**
 * The signature gate's keyless trust: whether the certificate a cosign signature layer carries was
 * issued by one of the operator's CAs to the identity the spec names. The signature itself is
 * verified by the caller (`cosign.ts`) with the key of the certificate this returns.
 *
 * Why by hand and not `@sigstore/verify`'s `Verifier`: its certificate path is checked once per
 * trusted timestamp (a Rekor entry or an RFC 3161 token) and a signature with neither gets no path
 * check at all; a private CA, or cosign's `sign --certificate --tlog-upload=false`, gives no
 * timestamp. Its chain builder also only follows certificates that are themselves trusted, while
 * cosign's `dev.sigstore.cosign/chain` annotation carries intermediates the operator need not list.
 * So the path is built here from `@sigstore/core`'s certificate parser (the same one the verifier
 * uses), checked at the time of verification, with the checks Go's `x509.Verify` makes for cosign:
 * every issuer a CA (basic constraints, `keyCertSign`), path length constraints, the validity
 * period of every certificate, the code-signing EKU on the leaf and allowed by any issuer that
 * restricts EKUs. What is not checked, because nothing here can: a transparency log inclusion, an
 * SCT, revocation.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto"
import { ASN1Obj, X509Certificate } from "@sigstore/core"
import type { KeylessIdentity } from "@sluice/core"

/** The annotations cosign puts the leaf certificate and its chain in (PEM), beside the signature. */
export const COSIGN_CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
export const COSIGN_CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"

/** Fulcio's OIDC issuer extensions: the legacy one holds the raw string, the current one a DER UTF8String. */
export const OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
export const OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
const OID_EXT_KEY_USAGE = "2.5.29.37"
const OID_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
const OID_ANY_EKU = "2.5.29.37.0"
/** GeneralName tags of a SAN: rfc822Name [1], uniformResourceIdentifier [6]. */
const SAN_EMAIL = 1
const SAN_URI = 6
/** Deeper chains than this are refused (Fulcio's is root, intermediate, leaf). */
const MAX_INTERMEDIATES = 4

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** The certificates of a PEM bundle; throws when a block is not a certificate or there is none. */
export const parseCertificates = (pem: string): Array<X509Certificate> => {
  const blocks = pem.match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) throw new Error("no PEM CERTIFICATE block")
  return blocks.map((block) => X509Certificate.parse(block))
}

/** A trust ready to check certificates with: the roots parsed and the subject matcher compiled. */
export interface KeylessTrust {
  readonly identity: KeylessIdentity
  readonly roots: ReadonlyArray<X509Certificate>
  /** The identity as messages name it: `ci@example.com (OIDC issuer https://…)`. */
  readonly describe: string
  readonly matches: (san: string) => boolean
}

/** Throws when the roots or the regular expression cannot be read (the gate denies `malformed`). */
export const keylessTrust = (identity: KeylessIdentity): KeylessTrust => {
  // Anchored: a Kyverno or cosign `subjectRegExp` matches anywhere in the SAN, which lets
  // `ci@example\.com` accept `ci@example.com.evil.io`; here the whole SAN must match.
  // Compiled alone first: `a)|(.*` would close the anchoring group and match anything, and only
  // an expression that compiles on its own keeps its alternatives inside the group.
  if (identity.subjectRegExp !== undefined) new RegExp(identity.subjectRegExp)
  const pattern = identity.subjectRegExp === undefined ? undefined : new RegExp(`^(?:${identity.subjectRegExp})$`)
  const roots = parseCertificates(identity.roots)
  const notCA = roots.filter((r) => !r.isCA)
  if (notCA.length > 0) throw new Error(`${notCA.length} of the roots is not a CA certificate`)
  const subject =
    identity.subject !== undefined ? identity.subject : `/${identity.subjectRegExp ?? ""}/ (the whole SAN)`
  return {
    identity,
    roots,
    describe: `${subject} (OIDC issuer ${identity.issuer})`,
    matches: (san) => (pattern === undefined ? san === identity.subject : pattern.test(san))
  }
}

/** An extension's value (the DER inside its OCTET STRING), parsed. */
const parsed = (value: Buffer): ASN1Obj => ASN1Obj.parseBuffer(Buffer.from(value))

/** The SANs a certificate was issued to: its emails and URIs (what Fulcio puts there). */
const subjectAltNames = (cert: X509Certificate): Array<string> => {
  const ext = cert.extSubjectAltName
  if (ext === undefined) return []
  return parsed(ext.value)
    .subs.filter((name) => name.tag.class === 2 && (name.tag.number === SAN_EMAIL || name.tag.number === SAN_URI))
    .map((name) => name.value.toString("utf8"))
}

/** The OIDC issuer Fulcio recorded: the current extension when present, else the legacy one (as cosign reads it). */
const oidcIssuer = (cert: X509Certificate): string | undefined => {
  const v2 = cert.extension(OID_ISSUER_V2)
  if (v2 !== undefined) return parsed(v2.value).value.toString("utf8")
  return cert.extension(OID_ISSUER_V1)?.value.toString("utf8")
}

/** The EKUs a certificate is restricted to, or `undefined` when it has no EKU extension. */
const extendedKeyUsages = (cert: X509Certificate): Array<string> | undefined => {
  const ext = cert.extension(OID_EXT_KEY_USAGE)
  return ext === undefined ? undefined : parsed(ext.value).subs.map((oid) => oid.toOID())
}

const issuedBy = (cert: X509Certificate, issuer: X509Certificate): boolean => {
  if (!cert.issuer.equals(issuer.subject)) return false
  try {
    return cert.verify(issuer)
  } catch {
    return false
  }
}

const name = (i: number) => (i === 0 ? "the signing certificate" : `chain certificate ${i}`)

/** Why the path `[leaf, …intermediates, root]` is not acceptable at `now`, or `undefined`. */
const pathProblem = (path: ReadonlyArray<X509Certificate>, now: Date): string | undefined => {
  for (const [i, cert] of path.entries()) {
    if (!cert.validForDate(now)) {
      return `${name(i)} is valid from ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}, not at ${now.toISOString()} (expired or not yet valid)`
    }
    if (i === 0) continue
    if (!cert.isCA) return `${name(i)} is not a CA (basic constraints or keyCertSign missing)`
    // pathLenConstraint counts the intermediates below it: i - 1 of them here.
    const maxBelow = cert.extBasicConstraints?.pathLenConstraint
    if (maxBelow !== undefined && maxBelow < BigInt(i - 1)) return `${name(i)}'s path length constraint is exceeded`
    const ekus = extendedKeyUsages(cert)
    if (ekus !== undefined && !ekus.includes(OID_CODE_SIGNING) && !ekus.includes(OID_ANY_EKU)) {
      return `${name(i)} does not allow code signing (extended key usage)`
    }
  }
  return undefined
}

/** The paths from `cert` up to a trusted root through the untrusted intermediates, shortest first. */
const pathsToRoots = (
  cert: X509Certificate,
  roots: ReadonlyArray<X509Certificate>,
  intermediates: ReadonlyArray<X509Certificate>,
  seen: ReadonlyArray<X509Certificate>
): Array<Array<X509Certificate>> => {
  const direct = roots.filter((root) => issuedBy(cert, root)).map((root) => [cert, root])
  if (seen.length > MAX_INTERMEDIATES) return direct
  const through = intermediates
    .filter((ca) => !seen.some((s) => s.equals(ca)) && issuedBy(cert, ca))
    .flatMap((ca) => pathsToRoots(ca, roots, intermediates, [...seen, ca]).map((rest) => [cert, ...rest]))
  return [...direct, ...through]
}

export type CertificateCheck =
  | {
      readonly key: KeyObject
      readonly signer: {
        readonly kind: "certificate"
        readonly issuer: string
        readonly subject: string
        readonly certificate: string
      }
    }
  | { readonly problem: string }

/**
 * Checks the certificate on a signature layer against the trust at `now`: it chains to one of the
 * roots (through the layer's chain annotation), may sign code, and was issued to the identity.
 * Returns the leaf's key, for the caller to verify the signature with, or why it is not trusted.
 */
export const checkCertificate = (
  trust: KeylessTrust,
  annotations: Readonly<Record<string, string>> | undefined,
  now: Date
): CertificateCheck => {
  const leafPem = annotations?.[COSIGN_CERTIFICATE_ANNOTATION]
  if (leafPem === undefined) {
    return { problem: "no certificate (signed with a bare key, not by a certificate identity)" }
  }
  let leaf: X509Certificate
  let chain: Array<X509Certificate>
  try {
    const leaves = parseCertificates(leafPem)
    if (leaves.length !== 1) return { problem: `${leaves.length} certificates where the signing certificate belongs` }
    leaf = leaves[0] as X509Certificate
    const chainPem = annotations?.[COSIGN_CHAIN_ANNOTATION]
    chain = chainPem === undefined ? [] : parseCertificates(chainPem)
  } catch (e) {
    return { problem: `the certificate cannot be read (${e instanceof Error ? e.message : String(e)})` }
  }
  if (leaf.isCA || leaf.extBasicConstraints?.isCA === true) return { problem: "the signing certificate is a CA" }
  if (leaf.extKeyUsage !== undefined && !leaf.extKeyUsage.digitalSignature) {
    return { problem: "the signing certificate's key usage does not allow digital signatures" }
  }
  if (!(extendedKeyUsages(leaf) ?? []).includes(OID_CODE_SIGNING)) {
    return { problem: "the signing certificate has no code-signing extended key usage" }
  }
  const paths = pathsToRoots(leaf, trust.roots, chain, [])
  if (paths.length === 0) return { problem: "the signing certificate does not chain to the trusted roots" }
  const problems = paths.map((path) => pathProblem(path, now))
  if (!problems.includes(undefined)) return { problem: problems[0] as string }

  const issuer = oidcIssuer(leaf)
  const sans = subjectAltNames(leaf)
  if (issuer !== trust.identity.issuer) {
    return {
      problem: `the certificate was issued for OIDC issuer ${issuer === undefined ? "(none)" : JSON.stringify(issuer)} to ${sans.join(", ") || "(no SAN)"}, not by ${JSON.stringify(trust.identity.issuer)}`
    }
  }
  const subject = sans.find(trust.matches)
  if (subject === undefined) {
    return {
      problem: `the certificate was issued to ${sans.map((s) => JSON.stringify(s)).join(", ") || "(no email or URI SAN)"}, not to ${trust.identity.subject !== undefined ? JSON.stringify(trust.identity.subject) : `/${trust.identity.subjectRegExp}/`}`
    }
  }
  return {
    key: createPublicKey({ key: leaf.publicKey, format: "der", type: "spki" }),
    signer: {
      kind: "certificate",
      issuer,
      subject,
      certificate: `sha256:${createHash("sha256").update(leaf.root.toDER()).digest("hex")}`
    }
  }
}
