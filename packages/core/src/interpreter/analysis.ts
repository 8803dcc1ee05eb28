import { Effect } from "effect"
import type { MetricsProvider } from "../adapter/MetricsProvider.js"
import type { MachineEvent } from "../machine/types.js"
import { evaluateSuccessCondition, parseSuccessCondition } from "../spec/SuccessCondition.js"
import type { RolloutHeader } from "../store/RolloutStore.js"
import type { Emitter } from "./emitter.js"

/**
 * The analysis gate after a wave: each named analysis queries its metric `count` times,
 * `intervalMs` apart, and every result must satisfy its condition. Fails closed: an unknown
 * analysis, no metrics provider, a query error or an unparsable condition fails the wave.
 */
export const makeAnalysis = (deps: {
  readonly header: RolloutHeader
  readonly metrics: MetricsProvider["Service"] | undefined
  readonly events: Emitter
  readonly send: (event: MachineEvent) => Effect.Effect<void>
}) => {
  const { header, metrics, events, send } = deps
  const { config, rolloutId } = header
  return Effect.fn("Analysis.run")(function* (wave: number, names: ReadonlyArray<string>) {
    for (const name of names) {
      const analysis = config.gates.analysis.find((a) => a.name === name)
      const fail = (reason: string) =>
        events
          .emit({
            type: "gateDecided",
            gate: "analysis",
            wave,
            allow: false,
            violations: [{ targetId: "*", rule: `analysis/${name}`, message: reason }],
            warnings: []
          })
          .pipe(Effect.andThen(send({ type: "ANALYSIS_FAILED", wave, reason })))
      if (analysis === undefined) return yield* fail(`analysis "${name}" is not defined in spec.gates.analysis`)
      if (metrics === undefined)
        return yield* fail(`analysis "${name}" needs a metrics provider and none is configured (fail closed)`)
      // Decoded by the spec (one grammar); a header written before that carries only the text.
      const condition = analysis.condition ?? parseSuccessCondition(analysis.successCondition)
      if (condition === undefined)
        return yield* fail(`analysis "${name}": cannot parse successCondition "${analysis.successCondition}"`)
      for (let i = 0; i < analysis.count; i++) {
        if (i > 0) yield* Effect.sleep(analysis.intervalMs)
        const value = yield* metrics
          .query(analysis, { rolloutId, wave, targets: header.machineInput.waves[wave]?.targets ?? [] })
          .pipe(
            Effect.map((v) => ({ ok: true as const, v })),
            Effect.catch((e) => Effect.succeed({ ok: false as const, message: e.message }))
          )
        if (!value.ok) return yield* fail(`analysis "${name}" query failed: ${value.message}`)
        if (!evaluateSuccessCondition(condition, value.v))
          return yield* fail(`analysis "${name}": result ${value.v} does not satisfy ${analysis.successCondition}`)
      }
      yield* events.emit({
        type: "gateDecided",
        gate: "analysis",
        wave,
        allow: true,
        violations: [],
        warnings: []
      })
    }
    yield* send({ type: "ANALYSIS_PASSED", wave })
  })
}
