export * from "./rolloutMachine.js"
export * from "./types.js"
export { initialContext } from "./steps.js"
