/**
 * A private certificate authority made with the real `openssl` (`openssl ca`, so validity periods
 * can be set in the past): a root, an intermediate, and leaf certificates shaped like Fulcio's (an
 * empty subject, a SAN email or URI, the OIDC issuer in extensions 1.3.6.1.4.1.57264.1.1 and .1.8,
 * the code-signing EKU). For the keyless signature gate's tests, which sign with the real cosign.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Issued {
  /** PEM files. */
  readonly cert: string
  readonly key: string
  readonly pem: string
}

export interface LeafOptions {
  /** The SAN: `email:ci@example.com` or `URI:https://…`. */
  readonly san: string
  /** The OIDC issuer, written in both Fulcio extensions unless `issuerExtensions` says otherwise. */
  readonly issuer: string
  readonly issuerExtensions?: "both" | "v1" | "v2"
  readonly codeSigning?: boolean
  /** `YYYYMMDDHHMMSSZ`; default: a year ago until a year from now. */
  readonly start?: string
  readonly end?: string
}

const asn1Time = (d: Date) => `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`
const YEAR = 365 * 24 * 3600 * 1000
const hex = (s: string) => Buffer.from(s, "utf8").toString("hex")

export interface Ca {
  readonly root: Issued
  readonly intermediate: Issued
  /** The chain cosign's `--certificate-chain` takes: the intermediate, then the root. */
  readonly chain: string
  readonly leaf: (name: string, options: LeafOptions) => Issued
}

/** A root and an intermediate (valid ten years back and forward) in `dir`, issuing leaves. */
export const makeCa = (dir: string, name: string): Ca => {
  fs.mkdirSync(dir, { recursive: true })
  const file = (f: string) => path.join(dir, f)
  const openssl = (args: ReadonlyArray<string>) =>
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
  fs.mkdirSync(file("db"), { recursive: true })
  fs.writeFileSync(file("db/index.txt"), "")
  fs.writeFileSync(file("db/serial"), "1000\n")
  fs.writeFileSync(
    file("ca.cnf"),
    [
      "[ca]",
      "default_ca = this",
      "[this]",
      "database = db/index.txt",
      "new_certs_dir = db",
      "serial = db/serial",
      "default_md = sha256",
      "policy = any",
      "unique_subject = no",
      "copy_extensions = none",
      "[any]",
      "organizationName = optional",
      "commonName = optional",
      "[root]",
      "basicConstraints = critical, CA:TRUE",
      "keyUsage = critical, keyCertSign, cRLSign",
      "subjectKeyIdentifier = hash",
      "[intermediate]",
      "basicConstraints = critical, CA:TRUE, pathlen:0",
      "keyUsage = critical, keyCertSign, cRLSign",
      "extendedKeyUsage = codeSigning",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
      ""
    ].join("\n")
  )
  const now = Date.now()
  const issue = (
    id: string,
    subject: string,
    extensions: string,
    signer: { readonly cert: string; readonly key: string } | "self",
    start = asn1Time(new Date(now - 10 * YEAR)),
    end = asn1Time(new Date(now + 10 * YEAR)),
    extfile = "ca.cnf"
  ): Issued => {
    const key = file(`${id}.key`)
    const cert = file(`${id}.pem`)
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
    openssl(["req", "-new", "-key", key, "-subj", subject, "-out", file(`${id}.csr`)])
    openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      ...(signer === "self" ? ["-selfsign", "-keyfile", key] : ["-cert", signer.cert, "-keyfile", signer.key]),
      "-in",
      file(`${id}.csr`),
      "-out",
      cert,
      "-startdate",
      start,
      "-enddate",
      end,
      "-extfile",
      extfile,
      "-extensions",
      extensions,
      "-notext"
    ])
    return { cert, key, pem: fs.readFileSync(cert, "utf8") }
  }
  const root = issue("root", `/O=${name}/CN=${name} Root`, "root", "self")
  const intermediate = issue("intermediate", `/O=${name}/CN=${name} Intermediate`, "intermediate", root)
  const chain = file("chain.pem")
  fs.writeFileSync(chain, intermediate.pem + root.pem)
  return {
    root,
    intermediate,
    chain,
    leaf: (id, o) => {
      const which = o.issuerExtensions ?? "both"
      const extfile = file(`${id}.ext.cnf`)
      fs.writeFileSync(
        extfile,
        [
          "[leaf]",
          "basicConstraints = critical, CA:FALSE",
          "keyUsage = critical, digitalSignature",
          ...(o.codeSigning === false ? [] : ["extendedKeyUsage = codeSigning"]),
          "subjectKeyIdentifier = hash",
          "authorityKeyIdentifier = keyid",
          // Fulcio's leaves have an empty subject, so the SAN is critical (RFC 5280).
          `subjectAltName = critical, ${o.san}`,
          // Legacy: the issuer's raw bytes; current: a DER UTF8String.
          ...(which === "v2" ? [] : [`1.3.6.1.4.1.57264.1.1 = DER:${hex(o.issuer)}`]),
          ...(which === "v1" ? [] : [`1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:${o.issuer}`]),
          ""
        ].join("\n")
      )
      return issue(
        id,
        "/",
        "leaf",
        intermediate,
        o.start ?? asn1Time(new Date(now - YEAR)),
        o.end ?? asn1Time(new Date(now + YEAR)),
        extfile
      )
    }
  }
}
