// `@sluice/core/testing`: the simulated fleet (seeded, latency distributions, topology labels,
// fault injection, crash simulation). Every public name is listed here.
export {
  type Faults,
  type Latency,
  makeSimulatedFleet,
  type SimTarget,
  type SimTargetState,
  type SimulatedFleet,
  type SimulatedFleetOptions,
  SimulatedFleetSelector,
  simTargetState,
  type VersionBehaviour,
  type VersionProfile
} from "./SimulatedFleet.js"
