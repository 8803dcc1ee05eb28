import { AdapterError } from "@sluice/core"
import { Predicate } from "effect"

export type Operation = AdapterError["operation"]

/**
 * Secrets the adapter has seen (registry passwords, tokens, their base64 forms). Every message
 * that leaves the adapter is scrubbed against them, so no secret reaches an error, a log or an event.
 */
export class SecretScrubber {
  private readonly secrets = new Set<string>()

  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < 4) return
    this.secrets.add(secret)
    this.secrets.add(Buffer.from(secret).toString("base64"))
    this.secrets.add(encodeURIComponent(secret))
  }

  scrub(text: string): string {
    let out = text
    for (const s of this.secrets) if (s.length >= 4) out = out.split(s).join("***")
    // Registry auth headers/blobs, whatever produced them.
    return out.replace(
      /(X-Registry-Auth|Authorization)(["']?\s*[:=]\s*["']?)(Basic |Bearer )?[A-Za-z0-9+/_=-]{8,}/gi,
      "$1$2***"
    )
  }
}

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOENT", // unix socket absent while dockerd restarts
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "ABORT_ERR"
])

const TRANSIENT_MESSAGES = [
  /socket hang up/i,
  /connect ECONNREFUSED/i,
  /cannot connect to the docker daemon/i,
  /is the docker daemon running/i,
  /context canceled/i,
  /connection reset/i,
  /timed? ?out/i,
  /daemon is shutting down/i,
  /containerd.*(not|unavailable|closing|connection)/i,
  /transport is closing/i,
  /no such host/i,
  /TLS handshake timeout/i,
  /i\/o timeout/i,
  /EOF$/,
  /is restarting/i,
  /already in progress/i,
  /failed to update store/i,
  /connection refused/i,
  /shutting down/i
]

/** Status code and message of a docker-modem error, or of any thrown value. */
export const describeCause = (cause: unknown): { status?: number; code?: string; message: string } => {
  if (Predicate.isObject(cause)) {
    const c = cause as { statusCode?: unknown; code?: unknown; json?: unknown; reason?: unknown; message?: unknown }
    const status = typeof c.statusCode === "number" ? c.statusCode : undefined
    const code = typeof c.code === "string" ? c.code : undefined
    let message: string | undefined
    if (Predicate.isObject(c.json) && typeof (c.json as { message?: unknown }).message === "string") {
      message = (c.json as { message: string }).message
    } else if (typeof c.message === "string") {
      message = c.message.replace(/^\(HTTP code \d+\)\s*/, "")
    }
    return {
      ...(status !== undefined ? { status } : {}),
      ...(code !== undefined ? { code } : {}),
      message: message ?? String(cause)
    }
  }
  return { message: String(cause) }
}

/** Engine 500s that retrying will not fix: bad configuration, missing things, refused access. */
const PERMANENT_MESSAGES = [
  /invalid/i,
  /no such/i,
  /not found/i,
  /unauthorized/i,
  /denied/i,
  /manifest unknown/i,
  /port is already allocated/i,
  /address already in use/i,
  /OCI runtime/i,
  /executable file not found/i,
  /permission/i,
  /conflict/i
]

/**
 * Worth a retry? Connection failures and gateway errors are; 4xx are not; an engine 500 is (a
 * daemon shutting down or starting answers with all sorts of internal errors) unless its message
 * says the request itself is wrong.
 */
export const isTransient = (cause: unknown): boolean => {
  const d = describeCause(cause)
  if (d.code !== undefined && TRANSIENT_CODES.has(d.code)) return true
  if (d.status !== undefined && (d.status === 502 || d.status === 503 || d.status === 504)) return true
  if (d.status !== undefined && d.status >= 400 && d.status < 500) return false
  if (TRANSIENT_MESSAGES.some((re) => re.test(d.message))) return true
  if (d.status === 500) return !PERMANENT_MESSAGES.some((re) => re.test(d.message))
  return false
}

export const isNotFound = (cause: unknown): boolean => describeCause(cause).status === 404
export const isConflict = (cause: unknown): boolean => describeCause(cause).status === 409
export const isNotModified = (cause: unknown): boolean => describeCause(cause).status === 304

/** A failed Engine call, as the AdapterError the interpreter sees (transient = retry). */
export const toAdapterError = (
  scrubber: SecretScrubber,
  operation: Operation,
  target: string | undefined,
  what: string,
  cause: unknown,
  transient?: boolean
): AdapterError => {
  const d = describeCause(cause)
  return new AdapterError({
    operation,
    ...(target !== undefined ? { target } : {}),
    message: scrubber.scrub(`${what}: ${d.message}`),
    transient: transient ?? isTransient(cause)
  })
}

export const adapterError = (
  scrubber: SecretScrubber,
  operation: Operation,
  target: string | undefined,
  message: string,
  transient = false
): AdapterError =>
  new AdapterError({
    operation,
    ...(target !== undefined ? { target } : {}),
    message: scrubber.scrub(message),
    transient
  })
