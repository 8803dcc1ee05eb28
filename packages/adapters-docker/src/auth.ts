import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { credentialsFromDockerConfig } from "@sluice/core"
import { Redacted, Result } from "effect"
import type { RegistryCredentials } from "./config.js"
import type { SecretScrubber } from "./errors.js"
import { configKeysFor, DOCKER_HUB } from "./imageRef.js"

/** The Engine's X-Registry-Auth payload. */
export interface AuthConfig {
  readonly username?: string
  readonly password?: string
  readonly identitytoken?: string
  readonly serveraddress: string
}

export interface ResolvedAuth {
  readonly auth: AuthConfig
  /** Where the credentials came from (never the credentials): `adapter config`, `config.json`, `credential helper osxkeychain`. */
  readonly source: string
  readonly username?: string
}

const serverAddress = (registry: string) => (registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry)

const fromCredentials = (registry: string, c: RegistryCredentials, source: string): ResolvedAuth =>
  "identityToken" in c
    ? { auth: { identitytoken: Redacted.value(c.identityToken), serveraddress: serverAddress(registry) }, source }
    : {
        auth: { username: c.username, password: Redacted.value(c.password), serveraddress: serverAddress(registry) },
        source,
        username: c.username
      }

const defaultDockerConfigPath = (): string =>
  path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "config.json")

interface DockerClientConfig {
  auths?: unknown
  credHelpers?: Record<string, string>
  credsStore?: string
}

const runHelper = (helper: string, server: string): Promise<{ Username?: string; Secret?: string } | undefined> =>
  new Promise((resolve) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(helper)) return resolve(undefined)
    const child = spawn(`docker-credential-${helper}`, ["get"], { stdio: ["pipe", "pipe", "ignore"] })
    const out: Array<Buffer> = []
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.on("error", () => {
      clearTimeout(timer)
      resolve(undefined)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (code !== 0) return resolve(undefined)
      try {
        resolve(JSON.parse(Buffer.concat(out).toString("utf8")))
      } catch {
        resolve(undefined)
      }
    })
    child.stdin.end(server)
  })

/**
 * Credentials for `registry`: the adapter config's `registries` first, then Docker's client config
 * (credHelpers, credsStore, auths). Every secret found is registered with the scrubber before it
 * is returned.
 */
export const resolveRegistryAuth = async (
  registry: string,
  configured: Readonly<Record<string, RegistryCredentials>> | undefined,
  dockerConfig: string | false | undefined,
  scrubber: SecretScrubber
): Promise<ResolvedAuth | undefined> => {
  for (const key of [registry, ...configKeysFor(registry)]) {
    const c = configured?.[key]
    if (c !== undefined) {
      scrubber.add("identityToken" in c ? Redacted.value(c.identityToken) : Redacted.value(c.password))
      return fromCredentials(registry, c, "adapter config")
    }
  }
  if (dockerConfig === false) return undefined
  const file = dockerConfig ?? defaultDockerConfigPath()
  let cfg: DockerClientConfig
  try {
    cfg = JSON.parse(await fs.promises.readFile(file, "utf8")) as DockerClientConfig
  } catch {
    return undefined
  }
  const keys = configKeysFor(registry)
  const helper = keys.map((k) => cfg.credHelpers?.[k]).find((h) => h !== undefined) ?? cfg.credsStore
  if (helper !== undefined) {
    for (const server of registry === DOCKER_HUB
      ? ["https://index.docker.io/v1/"]
      : [registry, `https://${registry}`]) {
      const got = await runHelper(helper, server)
      if (got?.Secret) {
        scrubber.add(got.Secret)
        const auth: AuthConfig =
          got.Username === "<token>"
            ? { identitytoken: got.Secret, serveraddress: serverAddress(registry) }
            : { username: got.Username ?? "", password: got.Secret, serveraddress: serverAddress(registry) }
        return {
          auth,
          source: `credential helper ${helper}`,
          ...(got.Username && got.Username !== "<token>" ? { username: got.Username } : {})
        }
      }
    }
  }
  // `auths` is read by core's rule (the same one the Kubernetes adapter applies to pull secrets);
  // a config whose `auths` cannot be read gives no credentials, as an unreadable file does.
  const found = credentialsFromDockerConfig(cfg, registry)
  if (Result.isFailure(found) || found.success === undefined) return undefined
  const c = found.success
  if ("identityToken" in c) {
    scrubber.add(Redacted.value(c.identityToken))
    return {
      auth: { identitytoken: Redacted.value(c.identityToken), serveraddress: serverAddress(registry) },
      source: file
    }
  }
  const password = Redacted.value(c.password)
  scrubber.add(password)
  scrubber.add(Buffer.from(`${c.username}:${password}`).toString("base64"))
  return {
    auth: { username: c.username, password, serveraddress: serverAddress(registry) },
    source: file,
    username: c.username
  }
}

/** The X-Registry-Auth header value (URL-safe base64 JSON, as the Docker CLI sends it). */
export const registryAuthHeader = (auth: AuthConfig, scrubber: SecretScrubber): string => {
  const header = Buffer.from(JSON.stringify(auth)).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")
  scrubber.add(header)
  return header
}
