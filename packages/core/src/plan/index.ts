export * from "./canonicalJson.js"
export * from "./format.js"
export * from "./Plan.js"
export * from "./planWaves.js"
