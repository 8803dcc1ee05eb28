import { createHash } from "node:crypto"

/**
 * JSON with object keys sorted (recursively) and `undefined` members dropped, so equal values
 * always serialize to the same bytes.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key]
      if (v !== undefined) Object.defineProperty(out, key, { value: sortKeys(v), enumerable: true })
    }
    return out
  }
  return value
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex")
}
