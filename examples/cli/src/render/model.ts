import {
  type DeniedTarget,
  type GateViolation,
  progressOf,
  type RolloutContext,
  type RolloutEvent,
  type RolloutHeader
} from "@sluice/core"

export interface ZoneCounts {
  total: number
  updated: number
  inFlight: number
  failed: number
  rolledBack: number
}

export type Phase =
  | "starting"
  | "gating"
  | "applying"
  | "healthy"
  | "paused"
  | "held"
  | "awaitingApproval"
  | "rollingBack"
  | "finished"

/**
 * What the progress views show, folded from the event stream (and, after a resume, seeded from the
 * journal's snapshot so the counts include what the crashed process did).
 */
export class ProgressModel {
  readonly startedAt = Date.now()
  header: RolloutHeader | undefined
  image = ""
  adapter = ""
  resumed = false
  rollbackRun = false
  totalTargets = 0
  upToDate = 0
  waves: ReadonlyArray<{ readonly index: number; readonly kind: string; readonly size: number }> = []
  wave = -1
  waveTargets = 0
  phase: Phase = "starting"
  pauseReason: "operator" | "step" | undefined
  readonly updated = new Set<string>()
  readonly inFlight = new Set<string>()
  readonly failed = new Map<string, string>()
  readonly rolledBack = new Set<string>()
  readonly rollbackFailed = new Map<string, string>()
  readonly touched = new Set<string>()
  rollbackTotal = 0
  rollbackReason: string | undefined
  /** Targets still in flight (not healthy) when the rollback started: the ones that failed the wave. */
  notHealthy: ReadonlyArray<string> = []
  /** The last reason a target was reported not healthy (cleared when it turns healthy). */
  readonly unhealthyReason = new Map<string, string>()
  retries = 0
  lastRetry: string | undefined
  readonly violations: GateViolation[] = []
  readonly warnings: GateViolation[] = []
  finished: Extract<RolloutEvent, { type: "finished" }> | undefined
  topologyKey: string | undefined
  private readonly zoneOf = new Map<string, string>()

  setHeader(header: RolloutHeader) {
    this.header = header
    this.rollbackRun = header.machineInput.mode === "rollback"
    this.topologyKey = header.plan.topologyKey
    const key = header.plan.topologyKey
    for (const t of header.plan.targets) this.zoneOf.set(t.id, key === undefined ? "all" : (t.labels[key] ?? "-"))
    if (this.rollbackRun) this.rollbackTotal = header.machineInput.rollbackTargets?.length ?? 0
  }

  /** After a resume: what the journal says happened before this process. */
  seed(context: RolloutContext) {
    const progress = progressOf(context)
    for (const id of progress.updated) this.updated.add(id)
    for (const id of progress.touched) this.touched.add(id)
    for (const id of progress.rolledBack) this.rolledBack.add(id)
    for (const id of progress.rollbackFailed) this.rollbackFailed.set(id, "")
    this.wave = context.waveIndex
    if (context.rollbackOrder.length > 0) {
      this.phase = "rollingBack"
      this.rollbackTotal = context.rollbackOrder.length
    }
  }

  zone(id: string) {
    return this.zoneOf.get(id) ?? "all"
  }

  /** Per topology value: totals from the plan, counts from the events. */
  zones(): Array<[string, ZoneCounts]> {
    const out = new Map<string, ZoneCounts>()
    const get = (z: string) => {
      let c = out.get(z)
      if (c === undefined) {
        c = { total: 0, updated: 0, inFlight: 0, failed: 0, rolledBack: 0 }
        out.set(z, c)
      }
      return c
    }
    const planned = this.header?.plan.waves.flatMap((w) => w.targets) ?? []
    const ids = this.rollbackRun ? (this.header?.machineInput.rollbackTargets ?? []) : planned
    for (const id of ids) get(this.zone(id)).total++
    for (const id of this.updated) get(this.zone(id)).updated++
    for (const id of this.inFlight) get(this.zone(id)).inFlight++
    for (const id of this.failed.keys()) get(this.zone(id)).failed++
    for (const id of this.rolledBack) get(this.zone(id)).rolledBack++
    return [...out.entries()].sort(([a], [b]) => a.localeCompare(b))
  }

  apply(e: RolloutEvent) {
    switch (e.type) {
      case "rolloutStarted":
        this.image = e.image
        this.adapter = e.adapter
        this.resumed = e.resumed
        this.totalTargets = e.targets
        this.upToDate = e.upToDate
        this.waves = e.waves
        if (this.phase === "starting") this.phase = this.rollbackRun ? "rollingBack" : "gating"
        break
      case "gateDecided":
        if (!e.allow) this.violations.push(...e.violations)
        this.warnings.push(...e.warnings)
        break
      case "waveStarted":
        this.wave = e.wave
        this.waveTargets = e.targets
        this.phase = "applying"
        break
      case "targetUpdating":
        this.inFlight.add(e.targetId)
        this.touched.add(e.targetId)
        break
      case "healthChanged":
        if (e.status === "healthy") this.unhealthyReason.delete(e.targetId)
        else if (e.reason !== undefined) this.unhealthyReason.set(e.targetId, e.reason)
        if (e.wave >= 0 && e.status === "healthy" && this.inFlight.has(e.targetId)) {
          this.inFlight.delete(e.targetId)
          this.updated.add(e.targetId)
        } else if (e.wave >= 0 && e.status !== "healthy" && this.updated.has(e.targetId)) {
          // Healthy, then not, before minReady: back in flight.
          this.updated.delete(e.targetId)
          this.inFlight.add(e.targetId)
        }
        break
      case "targetFailed":
        this.inFlight.delete(e.targetId)
        this.updated.delete(e.targetId)
        this.failed.set(e.targetId, e.reason)
        break
      case "waveHealthy": {
        const targets = this.header?.plan.waves[e.wave]?.targets ?? []
        for (const id of targets) {
          this.updated.add(id)
          this.inFlight.delete(id)
        }
        this.phase = "healthy"
        break
      }
      case "awaitingApproval":
        this.wave = e.wave
        this.phase = "awaitingApproval"
        break
      case "paused":
        this.phase = e.reason === "operator" ? "held" : "paused"
        this.pauseReason = e.reason
        break
      case "resumed":
        this.phase = "applying"
        this.pauseReason = undefined
        break
      case "rollbackStarted":
        this.phase = "rollingBack"
        this.rollbackReason = e.reason
        this.rollbackTotal = e.targets
        this.notHealthy = [...this.inFlight].sort()
        this.inFlight.clear()
        break
      case "targetRolledBack":
        if (e.ok) {
          this.rolledBack.add(e.targetId)
          this.updated.delete(e.targetId)
        } else this.rollbackFailed.set(e.targetId, e.reason ?? "")
        break
      case "retrying":
        this.retries++
        this.lastRetry = `${e.operation}${e.targetId === undefined ? "" : ` ${e.targetId}`}: ${e.message}`
        break
      case "finished":
        this.finished = e
        this.phase = "finished"
        this.inFlight.clear()
        break
      default:
        break
    }
  }

  violationsAsDenied(): DeniedTarget[] {
    return this.violations.map((v) => ({
      targetId: v.targetId,
      rule: v.rule,
      message: v.message,
      ...(v.container === undefined ? {} : { container: v.container })
    }))
  }
}
