import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { UserError } from "./errors.js"

/**
 * Compiling a folder of Rego into the OPA Wasm bundle Sluice loads (`opa build -t wasm -e
 * sluice/decision`), with the built-in `sluice/decision` entrypoint and helper library added, so
 * a policy author writes only `package sluice.policies.<name>` files with `deny`/`warn` rules.
 */

const here = path.dirname(fileURLToPath(import.meta.url))

/** `$SLUICE_OPA`, else the opa `npm run setup` builds into the clone's .tools/bin, else `opa` on PATH. */
export const opaBinary = (env: NodeJS.ProcessEnv): string => {
  if (env.SLUICE_OPA !== undefined && env.SLUICE_OPA !== "") return env.SLUICE_OPA
  const tools = path.resolve(here, "..", "..", "..", ".tools", "bin", "opa")
  return fs.existsSync(tools) ? tools : "opa"
}

/** Whether a directory holds Rego sources (here or one level down) and no compiled policy.wasm. */
export const isRegoFolder = (dir: string): boolean => {
  try {
    if (!fs.statSync(dir).isDirectory() || fs.existsSync(path.join(dir, "policy.wasm"))) return false
    return fs.readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith(".rego"))
  } catch {
    return false
  }
}

/** The built-in policy sources: decision.rego and lib/ (present in a clone of the repository). */
const builtinSources = async () => {
  const { builtinBundleDir } = await import("@sluice/policies")
  return path.resolve(builtinBundleDir, "..", "policies")
}

const declaresDecision = (dir: string) =>
  fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => String(f).endsWith(".rego"))
    .some((f) => /^package sluice\s*$/m.test(fs.readFileSync(path.join(dir, String(f)), "utf8")))

/**
 * Copies `dir` into `work` as the tree opa builds: the author's files under `policies/`, and the
 * built-in decision entrypoint and library under `sluice/` unless the folder declares its own
 * `package sluice`. Coverage loads the same tree, so it measures what the bundle is built from.
 */
export const prepareRegoTree = async (
  dir: string,
  work: string
): Promise<{
  readonly tree: string
  readonly authored: string
  readonly files: number
  readonly addedDecision: boolean
}> => {
  const sources = fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".rego"))
  if (sources.length === 0) throw new UserError({ message: `no .rego file in ${dir}` })
  const tree = path.join(work, "src")
  const authored = path.join(tree, "policies")
  fs.cpSync(dir, authored, { recursive: true })
  const addedDecision = !declaresDecision(dir)
  if (addedDecision) {
    const builtin = await builtinSources()
    if (!fs.existsSync(path.join(builtin, "decision.rego")))
      throw new UserError({
        message: `the built-in decision.rego is not at ${builtin}; add a \`package sluice\` decision`
      })
    fs.mkdirSync(path.join(tree, "sluice", "lib"), { recursive: true })
    fs.copyFileSync(path.join(builtin, "decision.rego"), path.join(tree, "sluice", "decision.rego"))
    for (const f of fs.readdirSync(path.join(builtin, "lib")))
      if (f.endsWith(".rego") && !f.endsWith("_test.rego"))
        fs.copyFileSync(path.join(builtin, "lib", f), path.join(tree, "sluice", "lib", f))
  }
  return { tree, authored, files: sources.length, addedDecision }
}

/**
 * Compiles `dir` into the bundle `out` (a .tar.gz). A compile error is returned (opa's first
 * message, one line), since mutation testing counts it as an invalid mutant; opa that cannot run
 * at all throws (no mutant, and no build, can be judged without it).
 */
export const compileRego = async (
  dir: string,
  out: string,
  env: NodeJS.ProcessEnv
): Promise<
  | { readonly ok: true; readonly files: number; readonly addedDecision: boolean }
  | { readonly ok: false; readonly message: string }
> => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-policy-build-"))
  try {
    const { tree, files, addedDecision } = await prepareRegoTree(dir, work)
    const opa = opaBinary(env)
    const args = ["build", "-t", "wasm", "-e", "sluice/decision", "--ignore", "*_test.rego", "-o", out, tree]
    const compileError = await new Promise<string | undefined>((resolve, reject) => {
      execFile(opa, args, { cwd: work, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error === null) return resolve(undefined)
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
          return reject(
            new UserError({
              message: `cannot build ${dir}: no opa at ${opa} (npm run setup builds it into .tools/bin; or set SLUICE_OPA)`
            })
          )
        // opa prints its errors (on stdout or stderr) as "error: load error: 1 error occurred …: <file>:<line>: <what>".
        const first = `${stderr}\n${stdout}`
          .split("\n")
          .map((l) => l.trim().replace(/^(error: )?(load error: )?(\d+ errors? occurred( during loading)?:? ?)?/, ""))
          .find((l) => l !== "")
        resolve(
          `cannot build ${dir}: ${(first ?? "opa build failed").replaceAll(`${tree}/policies`, dir).replaceAll("src/policies", dir)}`
        )
      })
    })
    return compileError === undefined ? { ok: true, files, addedDecision } : { ok: false, message: compileError }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/**
 * Builds `dir` into the bundle `out` (a .tar.gz). Fails with one line: the first error opa
 * reports, or why opa could not run.
 */
export const buildRegoBundle = async (
  dir: string,
  out: string,
  env: NodeJS.ProcessEnv
): Promise<{ readonly files: number; readonly addedDecision: boolean }> => {
  const built = await compileRego(dir, out, env)
  if (!built.ok) throw new UserError({ message: built.message })
  return { files: built.files, addedDecision: built.addedDecision }
}
