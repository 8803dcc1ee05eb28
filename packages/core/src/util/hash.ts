import { createHash } from "node:crypto"
import { canonicalJson } from "./canonicalJson.js"

/** The sha256 of a string (as UTF-8) or of bytes, as 64 lowercase hex digits. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex")
}

/**
 * The sha256 (hex) of a JSON value's canonical form (RFC 8785), so equal values hash the same
 * whatever their key order. Throws `CanonicalJsonError` for a value outside JSON, like
 * {@link canonicalJson}.
 */
export function sha256OfJson(value: unknown): string {
  return sha256Hex(canonicalJson(value))
}
