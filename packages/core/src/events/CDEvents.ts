import { randomUUID } from "node:crypto"
import { Cause, Duration, Effect, FiberSet, Layer } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { EventSink, type RolloutEvent } from "./RolloutEvent.js"

/**
 * CDEvents (spec v0.4) for delivery pipelines that react to a rollout's end: `service.upgraded`
 * when a rollout completed, `service.rolledback` when it was rolled back (on failure or abort),
 * each a CloudEvents 1.0 event in structured mode (`application/cloudevents+json`: the CloudEvent's
 * attributes and the CDEvent as its `data`), POSTed to a webhook.
 *
 * Delivery never holds up or fails a rollout: the POST runs on its own fiber, a failure (no
 * answer, a non-2xx status) is a logged warning, and the sink waits for posts still in flight only
 * when its scope closes (at most `flushTimeout`), so a CLI run that ends does not drop its last event.
 */
export const CDEVENTS_SPEC_VERSION = "0.4.1"
export const SERVICE_UPGRADED = "dev.cdevents.service.upgraded.0.2.0"
export const SERVICE_ROLLEDBACK = "dev.cdevents.service.rolledback.0.2.0"

export interface CDEventsOptions {
  /** The webhook the events are POSTed to. */
  readonly url: string
  /** The CloudEvents / CDEvents `source` (a URI-reference naming this producer). Default `/sluice`. */
  readonly source?: string
  /** The environment's id in the subject's content. Default: the adapter the rollout ran on. */
  readonly environment?: string
  readonly headers?: Record<string, string>
  /** How long closing the sink waits for posts in flight. Default 5 seconds. */
  readonly flushTimeout?: Duration.Input
}

/** What the sink remembers of a rollout between its start and its end. */
interface Seen {
  readonly image: string
  readonly adapter: string
  /** The image targets were rolled back to (the revision the service runs again). */
  rolledBackTo?: string
}

/**
 * A package URL (purl, `pkg:oci/…`) for an image reference, as CDEvents' `artifactId` requires:
 * the name is the repository's last segment, the version the digest when the reference pins one
 * (else the tag), and the repository and tag are qualifiers.
 */
export const ociPurl = (image: string): string => {
  const at = image.indexOf("@")
  const digest = at < 0 ? undefined : image.slice(at + 1)
  const named = at < 0 ? image : image.slice(0, at)
  const colon = named.lastIndexOf(":")
  const tag = colon > named.lastIndexOf("/") ? named.slice(colon + 1) : undefined
  const repository = tag === undefined ? named : named.slice(0, colon)
  const name = repository.slice(repository.lastIndexOf("/") + 1).toLowerCase()
  const version = digest ?? tag ?? "latest"
  const qualifiers = [`repository_url=${encodeURIComponent(repository)}`]
  if (tag !== undefined && digest !== undefined) qualifiers.push(`tag=${encodeURIComponent(tag)}`)
  return `pkg:oci/${name}@${encodeURIComponent(version)}?${qualifiers.join("&")}`
}

/** The service a rollout updates: the image's repository without its registry and tag. */
const serviceOf = (image: string) => {
  const named = image.split("@")[0]!
  const colon = named.lastIndexOf(":")
  const repository = colon > named.lastIndexOf("/") ? named.slice(0, colon) : named
  const slash = repository.indexOf("/")
  const first = slash < 0 ? "" : repository.slice(0, slash)
  // A first segment with a dot or a port, or "localhost", is a registry host.
  return slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")
    ? repository.slice(slash + 1)
    : repository
}

/** The CloudEvent (structured mode) for a finished rollout, or undefined when its outcome has none. */
export const cdEventFor = (
  finished: Extract<RolloutEvent, { type: "finished" }>,
  seen: Seen | undefined,
  options: Pick<CDEventsOptions, "source" | "environment">,
  id: string = randomUUID()
) => {
  if (seen === undefined) return undefined
  const upgraded = finished.outcome === "completed"
  const rolledBack = (finished.outcome === "rolledBack" || finished.outcome === "aborted") && finished.rolledBack > 0
  if (!upgraded && !rolledBack) return undefined
  const source = options.source ?? "/sluice"
  const type = upgraded ? SERVICE_UPGRADED : SERVICE_ROLLEDBACK
  const time = new Date(finished.at).toISOString()
  const artifact = upgraded ? seen.image : (seen.rolledBackTo ?? seen.image)
  const data = {
    context: { version: CDEVENTS_SPEC_VERSION, id, source, type, timestamp: time },
    subject: {
      id: serviceOf(seen.image),
      source,
      type: "service",
      content: {
        environment: { id: options.environment ?? seen.adapter, source },
        artifactId: ociPurl(artifact)
      }
    },
    // Not part of the CDEvent's schema for the subject: what Sluice knows besides, for consumers.
    customData: {
      rolloutId: finished.rolloutId,
      outcome: finished.outcome,
      updated: finished.updated,
      rolledBack: finished.rolledBack,
      ...(finished.reason === undefined ? {} : { reason: finished.reason })
    },
    customDataContentType: "application/json"
  }
  return {
    specversion: "1.0",
    id,
    source,
    type,
    subject: data.subject.id,
    time,
    datacontenttype: "application/json",
    data
  }
}

/**
 * An EventSink that posts CDEvents for the rollouts it sees end, and hands every event on to
 * `next` (the sink it is added to, e.g. the CLI's progress view). Needs an HttpClient
 * ({@link cdEventsLayer} provides `fetch`'s).
 */
export const makeCDEventsSink = Effect.fnUntraced(function* (options: CDEventsOptions, next?: EventSink["Service"]) {
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
  const posts = yield* FiberSet.make()
  yield* Effect.addFinalizer(() =>
    FiberSet.awaitEmpty(posts).pipe(Effect.timeout(options.flushTimeout ?? Duration.seconds(5)), Effect.ignore)
  )
  const rollouts = new Map<string, Seen>()
  const post = (event: NonNullable<ReturnType<typeof cdEventFor>>, rolloutId: string) =>
    HttpClientRequest.post(options.url).pipe(
      HttpClientRequest.setHeaders({ ...options.headers }),
      // Structured mode: the media type says the body is a whole CloudEvent.
      HttpClientRequest.bodyText(JSON.stringify(event), "application/cloudevents+json; charset=utf-8"),
      client.execute,
      Effect.timeout(Duration.seconds(10)),
      Effect.asVoid,
      Effect.catchCause((cause) =>
        Effect.logWarning(
          `CDEvent ${event.type} for rollout ${rolloutId} not delivered to ${options.url}: ${Cause.pretty(cause).split("\n")[0]}`
        ).pipe(Effect.annotateLogs({ webhook: options.url }))
      )
    )
  const observe = (e: RolloutEvent): Effect.Effect<void> => {
    switch (e.type) {
      case "rolloutStarted":
        rollouts.set(e.rolloutId, { image: e.image, adapter: e.adapter })
        return Effect.void
      case "targetRolledBack": {
        const seen = rollouts.get(e.rolloutId)
        if (seen !== undefined && e.ok) seen.rolledBackTo = e.to
        return Effect.void
      }
      case "finished": {
        const event = cdEventFor(e, rollouts.get(e.rolloutId), options)
        rollouts.delete(e.rolloutId)
        return event === undefined ? Effect.void : FiberSet.run(posts, post(event, e.rolloutId)).pipe(Effect.asVoid)
      }
      default:
        return Effect.void
    }
  }
  return EventSink.of({
    publish: (e) => (next === undefined ? observe(e) : Effect.andThen(observe(e), next.publish(e)))
  })
})

/**
 * The CDEvents sink as a layer, over `fetch`; with `next`, every event also goes there.
 * Scoped: closing it waits (bounded) for posts still in flight.
 */
export const cdEventsLayer = (options: CDEventsOptions, next?: EventSink["Service"]): Layer.Layer<EventSink> =>
  Layer.effect(EventSink, makeCDEventsSink(options, next)).pipe(Layer.provide(FetchHttpClient.layer))
