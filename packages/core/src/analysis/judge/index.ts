export * from "./judge.js"
export * from "./mannWhitney.js"
