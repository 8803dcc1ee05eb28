import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { parse } from "yaml"

export const fixture = (path: string): string => fileURLToPath(new URL(`./fixtures/${path}`, import.meta.url))

/** Reads a JSON or YAML fixture. */
export const loadFixture = (path: string): unknown => {
  const text = readFileSync(fixture(path), "utf8")
  return path.endsWith(".json") ? JSON.parse(text) : parse(text)
}

export const bundle = (name: string): string => fixture(`bundles/${name}`)

export const getOrThrow = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}

export const getFailure = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error(`expected failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}
