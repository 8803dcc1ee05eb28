import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { countType, events, fixture, fleet, imageOf, type Ran, sluice, start, tmpStore, V2 } from "./helpers.js"

const SPEC = fixture("rolling.yaml")
const SIZE = 50
/** One target at a time, ~100 ms each: a resumed run lasts seconds, long enough to race for. */
const slow = (store: string) => [
  "--store",
  store,
  "--fleet-size",
  String(SIZE),
  "--set",
  "spec.strategy.rolling.maxUnavailable=1",
  "--set",
  "spec.health.progressDeadline=60s",
  "--apply-latency",
  "40ms..60ms",
  "--ready-latency",
  "40ms..60ms"
]

const appliedTwice = (store: string) =>
  [...fleet(store).targets].filter(([, t]) => t.history.filter((h) => h.via === "apply").length > 1).map(([id]) => id)

/** Starts rollout `id` and kills it (kill -9) once `updating` targets have started. */
const crashed = async (store: string, id: string, updating: number) => {
  const run = start(["apply", "-f", SPEC, "--id", id, "--json", ...slow(store)])
  await run.waitFor((lines) => countType(lines, "targetUpdating") >= updating)
  run.child.kill("SIGKILL")
  expect((await run.done).code).toBeNull()
}

/** Whether the process ran the rollout (its event stream started); others print a line of text. */
const drove = (r: Ran) => countType(r.stdout.split("\n"), "rolloutStarted") > 0

describe("several processes taking over the same crashed rollout", () => {
  const PROCESSES = 8
  const ROUNDS = 3

  it(`${PROCESSES} \`sluice resume\` at once, ${ROUNDS} times: one drives it, the others are told who does; no target updated twice`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const store = tmpStore()
      await crashed(store, "crash", 6)
      const resumes = Array.from({ length: PROCESSES }, () => {
        const r = start(["resume", "crash", "--json", "--store", store])
        return r.done.then((ran) => ({ ran, pid: r.child.pid! }))
      })
      const results = await Promise.all(resumes)
      const drivers = results.filter(({ ran }) => drove(ran))
      expect(drivers, results.map(({ ran }) => `${ran.code}: ${ran.stderr}`).join("\n")).toHaveLength(1)
      const winner = drivers[0]!
      expect(winner.ran.code, winner.ran.stderr).toBe(0)
      expect(events(winner.ran.stdout).at(-1)).toMatchObject({ type: "result", outcome: "completed" })
      for (const { ran } of results.filter((r) => r !== winner)) {
        // Refused while racing for the lease (exit 64), or it found the rollout running: either
        // way the holder it names is the process that drove it. (A process the machine started
        // late may find it finished: it says so.)
        const holder = new RegExp(`\\(\\S+:${winner.pid}:[0-9a-f]{8}\\)`)
        if (ran.code === 64) {
          expect(ran.stderr).toMatch(/error: rollout crash is being run by another process/)
          expect(ran.stderr).toMatch(holder)
        } else if (ran.stdout.includes("already finished")) {
          expect(ran.code, ran.stderr).toBe(0)
        } else {
          expect(ran.code, ran.stderr).toBe(0)
          expect(ran.stdout).toMatch(/rollout crash is running \(.*\) and not paused/)
          expect(ran.stdout).toMatch(holder)
        }
      }
      const after = fleet(store)
      for (let i = 0; i < SIZE; i++) expect(imageOf(after, `node-${String(i).padStart(2, "0")}`)).toBe(V2)
      expect(appliedTwice(store)).toEqual([])
    }
  }, 240_000)
})

describe("the simulated fleet's lease (the same as a rollout's)", () => {
  it("a second rollout on the same fleet is refused (exit 64) naming the one that drives it; free once it is killed", async () => {
    const store = tmpStore()
    const first = start(["apply", "-f", SPEC, "--id", "first", "--json", ...slow(store)])
    await first.waitFor((lines) => countType(lines, "targetUpdating") >= 2)
    const second = await sluice(["apply", "-f", SPEC, "--id", "second", ...slow(store)])
    expect(second.code).toBe(64)
    expect(second.stderr).toMatch(
      new RegExp(`the simulated fleet in \\S+ is in use by rollout first \\(pid ${first.child.pid} on \\S+, heartbeat`)
    )
    first.child.kill("SIGKILL")
    await first.done
    // Its process is gone: the lease is free at once, and the crashed rollout continues.
    const resumed = await sluice(["resume", "first", "--json", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(appliedTwice(store)).toEqual([])
  }, 60_000)
})

describe("a crashed rollout's store after a partial write or a lease from another host", () => {
  it("a torn last journal line: status and resume work, the fragment is cut off and kept", async () => {
    const store = tmpStore()
    await crashed(store, "torn", 4)
    const journal = path.join(store, "torn", "journal.ndjson")
    const size = fs.statSync(journal).size
    const fragment = '{"kind":"intent","at":17,"command":{"kind":"updateTar'
    fs.appendFileSync(journal, fragment)
    const status = await sluice(["status", "torn", "--json", "--store", store])
    expect(status.code, status.stderr).toBe(0)
    const resumed = await sluice(["resume", "torn", "--json", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain(`ended in a torn line (${fragment.length} bytes at offset ${size}`)
    // The cut is recorded: the fragment's bytes and where they were.
    expect(fs.readdirSync(path.join(store, "torn", "torn"))).toEqual([`${size}.json`])
    const record = JSON.parse(fs.readFileSync(path.join(store, "torn", "torn", `${size}.json`), "utf8"))
    expect(record).toMatchObject({ journal: "journal.ndjson", offset: size, length: fragment.length })
    expect(Buffer.from(record.base64, "base64").toString()).toBe(fragment)
    const again = await sluice(["status", "torn", "--json", "--store", store])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ finished: true, outcome: "completed" })
    expect(appliedTwice(store)).toEqual([])
  }, 60_000)

  it("a bad snapshot, a bad control file, a bad header of another rollout: JSON stays JSON, warnings name the files on stderr; resume and list go on", async () => {
    const store = tmpStore()
    await crashed(store, "bad", 4)
    fs.writeFileSync(path.join(store, "bad", "snapshot.json"), "null\n")
    fs.writeFileSync(path.join(store, "bad", "controls", "000000000000001-x.json"), '{"id":"x","signal":"STOP","at":1}')
    const status = await sluice(["status", "bad", "--json", "--store", store])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ rolloutId: "bad", finished: false })
    expect(status.stderr).toContain(`${path.join(store, "bad", "snapshot.json")} is not a snapshot`)
    // status reads the inbox (pending controls): the bad file is moved aside, and said so.
    expect(status.stderr).toContain(
      `${path.join(store, "bad", "controls", "000000000000001-x.json")} is not a control request`
    )
    expect(fs.readdirSync(path.join(store, "bad", "quarantine"))).toEqual(["controls-000000000000001-x.json"])
    const resumed = await sluice(["resume", "bad", "--json", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    // Another rollout whose header is not one: `list` names it and lists the others.
    fs.mkdirSync(path.join(store, "other"))
    fs.writeFileSync(path.join(store, "other", "header.json"), "[]")
    const list = await sluice(["list", "--json", "--store", store])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).map((s: { rolloutId: string }) => s.rolloutId)).toEqual(["bad"])
    expect(list.stderr).toContain(
      `skipped rollout other: ${path.join(store, "other", "header.json")}: $: expected an object, got []`
    )
    expect(events(resumed.stdout).at(-1)).toMatchObject({ type: "result", outcome: "completed" })
    expect(appliedTwice(store)).toEqual([])
  }, 60_000)

  it("a lease naming another host: resume is refused, --force-unlock too while its heartbeat is fresh, then breaks it", async () => {
    const store = tmpStore()
    await crashed(store, "far", 4)
    const locks = path.join(store, "far", "locks")
    const newest = Math.max(...fs.readdirSync(locks).map((f) => Number.parseInt(f, 10)))
    const lease = path.join(locks, `${String(newest + 1).padStart(12, "0")}.json`)
    fs.writeFileSync(
      lease,
      JSON.stringify({
        version: 1,
        state: "held",
        owner: "replica-2",
        host: "another-host.example",
        pid: 4242,
        acquiredAt: 0
      })
    )
    const beat = (ageMs: number) => {
      const t = (Date.now() - ageMs) / 1000
      fs.utimesSync(lease, t, t)
    }
    // The other host's process is alive: it renews its lease every 200 ms while these run.
    beat(0)
    const alive = setInterval(() => beat(0), 200)
    try {
      const refused = await sluice(["resume", "far", "--store", store])
      expect(refused.code).toBe(0)
      expect(refused.stdout).toContain("rollout far is running (replica-2) and not paused")
      const fresh = await sluice(["resume", "far", "--force-unlock", "--store", store])
      expect(fresh.code).toBe(64)
      expect(fresh.stderr).toContain(
        "--force-unlock refused: rollout far is held by replica-2 (pid 4242 on another-host.example"
      )
      expect(fresh.stderr).toContain("its heartbeat is fresh")
    } finally {
      clearInterval(alive)
    }
    // The other host died: its heartbeat stopped 5 s ago (the lease is free by itself after 15 s).
    beat(5_000)
    const broken = await sluice(["resume", "far", "--force-unlock", "--json", "--store", store])
    expect(broken.code, broken.stderr).toBe(0)
    expect(broken.stderr).toContain("note: broke the lease of replica-2 (pid 4242 on another-host.example")
    expect(events(broken.stdout).at(-1)).toMatchObject({ type: "result", outcome: "completed" })
    expect(appliedTwice(store)).toEqual([])
  }, 60_000)
})
