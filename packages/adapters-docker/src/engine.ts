import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import Docker from "dockerode"
import { Effect, Redacted } from "effect"
import type { HostConfig } from "./config.js"
import { adapterError, type Operation, type SecretScrubber, toAdapterError } from "./errors.js"
import type { AdapterError } from "@sluice/core"

/** How to reach one engine, for dockerode and for the adapter's own raw requests. */
export interface Connection {
  readonly socketPath?: string
  readonly host?: string
  readonly port?: number
  readonly protocol: "http" | "https"
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly verifyServerName: boolean
}

const pem = (value: string, what: string): string => {
  if (value.trimStart().startsWith("-----BEGIN")) return value
  try {
    return fs.readFileSync(value, "utf8")
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${value}: ${(e as Error).message}`)
  }
}

export const connectionOf = (host: HostConfig): Connection => {
  const ep = host.endpoint ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"
  if (ep.startsWith("unix://"))
    return { socketPath: ep.slice("unix://".length), protocol: "http", verifyServerName: true }
  const url = new URL(ep.replace(/^tcp:/, "http:"))
  const tls = host.tls
  return {
    host: url.hostname,
    port: Number(url.port || (tls ? 2376 : 2375)),
    protocol: tls ? "https" : "http",
    ...(tls?.ca !== undefined ? { ca: pem(tls.ca, "CA certificate") } : {}),
    ...(tls ? { cert: pem(tls.cert, "client certificate"), key: pem(Redacted.value(tls.key), "client key") } : {}),
    verifyServerName: tls?.verifyServerName ?? true
  }
}

/** One engine: a dockerode client plus raw requests (pulls carry credentials; they bypass dockerode's debug log). */
export class Engine {
  readonly docker: Docker
  private readonly agent: http.Agent | https.Agent

  constructor(
    readonly name: string,
    readonly config: HostConfig,
    readonly connection: Connection
  ) {
    const c = connection
    this.agent =
      c.protocol === "https"
        ? new https.Agent({
            keepAlive: true,
            ...(c.ca !== undefined ? { ca: c.ca } : {}),
            ...(c.cert !== undefined ? { cert: c.cert } : {}),
            ...(c.key !== undefined ? { key: c.key } : {}),
            ...(c.verifyServerName ? {} : { checkServerIdentity: () => undefined })
          })
        : new http.Agent({ keepAlive: false })
    this.docker = new Docker(
      c.socketPath !== undefined
        ? { socketPath: c.socketPath }
        : {
            host: c.host as string,
            port: c.port as number,
            protocol: c.protocol,
            ...(c.ca !== undefined ? { ca: c.ca } : {}),
            ...(c.cert !== undefined ? { cert: c.cert } : {}),
            ...(c.key !== undefined ? { key: c.key } : {}),
            ...(c.verifyServerName ? {} : { checkServerIdentity: () => undefined })
          }
    )
  }

  /** The address published ports are reachable on, from the controller. */
  get publishedAddress(): string {
    return this.connection.host ?? "127.0.0.1"
  }

  /**
   * A raw Engine API request. Resolves with the status and the body; `onLine` receives each JSON
   * line of a streamed body (pull progress).
   */
  request(
    method: string,
    path: string,
    options: {
      readonly headers?: Readonly<Record<string, string>>
      readonly body?: Buffer
      readonly signal?: AbortSignal
      readonly onLine?: (line: unknown) => void
    } = {}
  ): Promise<{ status: number; body: Buffer }> {
    const c = this.connection
    const mod = c.protocol === "https" ? https : http
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          method,
          path,
          ...(c.socketPath !== undefined ? { socketPath: c.socketPath } : { host: c.host, port: c.port }),
          agent: c.socketPath !== undefined ? undefined : this.agent,
          headers: {
            ...(options.body
              ? { "Content-Type": "application/json", "Content-Length": String(options.body.length) }
              : {}),
            ...options.headers
          },
          ...(options.signal ? { signal: options.signal } : {})
        },
        (res) => {
          const chunks: Array<Buffer> = []
          let pending = ""
          res.on("data", (chunk: Buffer) => {
            chunks.push(chunk)
            if (options.onLine) {
              pending += chunk.toString("utf8")
              let nl = pending.indexOf("\n")
              while (nl !== -1) {
                const line = pending.slice(0, nl).trim()
                pending = pending.slice(nl + 1)
                if (line) {
                  try {
                    options.onLine(JSON.parse(line))
                  } catch {
                    // not JSON: ignore
                  }
                }
                nl = pending.indexOf("\n")
              }
            }
          })
          res.on("end", () => {
            if (options.onLine && pending.trim()) {
              try {
                options.onLine(JSON.parse(pending.trim()))
              } catch {
                // ignore
              }
            }
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })
          })
          res.on("error", reject)
        }
      )
      req.on("error", reject)
      if (options.body) req.write(options.body)
      req.end()
    })
  }
}

export interface CallOptions {
  readonly operation: Operation
  readonly target?: string | undefined
  readonly what: string
  readonly timeoutMs: number
}

/**
 * Runs one Engine call as an Effect: the promise gets an AbortSignal (interruption and timeout
 * abort the HTTP request), failures become scrubbed AdapterErrors (transient when worth a retry).
 */
export const engineCall = <A>(
  scrubber: SecretScrubber,
  options: CallOptions,
  thunk: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, AdapterError> =>
  Effect.tryPromise({
    try: (signal) => thunk(signal),
    catch: (cause) => toAdapterError(scrubber, options.operation, options.target, options.what, cause)
  }).pipe(
    Effect.timeoutOrElse({
      duration: options.timeoutMs,
      orElse: () =>
        Effect.fail(
          adapterError(
            scrubber,
            options.operation,
            options.target,
            `${options.what}: no answer from the engine within ${Math.round(options.timeoutMs / 1000)}s`,
            true
          )
        )
    })
  )
