/**
 * The real Docker Engine the tests run against (never a fake). Provisioned by
 * `bash scripts/docker/provision.sh && bash scripts/docker/build-test-images.sh` (+ `registry.sh`).
 *
 * When no engine answers: with CI=true the suites FAIL (a CI run must not pass by skipping);
 * locally they are skipped with a loud notice.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import Docker from "dockerode"
import { Effect, Exit } from "effect"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")
export const stateDir = process.env.SLUICE_DOCKER_STATE ?? "/var/tmp/sluice-docker"
export const PROVISION_HINT =
  "bash scripts/docker/provision.sh && bash scripts/docker/build-test-images.sh && bash scripts/docker/registry.sh"

const readEnvFile = (): Record<string, string> => {
  try {
    const out: Record<string, string> = {}
    for (const line of fs.readFileSync(path.join(stateDir, "engine.env"), "utf8").split("\n")) {
      const i = line.indexOf("=")
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
    }
    return out
  } catch {
    return {}
  }
}
export const engineEnv = readEnvFile()
export const socketPath = process.env.SLUICE_DOCKER_SOCKET ?? engineEnv.SLUICE_DOCKER_SOCKET ?? "/var/run/docker.sock"
/** The same engine over tcp + mutual TLS, when provision.sh set it up. */
export const tlsEndpoint = engineEnv.SLUICE_DOCKER_TLS_ENDPOINT
export const tlsDir = engineEnv.SLUICE_DOCKER_TLS_DIR

export const docker = new Docker({ socketPath })

const probe = async (): Promise<string | undefined> => {
  try {
    await docker.ping()
  } catch (e) {
    return `no Docker engine at ${socketPath}: ${(e as Error).message}`
  }
  for (const v of ["v1", "v2", "v3", "v4"]) {
    try {
      await docker.getImage(`sluice-test/agent:${v}`).inspect()
    } catch {
      return `test image sluice-test/agent:${v} missing`
    }
  }
  return undefined
}

const problem = await probe()
if (problem !== undefined) {
  const msg = `\n${"!".repeat(100)}\n!! Docker adapter tests: ${problem}.\n!! Provision the engine and images with:\n!!   ${PROVISION_HINT}\n${"!".repeat(100)}\n`
  if (process.env.CI === "true") throw new Error(`${msg}\n(CI=true: failing instead of skipping)`)
  console.warn(`${msg}!! SKIPPING the real-engine tests (set CI=true to make this a failure).\n`)
}
/** Whether the real-engine suites run. */
export const engineReady = problem === undefined

/** Whether the registry (registry.sh) is up, and its password. */
export const registryPassword = (() => {
  try {
    return fs.readFileSync(path.join(stateDir, "registry", "password"), "utf8").trim()
  } catch {
    return undefined
  }
})()

/** Every container a test creates carries this label (stop.sh removes them all). */
export const TEST_LABEL = "io.sluice.test"

export const removeSuiteContainers = async (suite: string) => {
  const list = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}.suite=${suite}`] } })
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined)
    )
  )
}

export const removeNetwork = async (name: string) => {
  try {
    await docker.getNetwork(name).remove()
  } catch {
    // absent
  }
}

export const ensureNetwork = async (name: string) => {
  await removeNetwork(name)
  await docker.createNetwork({ Name: name, Driver: "bridge", Labels: { [TEST_LABEL]: "1" } })
}

// biome-ignore lint/suspicious/noExplicitAny: Engine JSON
export type Json = any

export const inspect = (nameOrId: string): Promise<Json> => docker.getContainer(nameOrId).inspect()
export const inspectOpt = async (nameOrId: string): Promise<Json | undefined> => {
  try {
    return await docker.getContainer(nameOrId).inspect()
  } catch {
    return undefined
  }
}
export const imageInspect = (ref: string): Promise<Json> => docker.getImage(ref).inspect()

/** Runs a command inside a running container and waits for it; throws unless it exits 0. */
export const execIn = async (nameOrId: string, cmd: ReadonlyArray<string>): Promise<void> => {
  const exec = await docker.getContainer(nameOrId).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({})
  await new Promise<void>((resolve, reject) => {
    stream.on("end", () => resolve())
    stream.on("error", reject)
    stream.resume()
  })
  const info = await exec.inspect()
  if (info.ExitCode !== 0) throw new Error(`exec ${cmd.join(" ")} in ${nameOrId}: exit ${info.ExitCode}`)
}

/** Names of all containers (running or not) whose name starts with `prefix`. */
export const containerNames = async (prefix: string): Promise<Array<string>> => {
  const list = await docker.listContainers({ all: true })
  return list
    .map((c) => String(c.Names[0]).replace(/^\//, ""))
    .filter((n) => n.startsWith(prefix))
    .sort()
}

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
export const runExit = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)
export { Exit }

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until it returns a value other than undefined (or fails after `timeoutMs`). */
export const eventually = async <A>(
  what: string,
  fn: () => Promise<A | undefined>,
  timeoutMs = 60_000,
  everyMs = 250
) => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await sleep(everyMs)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`)
}

/** Restarts the dockerd provision.sh started (refuses an engine it did not start). */
export const restartDockerd = () =>
  execFileSync("bash", [path.join(repoRoot, "scripts/docker/provision.sh"), "--restart"], {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000
  }).toString()

export const ownsDockerd = (): boolean => {
  try {
    const pid = Number(fs.readFileSync(path.join(stateDir, "dockerd.pid"), "utf8").trim())
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "dockerd"
  } catch {
    return false
  }
}

/**
 * `<dir>/adapter.json` for the CLI suites: the local engine, and the local registry's login (mode
 * 0600: it holds the password). Returns its path.
 */
export const writeLocalAdapterConfig = (dir: string, registry: string): string => {
  const file = path.join(dir, "adapter.json")
  fs.writeFileSync(
    file,
    JSON.stringify({
      hosts: [{ name: "local", endpoint: `unix://${socketPath}` }],
      registries: { [registry]: { username: "sluice", password: registryPassword } },
      dockerConfig: false
    }),
    { mode: 0o600 }
  )
  return file
}
