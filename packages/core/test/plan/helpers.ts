import { Result } from "effect"
import type { Target } from "../../src/domain/Target.js"
import type { InventoryItem } from "../../src/plan/Plan.js"
import { decodeRolloutSpec, type RolloutSpec } from "../../src/spec/index.js"

export const DESIRED = "r.io/agent:2"
export const OLD = "r.io/agent:1"

/** A decoded spec with the given strategy (and optional extra `spec` fields). */
export function specWith(strategy: unknown, extra: Record<string, unknown> = {}): RolloutSpec {
  const r = decodeRolloutSpec({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "agent" },
    spec: { target: { adapter: "simulated" }, artifact: { image: DESIRED }, strategy, ...extra }
  })
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

export const target = (id: string, labels: Record<string, string> = {}, ordinal?: number): Target => ({
  id,
  name: id,
  labels,
  ...(ordinal !== undefined ? { ordinal } : {})
})

export const item = (t: Target, image = OLD): InventoryItem => ({ target: t, image })

/** `t-0` … `t-{n-1}` running the old image, no labels, ordinal = number. */
export const fleet = (n: number): Array<InventoryItem> =>
  Array.from({ length: n }, (_, i) => item(target(`t-${String(i).padStart(3, "0")}`, {}, i)))

/** 10 targets, 5 in zone-a (`a-1`…`a-5`) and 5 in zone-b (`b-1`…`b-5`). */
export const twoZones = (): Array<InventoryItem> => [
  ...[1, 2, 3, 4, 5].map((i) => item(target(`a-${i}`, { zone: "zone-a" }))),
  ...[1, 2, 3, 4, 5].map((i) => item(target(`b-${i}`, { zone: "zone-b" })))
]

/** 12 targets: zone-a `a-1`…`a-4`, zone-b `b-1`…`b-3`, zone-c `c-1`…`c-5` (label `zone`). */
export const threeZones = (): Array<InventoryItem> => [
  ...[1, 2, 3, 4].map((i) => item(target(`a-${i}`, { zone: "zone-a" }))),
  ...[1, 2, 3].map((i) => item(target(`b-${i}`, { zone: "zone-b" }))),
  ...[1, 2, 3, 4, 5].map((i) => item(target(`c-${i}`, { zone: "zone-c" })))
]
