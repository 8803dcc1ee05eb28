// Writes docs/spec-reference.md from the Rollout schema (packages/core/src/spec/reference.ts, built).
// `npm run docs:spec`; a test fails when the committed file differs from what this writes.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { renderSpecReference } from "../packages/core/dist/spec/reference.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const file = path.join(root, "docs", "spec-reference.md")
fs.mkdirSync(path.dirname(file), { recursive: true })
fs.writeFileSync(file, renderSpecReference())
console.log(`wrote ${path.relative(root, file)}`)
