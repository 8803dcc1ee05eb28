import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  CDEVENTS_SPEC_VERSION,
  cdEventsLayer,
  ociPurl,
  SERVICE_ROLLEDBACK,
  SERVICE_UPGRADED
} from "../../src/events/CDEvents.js"
import type { RolloutEvent } from "../../src/events/RolloutEvent.js"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { chunkPlan, configFor, V1, V2, world } from "../support/harness.js"

// CDEvents as CloudEvents (structured mode) POSTed to a real HTTP server on loopback that records
// what it receives; the server can be told to fail or to never answer.
interface Received {
  readonly contentType: string | undefined
  readonly body: Record<string, unknown>
}
const received: Received[] = []
let answer: "ok" | "error" | "hang" = "ok"
const hanging: http.ServerResponse[] = []
const server = http.createServer((req, res) => {
  let text = ""
  req.on("data", (d) => {
    text += d
  })
  req.on("end", () => {
    received.push({ contentType: req.headers["content-type"], body: JSON.parse(text) })
    if (answer === "hang") hanging.push(res)
    else res.writeHead(answer === "ok" ? 202 : 500).end()
  })
})
let url = ""
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
})
afterAll(() => {
  for (const res of hanging) res.destroy()
  server.close()
})
beforeEach(() => {
  received.length = 0
  answer = "ok"
})

const run = (id: string, versions: Parameters<typeof world>[0]["versions"] = {}, webhook = url) => {
  const w = world({ size: 4, namePrefix: id, versions })
  const plan = {
    ...chunkPlan([...w.fleet.targets.keys()], 2),
    targets: [...w.fleet.targets.values()].map((t) => t.target)
  }
  const seen: RolloutEvent[] = []
  const next = { publish: (e: RolloutEvent) => Effect.sync(() => void seen.push(e)) }
  const layer = Layer.mergeAll(
    w.fleet.layer,
    Layer.succeed(RolloutStore, w.store),
    cdEventsLayer({ url: webhook, source: "/sluice/test", flushTimeout: "2 seconds" }, next)
  )
  return Effect.runPromise(
    startRollout({ config: configFor({ rolloutId: id }), spec: {}, plan: () => plan }).pipe(Effect.provide(layer))
  ).then((result) => ({ result, seen }))
}

/** The CloudEvents 1.0 required attributes, and the CDEvent's context agreeing with them. */
const expectCloudEvent = (r: Received, type: string) => {
  expect(r.contentType).toMatch(/^application\/cloudevents\+json/)
  const e = r.body as {
    specversion: string
    id: string
    source: string
    type: string
    time: string
    datacontenttype: string
    data: { context: Record<string, string>; subject: Record<string, unknown> }
  }
  expect(e.specversion).toBe("1.0")
  expect(e.id).toMatch(/\S/)
  expect(e.source).toBe("/sluice/test")
  expect(e.type).toBe(type)
  expect(Number.isNaN(Date.parse(e.time))).toBe(false)
  expect(e.datacontenttype).toBe("application/json")
  expect(e.data.context).toEqual({
    version: CDEVENTS_SPEC_VERSION,
    id: e.id,
    source: e.source,
    type,
    timestamp: e.time
  })
  return e.data.subject as {
    id: string
    source: string
    type: string
    content: { environment: { id: string }; artifactId: string }
  }
}

describe("CDEvents to a webhook (real HTTP server)", () => {
  it("posts service.upgraded when a rollout completes, and hands every event on", async () => {
    const { result, seen } = await run("cde-ok")
    expect(result.outcome).toBe("completed")
    expect(received).toHaveLength(1)
    const subject = expectCloudEvent(received[0]!, SERVICE_UPGRADED)
    expect(subject.type).toBe("service")
    expect(subject.id).toBe("agents/node-agent")
    expect(subject.source).toBe("/sluice/test")
    expect(subject.content.environment.id).toBe("simulated")
    expect(subject.content.artifactId).toBe(ociPurl(V2))
    expect(subject.content.artifactId).toBe(
      "pkg:oci/node-agent@2.0.0?repository_url=registry.sluice.dev%2Fagents%2Fnode-agent"
    )
    expect((received[0]!.body.data as { customData: { rolloutId: string } }).customData.rolloutId).toBe("cde-ok")
    expect(seen.map((e) => e.type)).toContain("finished")
  })

  it("posts service.rolledback naming the revision the service runs again", async () => {
    const { result } = await run("cde-bad", { [V2]: { behaviour: { kind: "failAfter", afterMs: 0 } } })
    expect(result.outcome).toBe("rolledBack")
    expect(received).toHaveLength(1)
    const subject = expectCloudEvent(received[0]!, SERVICE_ROLLEDBACK)
    expect(subject.content.artifactId).toBe(ociPurl(V1))
  })

  it("never fails or holds up the rollout: a webhook that answers 500, never answers, or is not there", async () => {
    answer = "error"
    expect((await run("cde-500")).result.outcome).toBe("completed")
    expect(received).toHaveLength(1)
    answer = "hang"
    expect((await run("cde-hang")).result.outcome).toBe("completed")
    expect(received).toHaveLength(2)
    // A port nothing listens on any more.
    const gone = http.createServer()
    await new Promise<void>((r) => gone.listen(0, "127.0.0.1", r))
    const closed = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/nowhere`
    await new Promise((r) => gone.close(r))
    expect((await run("cde-none", {}, closed)).result.outcome).toBe("completed")
  })

  it("writes purls with the digest as version when the reference pins one", () => {
    expect(ociPurl(`${V2.split(":2.0.0")[0]}:2.0.0@sha256:abc`)).toBe(
      "pkg:oci/node-agent@sha256%3Aabc?repository_url=registry.sluice.dev%2Fagents%2Fnode-agent&tag=2.0.0"
    )
  })
})
