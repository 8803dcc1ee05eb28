import { Effect } from "effect"
import type { Driver } from "./driver.js"
import { permanent } from "./errors.js"
import type { Kube } from "./kube.js"

// Placeholder while the Deployment driver is written: every call fails permanently, naming what is missing.
export const makeDeploymentDriver = (_kube: Kube): Driver => {
  const missing = () => permanent("discover", undefined, "Deployment rollouts are not implemented yet")
  return {
    discover: () => Effect.fail(missing()),
    inspect: () => Effect.fail(missing()),
    render: () => Effect.fail(missing()),
    apply: () => Effect.fail(missing()),
    health: () => Effect.fail(missing()),
    rollback: () => Effect.fail(missing()),
    finalize: () => Effect.void,
    conclude: () => Effect.succeed([])
  }
}
