import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "packaging",
    include: ["**/*.test.ts"],
    testTimeout: 60_000
  }
})
