export * from "./Interpreter.js"
export * from "./outstanding.js"
export * from "./RolloutConfig.js"
