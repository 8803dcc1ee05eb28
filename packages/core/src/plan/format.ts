import { canonicalJson } from "./canonicalJson.js"
import type { Plan } from "./Plan.js"

/** Stable JSON of a plan (keys sorted, 2-space indent, trailing newline): same plan, same bytes. */
export function planToJson(plan: Plan): string {
  return `${canonicalJson(plan, 2)}\n`
}
