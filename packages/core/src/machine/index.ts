export * from "./rolloutMachine.js"
export * from "./types.js"
export { initialContext } from "./steps.js"
export { Flag, StatusVector } from "./status.js"
export {
  countsOf,
  persistContext,
  progressOf,
  restoreContext,
  type RolloutProgress,
  targetFlags
} from "./progress.js"
