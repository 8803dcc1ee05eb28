// Kept so `planWaves.ts` (being optimized elsewhere) keeps its import; the implementations live in
// `util/` now and this module only forwards to them. Import from `../util/*` in new code.
export { canonicalJson } from "../util/canonicalJson.js"
export { sha256Hex } from "../util/hash.js"
