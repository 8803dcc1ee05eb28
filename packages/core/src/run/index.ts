export * from "./fromSpec.js"
export * from "./rollback.js"
