/**
 * What the CLI suites that go through the local registry share (digest binding, signatures): the
 * readiness of the tools they need, pushing test images, the CLI built once and run against the
 * suite's store, one agent container the rollouts target, a rollout spec file, and the journal.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect } from "vitest"
import {
  docker,
  engineReady,
  inspect,
  type Json,
  registryPassword,
  removeSuiteContainers,
  repoRoot,
  writeLocalAdapterConfig
} from "./engine.js"
import { createAgent, tempDir } from "./fleet.js"

export const REGISTRY = "localhost:5000"
const cli = path.join(repoRoot, "examples/cli/dist/main.js")
/** The image the suite's agent is created with: a rollout that touched nothing leaves it there. */
const INITIAL = "sluice-test/agent:v1"

/**
 * Whether a suite runs: the engine, and what else it needs (`ready`, `message` saying how to get
 * it). With an engine but not the rest, a CI run fails (it must not pass by skipping); a local
 * run skips loudly.
 */
export const suiteReady = (ready: boolean, message: string): boolean => {
  if (engineReady && !ready) {
    if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
    console.warn(`\n!!! SKIPPING: ${message}\n`)
  }
  return engineReady && ready
}

/** Tags a local test image as repo:tag and pushes it to the local registry; the digest the registry gave it. */
export const pushImage = async (repo: string, source: string, tag: string): Promise<string> => {
  await docker.getImage(source).tag({ repo, tag })
  const stream = await docker
    .getImage(`${repo}:${tag}`)
    .push({ authconfig: { username: "sluice", password: registryPassword, serveraddress: REGISTRY } } as {})
  let digest: string | undefined
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (e: Json) => {
        if (e.error) reject(new Error(String(e.error)))
        if (typeof e.aux?.Digest === "string") digest = e.aux.Digest
      }
    )
  )
  if (digest === undefined) throw new Error(`push of ${repo}:${tag} reported no digest`)
  return digest
}

export interface CliSuite {
  readonly dir: string
  readonly store: string
  readonly adapterFile: string
  /** The private Docker client config with the registry login, when the suite asked for one. */
  readonly dockerConfig: string | undefined
  /** The CLI with `args`, against the suite's store and adapter config. */
  readonly sluice: (...args: string[]) => { status: number | null; stdout: string; out: string }
}

interface CliSuiteOptions {
  readonly suite: string
  /** The agent container the rollouts target. */
  readonly name: string
  /** The temp dir's name prefix. */
  readonly prefix: string
  /** A private Docker client config with the registry login, given to the CLI as DOCKER_CONFIG. */
  readonly dockerConfig?: boolean
}

/** `<dir>/docker-config/config.json` with the local registry's login (cosign and the CLI read it). */
const writeDockerConfig = (dir: string): string => {
  const dockerConfig = path.join(dir, "docker-config")
  fs.mkdirSync(dockerConfig, { mode: 0o700 })
  fs.writeFileSync(
    path.join(dockerConfig, "config.json"),
    JSON.stringify({ auths: { [REGISTRY]: { auth: Buffer.from(`sluice:${registryPassword}`).toString("base64") } } }),
    { mode: 0o600 }
  )
  return dockerConfig
}

/**
 * Registers the suite's beforeAll and afterAll: the CLI built (the tests run its dist), a temp
 * dir with the store and adapter.json (and the Docker config, when asked), and the agent `name`
 * on v1 labelled with `suite`. The fields are set once beforeAll ran.
 */
export function useCliSuite(
  o: CliSuiteOptions & { readonly dockerConfig: true }
): CliSuite & { readonly dockerConfig: string }
export function useCliSuite(o: CliSuiteOptions): CliSuite
export function useCliSuite(o: CliSuiteOptions): CliSuite {
  const suite = {} as { -readonly [K in keyof CliSuite]: CliSuite[K] }
  beforeAll(async () => {
    execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-b", "examples/cli"], {
      cwd: repoRoot,
      stdio: "inherit"
    })
    const dir = tempDir(o.prefix)
    const store = path.join(dir, "store")
    const adapterFile = writeLocalAdapterConfig(dir, REGISTRY)
    const dockerConfig = o.dockerConfig === true ? writeDockerConfig(dir) : undefined
    Object.assign(suite, {
      dir,
      store,
      adapterFile,
      dockerConfig,
      sluice: (...args: string[]) => {
        const r = spawnSync(process.execPath, [cli, ...args, "--store", store, "--adapter-config", adapterFile], {
          cwd: dir,
          encoding: "utf8",
          timeout: 240_000,
          // A signature gate reads the signatures with the credentials `docker login` left there, as cosign does.
          env: { ...process.env, NO_COLOR: "1", ...(dockerConfig === undefined ? {} : { DOCKER_CONFIG: dockerConfig }) }
        })
        return { status: r.status, stdout: r.stdout, out: `${r.stdout}\n${r.stderr}` }
      }
    })
    await removeSuiteContainers(o.suite)
    await createAgent({ suite: o.suite, name: o.name, group: "a", image: INITIAL, rich: false })
  }, 300_000)
  afterAll(async () => {
    await removeSuiteContainers(o.suite)
  }, 60_000)
  return suite
}

/** `<dir>/<id>.json`: a rollout of `image` over the suite's containers, one at a time, with `gates`; its path. */
export const writeRolloutSpec = (o: {
  readonly dir: string
  readonly id: string
  readonly name: string
  readonly suite: string
  readonly image: string
  readonly gates: Json
}): string => {
  const file = path.join(o.dir, `${o.id}.json`)
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "sluice.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: o.name },
      spec: {
        target: { adapter: "docker", selector: { labels: { "io.sluice.test.suite": o.suite } } },
        artifact: { image: o.image },
        strategy: { rolling: { batchSize: 1 } },
        health: { progressDeadline: "60s" },
        gates: o.gates
      }
    })
  )
  return file
}

/** The container is the one inspected `before` (not replaced), still on the image it was created with. */
export const expectUntouched = async (name: string, before: Json) => {
  const now = await inspect(name)
  expect(now.Id).toBe(before.Id)
  expect(now.Config.Image).toBe(INITIAL)
}

/**
 * Applies `spec` as rollout `id` and expects a gate to deny it with `rule`, naming `digest` (and
 * every one of `naming`) in the CLI's output; the container `name` untouched; the denial journaled
 * with its rule and the digest. The journaled message, for what a test checks further.
 */
export const expectDenied = async (
  suite: CliSuite,
  o: {
    readonly name: string
    readonly spec: string
    readonly id: string
    readonly rule: string
    readonly digest: string
    readonly naming?: ReadonlyArray<string>
  }
): Promise<string> => {
  const before = await inspect(o.name)
  const denied = suite.sluice("apply", "-f", o.spec, "--id", o.id, "--plain")
  expect(denied.status, denied.out).toBe(2)
  expect(denied.out).toContain(o.rule)
  for (const text of [o.digest, ...(o.naming ?? [])]) expect(denied.out).toContain(text)
  await expectUntouched(o.name, before)
  const event = journalEvent(suite.store, o.id, "GATES_DENIED")
  expect(event.violations[0]).toMatchObject({ rule: o.rule })
  expect(event.violations[0].message).toContain(o.digest)
  return event.violations[0].message as string
}

const readJournal = (store: string, id: string): Json[] =>
  fs
    .readFileSync(path.join(store, id, "journal.ndjson"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l))

/** The journaled event of a type (`GATES_PASSED`, `GATES_DENIED`). */
export const journalEvent = (store: string, id: string, type: string): Json =>
  readJournal(store, id).find((e) => e.kind === "event" && e.event.type === type)?.event
