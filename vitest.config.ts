import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources through the "@sluice/source" export
// condition, so tests never run against stale dist/ output.
const source = { conditions: ["@sluice/source"] }

export default defineConfig({
  resolve: source,
  test: {
    projects: [
      "packages/core",
      "packages/policies",
      "packages/adapters-docker",
      "packages/adapters-k8s",
      "examples/cli",
      "examples/embed",
      "tests/packaging"
    ]
  }
})
