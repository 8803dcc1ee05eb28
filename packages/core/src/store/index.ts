export * from "./FileStore.js"
export * from "./MemoryStore.js"
export * from "./RolloutStore.js"
