/**
 * The one deep merge of JSON-like data: spec overlays (`--values`, `--set`) and policy bundle data
 * (`data.json` files, data overrides).
 */

export interface DeepMergeOptions {
  /**
   * `true`: a `null` in the overlay removes the key (Helm values: `strategy: { rolling: null }`
   * switches strategies). `false`: `null` is a value like any other (OPA data).
   */
  readonly nullDeletes: boolean
}

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Defines an own, enumerable data property. Assignment (`out[key] = v`) is not used because for
 * the key `__proto__` (which `JSON.parse` and YAML produce as an ordinary key) it would replace the
 * object's prototype instead of storing data.
 */
const put = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Merges `overlay` over `base`: objects merge key by key (recursively), anything else in the
 * overlay — arrays, scalars, `null` unless {@link DeepMergeOptions.nullDeletes} — replaces what is
 * in the base; an `undefined` overlay (or member) leaves the base as it is. Neither input is
 * modified; untouched subtrees are shared with `base`.
 *
 * Keys are only ever read as own properties and written with `defineProperty`, so data holding
 * `__proto__` or `constructor` keys stays data: no prototype, of the result or of `Object`, changes.
 */
export function deepMerge(base: unknown, overlay: unknown, options: DeepMergeOptions): unknown {
  if (overlay === undefined) return base
  if (!isPlainObject(overlay) || !isPlainObject(base)) return overlay
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(base)) put(out, key, base[key])
  for (const key of Object.keys(overlay)) {
    const v = overlay[key]
    if (v === undefined) continue
    if (v === null && options.nullDeletes) delete out[key]
    else put(out, key, Object.hasOwn(out, key) ? deepMerge(out[key], v, options) : v)
  }
  return out
}
