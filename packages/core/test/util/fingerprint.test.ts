import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { artifactConfigHash, planToJson, planWaves } from "../../src/plan/index.js"
import type { InventoryItem } from "../../src/plan/Plan.js"
import { specWith } from "../plan/helpers.js"
import { decodeRolloutSpec, parseRolloutSpec, type RolloutSpec } from "../../src/spec/index.js"
import { sha256Hex } from "../../src/util/hash.js"

// The plan fingerprint and the artifact config hash are contracts: a stored rollout is resumed only
// when its plan's fingerprint still matches, and the config hash names Kubernetes ConfigMaps and is
// compared with the annotation on running pods. These values were computed before canonical JSON
// moved to RFC 8785 (`canonicalize`); ordinary plans must keep them byte for byte.

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../fixtures/specs/${name}`, import.meta.url)), "utf8")

const spec = (name: string): RolloutSpec => {
  const r = parseRolloutSpec(
    fixture(name),
    name.endsWith(".json") ? { format: "json", source: name } : { source: name }
  )
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const ZONE = "topology.kubernetes.io/zone"
const inventory = (): Array<InventoryItem> =>
  Array.from({ length: 24 }, (_, i) => ({
    target: {
      id: `node-${String(i).padStart(2, "0")}`,
      name: `node-${i}`,
      labels: {
        [ZONE]: `zone-${"abc"[i % 3]}`,
        "node.kubernetes.io/pool": i % 2 === 0 ? "general" : "gpu",
        group: `g${i % 4}`
      },
      ordinal: i
    },
    image: i < 3 ? "registry.sluice.dev/agents/log-shipper:3.0.9" : "registry.sluice.dev/agents/log-shipper:3.0.8"
  }))

const FIXTURES = ["rolling.yaml", "canary.yaml", "blue-green.yaml", "recreate.yaml", "partition.json"] as const

describe("plan fingerprint and config hash stability", () => {
  it.each(FIXTURES)("%s", (name) => {
    const plan = planWaves(spec(name), inventory())
    const config = spec(name).spec.artifact.config
    expect({
      fingerprint: plan.fingerprint,
      json: sha256Hex(planToJson(plan)),
      config: config === undefined ? null : artifactConfigHash(config)
    }).toEqual(PINNED[name])
  })

  it("changed on purpose: a plan whose topology values are integer-like (racks 0…11)", () => {
    // `topologyCounts` is keyed by topology value. The old sorter built a "sorted" object, but
    // JavaScript enumerates integer-like keys first in numeric order (0, 1, 2, …, 10, 11), so the
    // bytes were not what RFC 8785 writes (0, 1, 10, 11, 2, …). Before the switch this plan had
    // fingerprint 479fab5a3abff5158a6f9c45abbbf0f78d28b3d244484571e7ce920ff3f2973c.
    const inv = inventory().map((it, i) => ({ ...it, target: { ...it.target, labels: { rack: String(i % 12) } } }))
    const plan = planWaves(specWith({ rolling: { batchSize: 6 } }, { topology: "rack" }), inv)
    expect(plan.fingerprint).not.toBe("479fab5a3abff5158a6f9c45abbbf0f78d28b3d244484571e7ce920ff3f2973c")
    expect(planToJson(plan)).toContain('"topologyCounts": {\n        "0": 1,\n        "1": 1,\n        "10": 1,')
  })

  it("the config hash of a config with env and files", () => {
    expect(
      artifactConfigHash({
        env: { LOG_LEVEL: "info", ZONE: "é ü ✓ \u2028", A_1: "1" },
        files: { "/etc/agent/agent.yaml": "a: 1\nb: [2, 3]\n", "/etc/agent/extra.conf": '\t"quoted"\u0001' },
        signal: "SIGHUP"
      })
    ).toBe(PINNED_CONFIG)
  })
})

const PINNED: Record<string, unknown> = {
  "rolling.yaml": {
    config: null,
    fingerprint: "6a5d16f7375e9493f28c90a1b85f665e7acea13e417b2d6b55095a447c76c7aa",
    json: "637a041b90223be9385126ab7580d09afff888a698be6b22a2df4d55fae2868a"
  },
  "canary.yaml": {
    config: null,
    fingerprint: "471450d71a481a9bdece11b742b46660ebd58cdc31ae0b0c397c51bac5b94389",
    json: "267d1a0393036bcaa2851d1c5cc90ff34179d2a92a60315760c9dfa4f2730eaf"
  },
  "blue-green.yaml": {
    config: "1717840dd0d2dbd4b6aecd7bae182ac0806417b7b17604f257c1c17a39cfec4a",
    fingerprint: "8ff809ddaa44ddae7c6e6ee60f8f1464395f55d1c315ff902a0462d521795019",
    json: "d2cb97f774261a43d289eafb236cac702dba3b32ba3cfee47323413e50018da5"
  },
  "recreate.yaml": {
    config: null,
    fingerprint: "a635cca45045bf478d49b9c62ad62fd4747d8c53e8b35510f6aea6b4044a3cb0",
    json: "57b856ba930b8e5c9edfbc49d6459da82a0f068efd447af9a039d895386f22e0"
  },
  "partition.json": {
    config: null,
    fingerprint: "d13fbf3c6f972081433251f8fe384f3c23763decc4c51584b24a39176b0c8247",
    json: "1c6a15f809f8785388dd616d4e9b39ea2b8ede51e532aac6956763b27e554ede"
  }
}
const PINNED_CONFIG = "a300761c64dbe7fe2fae3c49f321a984c16248e7d4873f05ed889d2753c77622"

describe("config strings canonical JSON cannot encode", () => {
  it("a lone surrogate in the config is a spec problem with its path, not a failed plan", () => {
    const r = decodeRolloutSpec({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "agent" },
      spec: {
        target: { adapter: "simulated" },
        artifact: {
          image: "r.io/agent:2",
          config: { env: { A: "x\ud800" }, files: { "/etc/a": "\udc00", "/etc/b": "\ud83d\ude00" } }
        },
        strategy: { rolling: { batchSize: 1 } }
      }
    })
    expect(Result.isFailure(r) ? r.failure.problems.map((p) => p.path) : []).toEqual([
      "spec.artifact.config.env.A",
      'spec.artifact.config.files["/etc/a"]'
    ])
  })
})
