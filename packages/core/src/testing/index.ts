export * from "./prng.js"
export * from "./SimulatedFleet.js"
