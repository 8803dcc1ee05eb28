import * as fs from "node:fs"
import { describe, expect, it } from "vitest"

/** The ```ts block of the README's "Embed it in your control plane" section. */
const readmeEmbedExample = (readme: string): string => {
  const section = readme.indexOf("\n## Embed it in your control plane\n")
  if (section < 0) throw new Error('README.md has no "## Embed it in your control plane" section')
  const start = readme.indexOf("\n```ts\n", section)
  const next = readme.indexOf("\n## ", section + 1)
  if (start < 0 || (next >= 0 && start > next)) throw new Error("the embed section of README.md has no ```ts block")
  const end = readme.indexOf("\n```\n", start + 1)
  return readme.slice(start + "\n```ts\n".length, end + 1)
}

describe("the README's embedding example", () => {
  it("is exactly examples/embed/src/main.ts (the program the packed-install test type-checks and runs)", () => {
    const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8")
    const main = fs.readFileSync(new URL("../src/main.ts", import.meta.url), "utf8")
    expect(readmeEmbedExample(readme)).toBe(main)
  })
})
