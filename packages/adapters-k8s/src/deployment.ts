/**
 * Deployments. A target is one Deployment (`ns/deployment/name`, labelled with the Deployment's
 * labels), so a fleet of Deployments across namespaces is rolled in waves.
 *
 * - `replace` (every wave but the blue-green preview): the pod template gets the artifact (image,
 *   env, config volume) with one strategic merge patch; the Deployment controller rolls its pods.
 * - `surge` (the blue-green preview wave): the original is not touched. A preview copy
 *   `<name>-sluice-preview` runs the new template beside it, with the original's replica count and
 *   pod labels of its own (the keys of the original's selector removed, a preview label added), so
 *   the original's selector, and the Services, PodDisruptionBudgets and ReplicaSets keyed on it,
 *   never see the preview's pods, and the preview's selector never sees the original's.
 *   `finalize` promotes: the original gets the new template, and the preview is deleted once the
 *   original is available; `conclude` finishes a promotion `finalize` could not, and removes a
 *   preview a failed or aborted rollout left behind. Rollback deletes the preview.
 *
 * Rollback puts back the pod template `inspect` recorded before the rollout (journaled as
 * `Revision.data`), exactly: the whole template is replaced, not merged. Health comes from the
 * Deployment's status in a watch cache: the controller observed the generation, every replica is
 * updated and available, nothing old is left, and `ProgressDeadlineExceeded` is a failure.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1LabelSelector,
  type V1PodTemplateSpec
} from "@kubernetes/client-node"
import type { AdapterError, Artifact, HealthReport, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION } from "./annotations.js"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { kubeCall, kubeCallAllowing, kubeCallOptional, type Operation, permanent, transient } from "./errors.js"
import { type Kube, ownedBy, selectorString } from "./kube.js"
import { createConfigMap } from "./revisioned.js"
import { CONFIG_HASH_ANNOTATION, renderTemplate, sameTemplate } from "./template.js"
import {
  findWorkloads,
  keyedLocks,
  refuseOtherRollout,
  renderPolicyView,
  targetState,
  type WorkloadApi
} from "./workloads.js"
import { type TargetData, targetId, workloadKey } from "./targets.js"

/** `Revision.data` of a Deployment target. */
export interface DeploymentRevisionData {
  readonly v: 1
  readonly kind: "Deployment"
  /** The pod template the Deployment runs (inspect: before the rollout, what rollback restores exactly). */
  readonly template: V1PodTemplateSpec
  /** apply only: `surge` = the template runs in the preview copy until the rollout is promoted. */
  readonly mode?: "replace" | "surge"
}

/** Label of a blue-green preview Deployment and of its pods: the name of the Deployment it previews. */
export const PREVIEW_LABEL = "rollouts.sluice.dev/preview-of"
/** Preview annotation: JSON of the pod template the original gets when the rollout is promoted. */
export const PROMOTE_TEMPLATE_ANNOTATION = "rollouts.sluice.dev/promote-template"
/** The name of the blue-green preview copy of a Deployment. */
export const previewName = (name: string) => `${name}-sluice-preview`

/** Where the Deployment controller says which ReplicaSet timed out. */
const TIMED_OUT = "ProgressDeadlineExceeded"
const POD_TEMPLATE_HASH = "pod-template-hash"

const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)

const isDeploymentRevision = (u: unknown): u is DeploymentRevisionData =>
  typeof u === "object" &&
  u !== null &&
  (u as { kind?: unknown }).kind === "Deployment" &&
  typeof (u as { template?: unknown }).template === "object" &&
  (u as { template?: unknown }).template !== null

/** Whether a label selector selects a set of labels (what the original's selector would do with the preview's pods). */
export const selects = (selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean => {
  const ml = Object.entries(selector?.matchLabels ?? {})
  const me = selector?.matchExpressions ?? []
  if (ml.length === 0 && me.length === 0) return false // an empty selector is refused by apps/v1
  if (!ml.every(([k, v]) => labels[k] === v)) return false
  return me.every((e) => {
    const has = e.key in labels
    const value = labels[e.key] ?? ""
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(value)
      case "NotIn":
        return !has || !(e.values ?? []).includes(value)
      case "Exists":
        return has
      case "DoesNotExist":
        return !has
      default:
        return false
    }
  })
}

/** The preview's pod labels: the template's, minus every key the original's selector uses, plus the preview label. */
const previewPodLabels = (dep: V1Deployment, name: string): Record<string, string> => {
  const keys = new Set([
    ...Object.keys(dep.spec?.selector.matchLabels ?? {}),
    ...(dep.spec?.selector.matchExpressions ?? []).map((e) => e.key)
  ])
  const kept = Object.entries(dep.spec?.template.metadata?.labels ?? {}).filter(([k]) => !keys.has(k))
  return { ...Object.fromEntries(kept), [PREVIEW_LABEL]: name }
}

const conditionOf = (dep: V1Deployment, type: string) => dep.status?.conditions?.find((c) => c.type === type)

/**
 * A Deployment's rollout state from its status alone (as `kubectl rollout status` reads it):
 * `complete`, `progressing` (with why), or `timedOut` (the controller's ProgressDeadlineExceeded,
 * which may still name a ReplicaSet of an earlier template: the caller checks).
 */
const rolloutState = (
  dep: V1Deployment
):
  | { readonly kind: "complete" }
  | { readonly kind: "progressing"; readonly reason: string }
  | { readonly kind: "timedOut"; readonly reason: string } => {
  const where = `Deployment ${dep.metadata?.namespace}/${dep.metadata?.name}`
  const generation = dep.metadata?.generation ?? 0
  const s = dep.status ?? {}
  if ((s.observedGeneration ?? 0) < generation)
    return { kind: "progressing", reason: `${where}: the controller has not observed generation ${generation} yet` }
  const want = dep.spec?.replicas ?? 1
  const updated = s.updatedReplicas ?? 0
  const total = s.replicas ?? 0
  const available = s.availableReplicas ?? 0
  if (updated >= want && total <= updated && available >= updated) return { kind: "complete" }
  const progressing = conditionOf(dep, "Progressing")
  if (progressing?.reason === TIMED_OUT)
    return {
      kind: "timedOut",
      reason: `${where}: ${TIMED_OUT}: ${progressing.message ?? "progress deadline exceeded"}`
    }
  if (dep.spec?.paused === true) return { kind: "progressing", reason: `${where} is paused` }
  if (updated < want) return { kind: "progressing", reason: `${where}: ${updated} of ${want} replicas updated` }
  if (total > updated)
    return { kind: "progressing", reason: `${where}: ${total - updated} old replica(s) pending termination` }
  return { kind: "progressing", reason: `${where}: ${available} of ${updated} updated replicas available` }
}

export const makeDeploymentDriver = (kube: Kube): Driver => {
  const { apps, core } = kube.clients
  const workloadApi: WorkloadApi<V1Deployment> = {
    resource: "deployments",
    read: (name, namespace) => apps.readNamespacedDeployment({ name, namespace }),
    list: (namespace, labelSelector) => apps.listNamespacedDeployment({ namespace, labelSelector }),
    listAll: (labelSelector) => apps.listDeploymentForAllNamespaces({ labelSelector })
  }
  const lockOf = keyedLocks()

  const request = (namespace: string, name: string | undefined, verb: "get" | "patch" | "create" | "delete") =>
    ({ verb, resource: "deployments", namespace, ...(name === undefined ? {} : { name }) }) as const

  const read = (op: Operation, target: string | undefined, namespace: string, name: string) =>
    kubeCallOptional(op, target, request(namespace, name, "get"), () =>
      apps.readNamespacedDeployment({ name, namespace })
    )

  /** A Deployment from the namespace's watch cache (the first call lists and watches the namespace). */
  const cached = (op: Operation, target: string | undefined, namespace: string, name: string) =>
    Effect.map(kube.synced(op, target, kube.deployments(namespace)), (c) => c.get(name, namespace))

  /** The live preview of `d` (not one being deleted, not an object of the same name Sluice did not make). */
  const cachedPreview = (op: Operation, target: string | undefined, d: TargetData) =>
    Effect.map(cached(op, target, d.namespace, previewName(d.name)), (p) =>
      p !== undefined && p.metadata?.labels?.[PREVIEW_LABEL] === d.name && p.metadata.deletionTimestamp === undefined
        ? p
        : undefined
    )

  const patch = (op: Operation, target: string | undefined, namespace: string, name: string, body: object) =>
    kubeCall(op, target, request(namespace, name, "patch"), () =>
      apps.patchNamespacedDeployment({ name, namespace, fieldManager: kube.fieldManager, body }, strategicMergePatch)
    )

  /** Waits until the watch cache shows `generation` observed by the Deployment controller (no requests). */
  const observed = (op: Operation, target: string | undefined, namespace: string, name: string, generation: number) =>
    Effect.gen(function* () {
      const deadline = Date.now() + kube.observeTimeoutMs
      while (true) {
        // Absent: the watch has not delivered an object this driver just created yet.
        const dep = yield* cached(op, target, namespace, name)
        if (
          dep !== undefined &&
          (dep.metadata?.generation ?? 0) >= generation &&
          (dep.status?.observedGeneration ?? 0) >= generation
        )
          return dep
        if (Date.now() > deadline)
          return yield* transient(
            op,
            target,
            `the Deployment controller has not observed ${namespace}/${name} generation ${generation} (is kube-controller-manager running?)`
          )
        yield* Effect.sleep(50)
      }
    })

  /** Waits until the watch cache no longer holds a deleted object. */
  const gone = (op: Operation, target: string | undefined, namespace: string, name: string) =>
    Effect.gen(function* () {
      const deadline = Date.now() + kube.observeTimeoutMs
      while ((yield* cached(op, target, namespace, name)) !== undefined) {
        if (Date.now() > deadline)
          return yield* transient(op, target, `Deployment ${namespace}/${name} is still being deleted`)
        yield* Effect.sleep(50)
      }
    })

  /**
   * Replaces the whole pod template (`$patch: replace`: nothing of the old one is merged in), with
   * optimistic concurrency (a concurrent writer makes it a 409, which is transient), and waits until
   * the controller observed it.
   */
  const replaceTemplate = (
    op: Operation,
    target: string | undefined,
    dep: V1Deployment,
    template: V1PodTemplateSpec,
    annotations: Record<string, string | null>
  ) =>
    Effect.gen(function* () {
      const namespace = dep.metadata?.namespace ?? ""
      const name = dep.metadata?.name ?? ""
      const patched = yield* patch(op, target, namespace, name, {
        metadata: { resourceVersion: dep.metadata?.resourceVersion, annotations },
        spec: { template: { ...template, $patch: "replace" } }
      })
      return yield* observed(op, target, namespace, name, patched.metadata?.generation ?? 0)
    })

  /**
   * ProgressDeadlineExceeded counts only when it is about the Deployment's current template: after a
   * rollback the condition can still name the abandoned ReplicaSet until the controller sees progress.
   */
  const timedOutNow = (op: Operation, target: string | undefined, dep: V1Deployment) =>
    Effect.gen(function* () {
      const message = conditionOf(dep, "Progressing")?.message ?? ""
      const named = /ReplicaSet "([^"]+)"/.exec(message)?.[1]
      if (named === undefined) return true
      const namespace = dep.metadata?.namespace ?? ""
      const rs = yield* kubeCallOptional(
        op,
        target,
        { verb: "get", resource: "replicasets", namespace, name: named },
        () => apps.readNamespacedReplicaSet({ name: named, namespace })
      )
      if (rs === undefined || ownedBy([rs], dep.metadata?.uid ?? "").length === 0) return false
      const labels = { ...(rs.spec?.template?.metadata?.labels ?? {}) }
      delete labels[POD_TEMPLATE_HASH]
      const template = { ...rs.spec?.template, metadata: { ...rs.spec?.template?.metadata, labels } }
      return sameTemplate(template, dep.spec?.template)
    })

  const healthOf = Effect.fnUntraced(function* (
    op: Operation,
    target: string | undefined,
    dep: V1Deployment,
    what: string
  ): Effect.fn.Return<HealthReport, AdapterError> {
    const state = rolloutState(dep)
    if (state.kind === "complete") return { status: "healthy" }
    if (state.kind === "timedOut" && (yield* timedOutNow(op, target, dep)))
      return { status: "unhealthy", reason: `${what}: ${state.reason}` }
    return {
      status: "progressing",
      reason: `${what}: ${state.kind === "timedOut" ? "rolling back from an earlier timeout" : state.reason}`
    }
  })

  /** Waits (bounded) until a Deployment is available on its current template; fails if it timed out. */
  const available = (op: Operation, target: string | undefined, namespace: string, name: string) =>
    Effect.gen(function* () {
      const deadline = Date.now() + kube.observeTimeoutMs
      while (true) {
        const dep = yield* cached(op, target, namespace, name)
        if (dep === undefined) return yield* permanent(op, target, `Deployment ${namespace}/${name} was deleted`)
        const report = yield* healthOf(op, target, dep, `Deployment ${namespace}/${name}`)
        if (report.status === "healthy") return dep
        if (report.status === "unhealthy") return yield* permanent(op, target, report.reason ?? "unhealthy")
        if (Date.now() > deadline)
          return yield* transient(op, target, `still waiting: ${report.reason ?? "not available yet"}`)
        yield* Effect.sleep(100)
      }
    })

  /** Renders the artifact into the Deployment's template and creates its ConfigMap (named by content: a 409 is the same one). */
  const rendered = (op: Operation, target: Target, d: TargetData, dep: V1Deployment, artifact: Artifact) =>
    Effect.gen(function* () {
      const template = dep.spec?.template
      if (template === undefined) return yield* permanent(op, target.id, "the Deployment has no pod template")
      const out = renderTemplate(template, artifact, d)
      if (out.missing !== undefined) return yield* permanent(op, target.id, out.missing)
      // Owned by the Deployment, so the garbage collector removes it with the Deployment.
      yield* createConfigMap(kube, op, target.id, d, artifact, [
        { apiVersion: "apps/v1", kind: "Deployment", name: d.name, uid: dep.metadata?.uid ?? "" }
      ])
      return out.template
    })

  const revisionOf = (artifact: Artifact, template: V1PodTemplateSpec, mode: "replace" | "surge"): Revision => {
    const configHash = template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]
    const data: DeploymentRevisionData = { v: 1, kind: "Deployment", template, mode }
    return { image: artifact.image.raw, ...(configHash === undefined ? {} : { configHash }), data }
  }

  /** replace: the Deployment's template becomes the rendered one, once (a second call finds it done). */
  const applyReplace = (target: Target, d: TargetData, artifact: Artifact, rolloutId: string) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const dep = yield* read(op, target.id, d.namespace, d.name)
      if (dep === undefined) return yield* permanent(op, target.id, `Deployment ${d.namespace}/${d.name} not found`)
      yield* refuseOtherRollout(op, target.id, "Deployment", dep, rolloutId, `not updating it for ${rolloutId}`)
      const template = yield* rendered(op, target, d, dep, artifact)
      const done =
        dep.metadata?.annotations?.[ANNOTATION.rollout] === rolloutId && sameTemplate(dep.spec?.template, template)
      if (!done) yield* replaceTemplate(op, target.id, dep, template, { [ANNOTATION.rollout]: rolloutId })
      else yield* observed(op, target.id, d.namespace, d.name, dep.metadata?.generation ?? 0)
      return revisionOf(artifact, template, "replace")
    })

  /** surge: the preview copy runs the rendered template beside the untouched original. */
  const applySurge = (target: Target, d: TargetData, artifact: Artifact, rolloutId: string) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const dep = yield* read(op, target.id, d.namespace, d.name)
      if (dep === undefined) return yield* permanent(op, target.id, `Deployment ${d.namespace}/${d.name} not found`)
      yield* refuseOtherRollout(op, target.id, "Deployment", dep, rolloutId, `not previewing it for ${rolloutId}`)
      const template = yield* rendered(op, target, d, dep, artifact)
      const name = previewName(d.name)
      const podLabels = previewPodLabels(dep, d.name)
      if (selects(dep.spec?.selector, podLabels))
        return yield* permanent(
          op,
          target.id,
          `the selector of Deployment ${d.namespace}/${d.name} (${selectorString(dep.spec?.selector)}) would select the preview's pods; blue-green needs a selector with matchLabels, In or Exists`
        )
      const previewTemplate: V1PodTemplateSpec = {
        ...template,
        metadata: { ...template.metadata, labels: podLabels }
      }
      const annotations = { [ANNOTATION.rollout]: rolloutId, [PROMOTE_TEMPLATE_ANNOTATION]: JSON.stringify(template) }
      const existing = yield* read(op, target.id, d.namespace, name)
      if (existing !== undefined && existing.metadata?.labels?.[PREVIEW_LABEL] !== d.name)
        return yield* permanent(op, target.id, `Deployment ${d.namespace}/${name} exists and is not a Sluice preview`)
      if (existing !== undefined)
        yield* refuseOtherRollout(
          op,
          target.id,
          "Deployment",
          existing,
          rolloutId,
          `not previewing it for ${rolloutId}`
        )
      let generation: number
      if (existing === undefined) {
        const body: V1Deployment = {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: {
            name,
            namespace: d.namespace,
            labels: { [PREVIEW_LABEL]: d.name },
            annotations,
            // Deleting the original takes its preview with it.
            ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d.name, uid: dep.metadata?.uid ?? "" }]
          },
          spec: {
            replicas: dep.spec?.replicas ?? 1,
            selector: { matchLabels: { [PREVIEW_LABEL]: d.name } },
            template: previewTemplate,
            ...(dep.spec?.minReadySeconds === undefined ? {} : { minReadySeconds: dep.spec.minReadySeconds }),
            ...(dep.spec?.progressDeadlineSeconds === undefined
              ? {}
              : { progressDeadlineSeconds: dep.spec.progressDeadlineSeconds })
          }
        }
        // A 409 (created meanwhile, e.g. by a call a timeout cut short) is retried and then found.
        const created = yield* kubeCall(op, target.id, request(d.namespace, undefined, "create"), () =>
          apps.createNamespacedDeployment({ namespace: d.namespace, body, fieldManager: kube.fieldManager })
        )
        generation = created.metadata?.generation ?? 1
      } else if (
        !sameTemplate(existing.spec?.template, previewTemplate) ||
        existing.metadata?.annotations?.[PROMOTE_TEMPLATE_ANNOTATION] !== annotations[PROMOTE_TEMPLATE_ANNOTATION]
      ) {
        const patched = yield* patch(op, target.id, d.namespace, name, {
          metadata: { resourceVersion: existing.metadata?.resourceVersion, annotations },
          spec: { template: { ...previewTemplate, $patch: "replace" } }
        })
        generation = patched.metadata?.generation ?? 0
      } else generation = existing.metadata?.generation ?? 0
      yield* observed(op, target.id, d.namespace, name, generation)
      return revisionOf(artifact, template, "surge")
    })

  /** Deletes the preview (only the one that was read: a uid precondition) and waits until the cache saw it go. */
  const deletePreview = (op: Operation, target: string | undefined, preview: V1Deployment) =>
    Effect.gen(function* () {
      const namespace = preview.metadata?.namespace ?? ""
      const name = preview.metadata?.name ?? ""
      yield* kubeCallAllowing([404, 409], op, target, request(namespace, name, "delete"), () =>
        apps.deleteNamespacedDeployment({
          name,
          namespace,
          propagationPolicy: "Background",
          body: { preconditions: { uid: preview.metadata?.uid ?? "" } }
        })
      )
      yield* gone(op, target, namespace, name)
    })

  /**
   * Promotion of a previewed Deployment (idempotent): the original gets the previewed template, and
   * once it is available the preview is deleted. Returns whether there was a preview.
   */
  const promote = (op: Operation, target: string | undefined, d: TargetData) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        // The cache answers "no preview" (every target of a replace wave) without a request.
        if ((yield* cachedPreview(op, target, d)) === undefined) return false
        const preview = yield* read(op, target, d.namespace, previewName(d.name))
        if (preview === undefined || preview.metadata?.labels?.[PREVIEW_LABEL] !== d.name) return false
        const rolloutId = preview.metadata.annotations?.[ANNOTATION.rollout] ?? ""
        const json = preview.metadata.annotations?.[PROMOTE_TEMPLATE_ANNOTATION]
        if (json === undefined)
          return yield* permanent(
            op,
            target,
            `preview ${d.namespace}/${previewName(d.name)} has no template to promote`
          )
        const template = JSON.parse(json) as V1PodTemplateSpec
        const dep = yield* read(op, target, d.namespace, d.name)
        if (dep === undefined) return yield* permanent(op, target, `Deployment ${d.namespace}/${d.name} not found`)
        yield* refuseOtherRollout(op, target, "Deployment", dep, rolloutId, `not promoting it for ${rolloutId}`)
        if (!sameTemplate(dep.spec?.template, template))
          yield* replaceTemplate(op, target, dep, template, { [ANNOTATION.rollout]: rolloutId })
        yield* available(op, target, d.namespace, d.name)
        yield* deletePreview(op, target, preview)
        return true
      })
    )

  const discover = (selector: KubernetesSelector) =>
    Effect.gen(function* () {
      const _op = "discover" as const
      const found = yield* findWorkloads(workloadApi, selector)
      return found
        .filter(
          (dep) => dep.metadata?.labels?.[PREVIEW_LABEL] === undefined && dep.metadata?.deletionTimestamp === undefined
        )
        .map((dep): Target => {
          const data: TargetData = {
            v: 1,
            kind: "Deployment",
            namespace: dep.metadata?.namespace ?? "",
            name: dep.metadata?.name ?? "",
            ...(selector.container === undefined ? {} : { container: selector.container }),
            ...(selector.configVolume === undefined ? {} : { configVolume: selector.configVolume })
          }
          return {
            id: targetId(data),
            name: `${data.namespace}/${data.name}`,
            labels: { ...(dep.metadata?.labels ?? {}) },
            data
          }
        })
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    })

  const inspect: Driver["inspect"] = (target, d) =>
    Effect.gen(function* () {
      const op = "inspect" as const
      const dep =
        (yield* cached(op, target.id, d.namespace, d.name)) ?? (yield* read(op, target.id, d.namespace, d.name))
      if (dep === undefined) return yield* permanent(op, target.id, `Deployment ${d.namespace}/${d.name} not found`)
      const template = dep.spec?.template
      if (template === undefined) return yield* permanent(op, target.id, "the Deployment has no pod template")
      const configHash = template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]
      const data: DeploymentRevisionData = { v: 1, kind: "Deployment", template }
      return targetState("Deployment", target, dep, {
        containers: template.spec?.containers ?? [],
        ...(d.container === undefined ? {} : { container: d.container }),
        ...(configHash === undefined ? {} : { configHash }),
        data
      })
    })

  const render = renderPolicyView("Deployment", kube)

  const apply: Driver["apply"] = (target, d, artifact, ctx) =>
    lockOf(workloadKey(d)).withPermit(
      ctx.mode === "surge"
        ? applySurge(target, d, artifact, ctx.rolloutId)
        : applyReplace(target, d, artifact, ctx.rolloutId)
    )

  /**
   * The Deployment's health, or its preview's while it has one and the original is not driven by a
   * rollout (blue-green before the promotion: the original is untouched and runs the old version).
   */
  const health: Driver["health"] = (target, d) =>
    Effect.gen(function* () {
      const op = "health" as const
      const dep = yield* cached(op, target.id, d.namespace, d.name)
      if (dep === undefined) return { status: "unhealthy", reason: `Deployment ${d.namespace}/${d.name} was deleted` }
      if (dep.metadata?.annotations?.[ANNOTATION.rollout] === undefined) {
        const preview = yield* cachedPreview(op, target.id, d)
        if (preview !== undefined) return yield* healthOf(op, target.id, preview, "preview")
      }
      return yield* healthOf(op, target.id, dep, `Deployment ${d.namespace}/${d.name}`)
    })

  /**
   * Deletes the ConfigMaps Sluice made for these templates' config (`<name>-sluice-<hash>` in the
   * config volume) unless a Deployment of the namespace still mounts one (e.g. the restored
   * template carries the same config). Without this, every rolled-back config would stay until the
   * Deployment itself is deleted (they are owned by it). Read from the watch cache, which already
   * shows the restored template and no preview.
   */
  const removeUnusedConfig = (
    op: Operation,
    target: string,
    d: TargetData,
    templates: ReadonlyArray<V1PodTemplateSpec | undefined>
  ) =>
    Effect.gen(function* () {
      if (d.configVolume === undefined) return
      const names = new Set<string>()
      for (const t of templates) {
        const name = t?.spec?.volumes?.find((v) => v.name === d.configVolume)?.configMap?.name
        if (name?.startsWith(`${d.name}-sluice-`) === true) names.add(name)
      }
      if (names.size === 0) return
      const cache = yield* kube.synced(op, target, kube.deployments(d.namespace))
      for (const dep of cache.list(d.namespace))
        for (const v of dep.spec?.template.spec?.volumes ?? []) names.delete(v.configMap?.name ?? "")
      for (const name of names)
        yield* kubeCallAllowing(
          [404],
          op,
          target,
          { verb: "delete", resource: "configmaps", namespace: d.namespace, name },
          () => core.deleteNamespacedConfigMap({ name, namespace: d.namespace })
        )
    })

  const rollback: Driver["rollback"] = (target, d, revision, ctx) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const op = "rollback" as const
        const rolloutId = ctx?.rolloutId ?? ""
        const preview = yield* read(op, target.id, d.namespace, previewName(d.name))
        if (preview !== undefined && preview.metadata?.labels?.[PREVIEW_LABEL] === d.name) {
          yield* refuseOtherRollout(
            op,
            target.id,
            "Deployment",
            preview,
            rolloutId,
            `not rolling back it for ${rolloutId}`
          )
          yield* deletePreview(op, target.id, preview)
        }
        const dep = yield* read(op, target.id, d.namespace, d.name)
        if (dep === undefined) return yield* permanent(op, target.id, `Deployment ${d.namespace}/${d.name} not found`)
        yield* refuseOtherRollout(op, target.id, "Deployment", dep, rolloutId, `not rolling back it for ${rolloutId}`)
        if (!isDeploymentRevision(revision.data))
          return yield* permanent(op, target.id, "no previous pod template recorded for this Deployment")
        if (!sameTemplate(dep.spec?.template, revision.data.template))
          yield* replaceTemplate(op, target.id, dep, revision.data.template, {})
        // The rolled-back version's config: what the template ran just now, what the preview ran,
        // what this rollout applied (known from the journal also after a resume, when the template
        // may already be restored).
        const applied = ctx?.applied?.data
        yield* removeUnusedConfig(op, target.id, d, [
          dep.spec?.template,
          preview?.spec?.template,
          isDeploymentRevision(applied) ? applied.template : undefined
        ])
      })
    )

  /** Blue-green: promotes every previewed Deployment (their promote wave is done). */
  const finalize: Driver["finalize"] = (pairs) =>
    Effect.forEach(pairs, ([target, d]) => promote("finalize", target.id, d), {
      concurrency: 16,
      discard: true
    })

  /**
   * Per Deployment: a completed rollout finishes a promotion `finalize` left undone; any other
   * outcome removes a preview whose target is not (or no longer) on the new version and leaves, with
   * a note, one that is; the rollout's annotation comes off the original.
   */
  const conclude: Driver["conclude"] = (ctx, workloads) =>
    Effect.gen(function* () {
      const op = "conclude" as const
      const notes: Array<string> = []
      const updated = new Set(ctx.updated)
      for (const d of workloads) {
        const where = `Deployment ${d.namespace}/${d.name}`
        const preview = yield* read(op, undefined, d.namespace, previewName(d.name))
        if (
          preview !== undefined &&
          preview.metadata?.labels?.[PREVIEW_LABEL] === d.name &&
          preview.metadata.annotations?.[ANNOTATION.rollout] === ctx.rolloutId
        ) {
          if (ctx.outcome === "completed") {
            const result = yield* Effect.result(promote(op, undefined, d))
            if (result._tag === "Failure")
              notes.push(
                `${where}: promotion not finished (${result.failure.message}); preview ${previewName(d.name)} kept, \`sluice resume ${ctx.rolloutId}\` finishes it`
              )
            else if (result.success) notes.push(`${where}: promoted, preview ${previewName(d.name)} removed`)
          } else if (!updated.has(targetId(d))) {
            yield* lockOf(workloadKey(d)).withPermit(deletePreview(op, undefined, preview))
            notes.push(`${where}: preview ${previewName(d.name)} removed (outcome ${ctx.outcome})`)
          } else {
            notes.push(
              `${where}: preview ${previewName(d.name)} left running beside the original (outcome ${ctx.outcome}); \`sluice rollback ${ctx.rolloutId}\` removes it`
            )
          }
        }
        const dep = yield* read(op, undefined, d.namespace, d.name)
        if (dep === undefined) {
          notes.push(`${where} no longer exists`)
          continue
        }
        if (dep.metadata?.annotations?.[ANNOTATION.rollout] === ctx.rolloutId)
          yield* patch(op, undefined, d.namespace, d.name, {
            metadata: { resourceVersion: dep.metadata.resourceVersion, annotations: { [ANNOTATION.rollout]: null } }
          })
      }
      return notes
    })

  return {
    discover,
    workloads: (selector: KubernetesSelector) => findWorkloads(workloadApi, selector),
    inspect,
    render,
    apply,
    health,
    rollback,
    finalize,
    conclude
  }
}
