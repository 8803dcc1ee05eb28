import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FAST, fixture, sluice, tmpStore } from "./helpers.js"

// `sluice apply --cdevents-url` POSTs a CDEvent as a CloudEvent (structured mode) when the rollout
// ends; a real HTTP server on loopback records what it receives.
// biome-ignore lint/suspicious/noExplicitAny: the body is whatever JSON the CLI sent; the assertions check its shape.
type Json = any
const received: Array<{ contentType: string | undefined; body: Json }> = []
let status = 202
const server = http.createServer((req, res) => {
  let text = ""
  req.on("data", (d) => {
    text += d
  })
  req.on("end", () => {
    received.push({ contentType: req.headers["content-type"], body: JSON.parse(text) })
    res.writeHead(status).end()
  })
})
let url = ""
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(() => server.close())

const apply = (id: string, extra: ReadonlyArray<string> = []) =>
  sluice([
    "apply",
    "-f",
    fixture("rolling.yaml"),
    "--id",
    id,
    "--plain",
    "--store",
    tmpStore(),
    "--fleet-size",
    "4",
    ...FAST,
    "--cdevents-url",
    url,
    ...extra
  ])

describe("sluice apply --cdevents-url (real HTTP server)", () => {
  it("posts service.upgraded for a completed rollout, before the process exits", async () => {
    received.length = 0
    const r = await apply("cde-cli")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`cdevents: POST to ${url}`)
    expect(received).toHaveLength(1)
    const { contentType, body } = received[0]!
    expect(contentType).toMatch(/^application\/cloudevents\+json/)
    expect(body.specversion).toBe("1.0")
    expect(body.type).toBe("dev.cdevents.service.upgraded.0.2.0")
    expect(body.source).toBe("/sluice")
    expect(body.id).toBe(body.data.context.id)
    expect(body.data.context.version).toBe("0.4.1")
    expect(body.data.subject).toMatchObject({
      id: "agents/node-agent",
      type: "service",
      content: { environment: { id: "simulated" }, artifactId: expect.stringMatching(/^pkg:oci\/node-agent@/) }
    })
    expect(body.data.customData.rolloutId).toBe("cde-cli")
  }, 60_000)

  it("posts service.rolledback for a rolled-back rollout", async () => {
    received.length = 0
    const r = await apply("cde-cli-bad", ["--faults", "never-healthy=:2.0.0"])
    expect(r.code).not.toBe(0)
    expect(received.map((e) => e.body.type)).toEqual(["dev.cdevents.service.rolledback.0.2.0"])
    expect(received[0]!.body.data.subject.content.artifactId).toMatch(/^pkg:oci\/node-agent@1\.0\.0/)
  }, 60_000)

  it("keeps the rollout's outcome when the webhook fails (a warning on stderr)", async () => {
    received.length = 0
    status = 503
    const r = await apply("cde-cli-503")
    status = 202
    expect(r.code, r.stderr).toBe(0)
    expect(received).toHaveLength(1)
    expect(r.stderr).toMatch(/CDEvent dev\.cdevents\.service\.upgraded\.0\.2\.0 for rollout cde-cli-503 not delivered/)
  }, 60_000)
})
