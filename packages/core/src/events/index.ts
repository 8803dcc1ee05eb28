export * from "./RolloutEvent.js"
