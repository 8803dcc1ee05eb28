import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { readTarGz as readTarGzResult } from "../../src/index.js"
import { bundle } from "../helpers.js"

// > 100 characters in total (beyond a plain tar name field), in segments ustar can split.
const longDir = `${"a-long-directory-name-0123456789/".repeat(4)}x`

const readTarGz = (bytes: Uint8Array) => {
  const r = readTarGzResult(bytes)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const failureOf = (bytes: Uint8Array) => {
  const r = readTarGzResult(bytes)
  return Result.isFailure(r) ? r.failure.message : "no failure"
}

const makeTree = () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-tar-"))
  mkdirSync(join(dir, "src", longDir), { recursive: true })
  writeFileSync(join(dir, "src", "data.json"), '{"a":1}')
  writeFileSync(join(dir, "src", longDir, "data.json"), '{"b":2}')
  writeFileSync(join(dir, "src", "big.bin"), Buffer.alloc(1500, 7))
  return dir
}

describe("readTarGz", () => {
  it("reads an opa-built bundle (leading slashes stripped)", () => {
    const files = readTarGz(new Uint8Array(readFileSync(bundle("basic.tar.gz"))))
    expect([...files.keys()].sort()).toEqual([".manifest", "basic.rego", "data.json", "policy.wasm"])
    expect(JSON.parse(new TextDecoder().decode(files.get(".manifest")))).toMatchObject({ revision: "basic-rev-1" })
  })

  it.each(["gnu", "pax", "ustar"])("reads %s archives with long names and multi-block files", (format) => {
    const dir = makeTree()
    const out = join(dir, `b-${format}.tar.gz`)
    execFileSync("tar", [`--format=${format}`, "-czf", out, "-C", join(dir, "src"), "."])
    const files = readTarGz(new Uint8Array(readFileSync(out)))
    expect(new TextDecoder().decode(files.get(`${longDir}/data.json`))).toBe('{"b":2}')
    expect(new TextDecoder().decode(files.get("data.json"))).toBe('{"a":1}')
    expect(files.get("big.bin")).toEqual(new Uint8Array(1500).fill(7))
  })

  it("rejects a corrupted header", () => {
    const dir = makeTree()
    const out = join(dir, "b.tar")
    execFileSync("tar", ["-cf", out, "-C", join(dir, "src"), "data.json"])
    const bytes = new Uint8Array(readFileSync(out))
    bytes[0] = (bytes[0] ?? 0) ^ 0xff
    expect(failureOf(bytes)).toMatch(/checksum/)
  })

  it("rejects a truncated archive", () => {
    const dir = makeTree()
    const out = join(dir, "b.tar")
    execFileSync("tar", ["-cf", out, "-C", join(dir, "src"), "big.bin"])
    expect(failureOf(new Uint8Array(readFileSync(out)).subarray(0, 1024))).toMatch(/Truncated/)
  })

  it("rejects a damaged gzip stream, as data", () => {
    const dir = makeTree()
    const out = join(dir, "b.tar.gz")
    execFileSync("tar", ["-czf", out, "-C", join(dir, "src"), "big.bin"])
    expect(failureOf(new Uint8Array(readFileSync(out)).subarray(0, 30))).toMatch(/^gzip: /)
  })
})
