import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { RolloutSpec, SignatureVerifier } from "@sluice/core"
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"

interface DockerClientConfig {
  readonly auths?: Record<string, { auth?: string; username?: string; password?: string }>
}

/**
 * Registry credentials from Docker's client config (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`), the same file `cosign sign` and `docker push` log in through: an operator
 * who can push and sign an image can let the signature gate read its signatures. Only `auths`
 * entries (credential helpers are the Docker adapter's business, not the gate's).
 */
export const dockerConfigCredentials = (
  file = path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "config.json")
) => {
  let config: DockerClientConfig | undefined
  const load = (): DockerClientConfig => {
    if (config !== undefined) return config
    try {
      config = JSON.parse(fs.readFileSync(file, "utf8")) as DockerClientConfig
    } catch {
      config = {}
    }
    return config
  }
  return (registry: string) => {
    const auths = load().auths ?? {}
    const entry = auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`]
    if (entry === undefined) return undefined
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8")
      const i = decoded.indexOf(":")
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) }
    }
    return entry.username !== undefined && entry.password !== undefined
      ? { username: entry.username, password: entry.password }
      : undefined
  }
}

/**
 * The signature gate's verifier for a spec that turns it on: cosign signatures read from the image's
 * registry over Effect's fetch-based `HttpClient`. Without it a spec with the gate on denies (the
 * core fails closed), so every command that runs gates wires it through `gateLayer`.
 */
export const signatureLayer = async (spec: RolloutSpec): Promise<Layer.Layer<SignatureVerifier> | undefined> => {
  if (!spec.spec.gates.signature.enabled) return undefined
  const policies = await import("@sluice/policies")
  return policies.CosignSignatureVerifier.layer({ credentials: dockerConfigCredentials() }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
}
