import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { readTar, writeTar } from "../../src/util/tar.js"

// > 100 characters in total (beyond a plain tar name field), in segments ustar can split.
const longDir = `${"a-long-directory-name-0123456789/".repeat(4)}x`
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b)

const makeTree = () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-core-tar-"))
  mkdirSync(join(dir, "src", longDir), { recursive: true })
  writeFileSync(join(dir, "src", "data.json"), '{"a":1}')
  writeFileSync(join(dir, "src", longDir, "data.json"), '{"b":2}')
  writeFileSync(join(dir, "src", "big.bin"), Buffer.alloc(1500, 7))
  return dir
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}

describe("readTar", () => {
  it.each(["gnu", "pax", "ustar"])("reads %s archives written by tar: long names, multi-block files", (format) => {
    const dir = makeTree()
    const out = join(dir, `t-${format}.tar`)
    execFileSync("tar", [`--format=${format}`, "-cf", out, "-C", join(dir, "src"), "."])
    const files = ok(readTar(new Uint8Array(readFileSync(out))))
    expect(text(files.get(`./${longDir}/data.json`)?.content)).toBe('{"b":2}')
    expect(text(files.get("./data.json")?.content)).toBe('{"a":1}')
    expect(files.get("./big.bin")?.content).toEqual(new Uint8Array(1500).fill(7))
    // directories are not files
    expect([...files.keys()].every((p) => !p.endsWith("/"))).toBe(true)
  })

  it("a corrupted header is an InvalidHeader error, as data", () => {
    const dir = makeTree()
    const out = join(dir, "t.tar")
    execFileSync("tar", ["-cf", out, "-C", join(dir, "src"), "data.json"])
    const bytes = new Uint8Array(readFileSync(out))
    bytes[0] = (bytes[0] ?? 0) ^ 0xff
    const r = readTar(bytes)
    expect(Result.isFailure(r) && r.failure.kind).toBe("InvalidHeader")
    expect(Result.isFailure(r) && r.failure.message).toMatch(/checksum/)
  })

  it("a truncated archive is a Truncated error", () => {
    const dir = makeTree()
    const out = join(dir, "t.tar")
    execFileSync("tar", ["-cf", out, "-C", join(dir, "src"), "big.bin"])
    const r = readTar(new Uint8Array(readFileSync(out)).subarray(0, 1024))
    expect(Result.isFailure(r) && r.failure.kind).toBe("Truncated")
  })
})

describe("writeTar", () => {
  it("round-trips contents, modes and owners, long and non-ASCII paths", () => {
    const long = `/etc/${"deep/".repeat(40)}agent.yaml`
    const archive = ok(
      writeTar([
        { path: "/etc/agent/agent.yaml", content: "a: 1\n", mode: 0o600, uid: 1000, gid: 1001 },
        { path: long, content: new Uint8Array(700).fill(1) },
        { path: "/etc/ünïcode.conf", content: "x" }
      ])
    )
    expect(archive.length % 512).toBe(0)
    const files = ok(readTar(archive))
    expect(files.get("/etc/agent/agent.yaml")).toMatchObject({ mode: 0o600, uid: 1000, gid: 1001 })
    expect(text(files.get("/etc/agent/agent.yaml")?.content)).toBe("a: 1\n")
    expect(files.get(long)?.content).toEqual(new Uint8Array(700).fill(1))
    expect(files.get(long)).toMatchObject({ mode: 0o644, uid: 0, gid: 0 })
    expect(text(files.get("/etc/ünïcode.conf")?.content)).toBe("x")
  })

  it("writes archives tar reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-core-tar-"))
    const out = join(dir, "w.tar")
    writeFileSync(out, ok(writeTar([{ path: "a/b.txt", content: "hello" }])))
    expect(execFileSync("tar", ["-xOf", out, "a/b.txt"]).toString()).toBe("hello")
  })
})
