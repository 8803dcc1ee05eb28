import { AdapterError } from "@sluice/core"
import { Effect, Schema } from "effect"

/** The adapter's layer could not be built (bad configuration, unreadable kubeconfig, unknown context). */
export class KubernetesConfigError extends Schema.TaggedError<KubernetesConfigError>()("KubernetesConfigError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export type Operation = AdapterError["operation"]

/** What a request does, for messages (`patch daemonsets in kube-system`) and RBAC errors. */
export interface Request {
  readonly verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"
  readonly resource: string
  readonly namespace?: string
  readonly name?: string
}

interface ApiFailure {
  readonly code?: number
  readonly body?: unknown
  readonly message?: string
  readonly cause?: unknown
}

const statusMessage = (body: unknown): string | undefined => {
  const parsed = typeof body === "string" ? safeJson(body) : body
  if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
    const m = (parsed as { message?: unknown }).message
    return typeof m === "string" ? m : undefined
  }
  return undefined
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

/** HTTP status of a failed client call, if it got an answer at all. */
export const statusCode = (cause: unknown): number | undefined => {
  const code = (cause as ApiFailure | undefined)?.code
  return typeof code === "number" ? code : undefined
}

const where = (r: Request) =>
  `${r.resource}${r.name === undefined ? "" : ` ${r.name}`}${r.namespace === undefined ? "" : ` in namespace ${r.namespace}`}`

/**
 * Maps a failed request to an AdapterError. Conflicts, throttling, server errors and lost
 * connections are transient (the interpreter retries them); a refused permission names the verb and
 * resource the role lacks.
 */
export const toAdapterError = (operation: Operation, target: string | undefined, r: Request, cause: unknown) => {
  const code = statusCode(cause)
  const server = statusMessage((cause as ApiFailure | undefined)?.body)
  const base = { operation, ...(target === undefined ? {} : { target }) }
  if (code === 403) {
    return new AdapterError({
      ...base,
      message: `forbidden: cannot ${r.verb} ${where(r)} (RBAC: the role needs "${r.verb}" on "${r.resource}")${server === undefined ? "" : `: ${server}`}`,
      transient: false
    })
  }
  if (code === 401) {
    return new AdapterError({
      ...base,
      message: `unauthorized: the credentials were refused (${r.verb} ${where(r)})`,
      transient: false
    })
  }
  const transient = code === undefined || code === 409 || code === 429 || code >= 500
  const text =
    server ?? (cause instanceof Error ? (cause.message.split("\n")[0] ?? cause.message) : String(cause)).slice(0, 300)
  return new AdapterError({
    ...base,
    message: `${r.verb} ${where(r)} failed${code === undefined ? "" : ` (HTTP ${code})`}: ${text}`,
    transient
  })
}

/** One API request as an Effect; its failure is an AdapterError (see {@link toAdapterError}). */
export const kubeCall = <A>(operation: Operation, target: string | undefined, r: Request, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => toAdapterError(operation, target, r, cause) })

/** Like {@link kubeCall}, but the given HTTP statuses (e.g. 404, 409 AlreadyExists) are `undefined`. */
export const kubeCallAllowing = <A>(
  codes: ReadonlyArray<number>,
  operation: Operation,
  target: string | undefined,
  r: Request,
  f: () => Promise<A>
) =>
  Effect.tryPromise({
    try: f,
    catch: (cause) => cause
  }).pipe(
    Effect.catch((cause) => {
      const code = statusCode(cause)
      return code !== undefined && codes.includes(code)
        ? Effect.succeed(undefined)
        : Effect.fail(toAdapterError(operation, target, r, cause))
    })
  )

/** Like {@link kubeCall}, but a 404 is `undefined`. */
export const kubeCallOptional = <A>(
  operation: Operation,
  target: string | undefined,
  r: Request,
  f: () => Promise<A>
) => kubeCallAllowing([404], operation, target, r, f)

export const permanent = (operation: Operation, target: string | undefined, message: string) =>
  new AdapterError({ operation, ...(target === undefined ? {} : { target }), message, transient: false })

export const transient = (operation: Operation, target: string | undefined, message: string) =>
  new AdapterError({ operation, ...(target === undefined ? {} : { target }), message, transient: true })
