/**
 * The packages as an embedder gets them: `npm pack` each @sluice/* package, install the tarballs
 * into a fresh project on Node 22 (the npm package `node@22`) beside ANOTHER Effect 4 minor than
 * the workspace's (the lowest release every package's `effect` peer range allows whose minor
 * differs; any @effect/* peer at the matching release), then type-check the README's embedding
 * example with tsc and run it.
 *
 * Needs npm and the npm registry (or its mirror). Without them it skips with a loud notice, and
 * fails under CI=true.
 */
import { type SpawnSyncOptions, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const packages = ["core", "policies", "adapters-docker", "adapters-k8s"] as const
const inCI = process.env.CI === "true"

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly output: string
}

// The nested npm must not see the workspace's npm lifecycle (npm_package_*, the workspace prefix).
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^npm_(package|lifecycle)_/i.test(k) && !/^npm_config_(local_prefix|workspaces?|prefix)$/i.test(k)
    )
  )

const run = (cmd: string, args: ReadonlyArray<string>, options: SpawnSyncOptions = {}): Run => {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: cleanEnv(), maxBuffer: 64 << 20, ...options })
  const stdout = String(r.stdout ?? "")
  const stderr = String(r.stderr ?? "") + (r.error ? `\n${r.error.message}` : "")
  return { status: r.status, stdout, stderr, output: `$ ${cmd} ${args.join(" ")}\n${stdout}\n${stderr}` }
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"))

/** The ```ts block of the README's "Embed it in your control plane" section, exactly as shown. */
const readmeEmbedExample = (): string => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const section = readme.indexOf("\n## Embed it in your control plane\n")
  const start = readme.indexOf("\n```ts\n", section)
  const next = readme.indexOf("\n## ", section + 1)
  if (section < 0 || start < 0 || (next >= 0 && start > next))
    throw new Error('README.md: no ```ts block in "## Embed it in your control plane"')
  return readme.slice(start + "\n```ts\n".length, readme.indexOf("\n```\n", start + 1) + 1)
}

type Version = readonly [number, number, number]
const parseVersion = (v: string): Version | undefined => {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined
}
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]
/** `^X.Y.Z` (the only range form the packages use for effect and its packages); anything else is an error here. */
const satisfiesCaret = (range: string, v: Version) => {
  const floor = parseVersion(range.replace(/^\^/, ""))
  if (!range.startsWith("^") || floor === undefined) throw new Error(`unsupported peer range: ${range}`)
  return compare(v, floor) >= 0 && v[0] === floor[0] && (floor[0] > 0 || v[1] === floor[1])
}

// Prerequisites: npm, and a registry that answers.
const registry = run("npm", ["view", "effect", "versions", "--json"], { cwd: os.tmpdir(), timeout: 120_000 })
const missing =
  registry.status === 0 ? undefined : `npm or the npm registry is not available:\n${registry.output.slice(0, 2000)}`
if (missing !== undefined) {
  if (inCI) throw new Error(`CI=true and ${missing}`)
  console.warn(`\n!!! SKIPPING the packed-install test: ${missing}\n`)
}

describe.skipIf(missing !== undefined)("the packages as published", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-packed-"))
  const tarballs = path.join(work, "tarballs")
  const app = path.join(work, "app")
  const workspaceEffect = readJson(path.join(root, "node_modules/effect/package.json")).version as string
  let effectVersion = ""
  let packed: ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }> = []
  let install: Run | undefined

  beforeAll(() => {
    // The tarballs hold dist/: build it first (a no-op when `npm test`'s typecheck just did).
    const build = run(path.join(root, "node_modules/.bin/tsc"), ["-b", ...packages.map((p) => `packages/${p}`)], {
      cwd: root
    })
    if (build.status !== 0) throw new Error(`tsc -b of the packages failed:\n${build.output}`)
    fs.mkdirSync(tarballs, { recursive: true })
    const pack = run(
      "npm",
      [
        "pack",
        "--json",
        "--ignore-scripts",
        "--pack-destination",
        tarballs,
        ...packages.flatMap((p) => ["-w", `packages/${p}`])
      ],
      { cwd: root, timeout: 300_000 }
    )
    if (pack.status !== 0) throw new Error(`npm pack failed:\n${pack.output}`)
    packed = JSON.parse(pack.stdout)

    // Another Effect 4 minor than the workspace's: the lowest stable release that every package's
    // peer range allows, among those whose major.minor differs from the workspace's.
    const ranges = packages.map(
      (p) => readJson(path.join(root, "packages", p, "package.json")).peerDependencies?.effect
    )
    const workspace = parseVersion(workspaceEffect)!
    const candidates = (JSON.parse(registry.stdout) as string[])
      .map((v) => [v, parseVersion(v)] as const)
      .filter((x): x is readonly [string, Version] => x[1] !== undefined)
      .filter(([, v]) => v[0] !== workspace[0] || v[1] !== workspace[1])
      .filter(([, v]) => ranges.every((r) => typeof r === "string" && satisfiesCaret(r, v)))
      .sort((a, b) => compare(a[1], b[1]))
    if (candidates.length === 0)
      throw new Error(`no released effect outside ${workspaceEffect}'s minor satisfies the peer ranges ${ranges}`)
    effectVersion = candidates[0]![0]

    fs.mkdirSync(app, { recursive: true })
    fs.writeFileSync(
      path.join(app, "package.json"),
      `${JSON.stringify({ name: "sluice-consumer", private: true, type: "module" }, null, 2)}\n`
    )
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: "es2023",
            lib: ["es2023"],
            module: "nodenext",
            moduleResolution: "nodenext",
            strict: true,
            skipLibCheck: true,
            types: ["node"],
            outDir: "out"
          },
          files: ["embed.ts", "adapters.ts"]
        },
        null,
        2
      )}\n`
    )
    fs.writeFileSync(path.join(app, "embed.ts"), readmeEmbedExample())
    // Beyond the README: the adapters' layers compose with core under the consumer's Effect.
    fs.writeFileSync(
      path.join(app, "adapters.ts"),
      [
        'import { configFromSpec, FileStoreLayer, planWaves, type RolloutSpec, startRollout } from "@sluice/core"',
        'import { DockerAdapter } from "@sluice/adapters-docker"',
        'import { KubernetesAdapter } from "@sluice/adapters-k8s"',
        'import { Effect, Layer } from "effect"',
        "",
        "export const viaDocker = (spec: RolloutSpec, text: string) =>",
        '  startRollout({ config: configFromSpec(spec, "docker"), spec: text, plan: (i) => planWaves(spec, i) }).pipe(',
        '    Effect.provide(Layer.mergeAll(DockerAdapter.layer({ hosts: [{ name: "local" }] }), FileStoreLayer("rollouts")))',
        "  )",
        "export const viaKubernetes = (spec: RolloutSpec, text: string) =>",
        '  startRollout({ config: configFromSpec(spec, "k8s"), spec: text, plan: (i) => planWaves(spec, i) }).pipe(',
        '    Effect.provide(Layer.mergeAll(KubernetesAdapter.layer({}), FileStoreLayer("rollouts")))',
        "  )",
        ""
      ].join("\n")
    )
    // Other @effect/* peers (e.g. a platform layer) are released in step with effect: take the
    // newest release of effect's major.minor that is not newer than effect itself, as an embedder
    // on that effect would (npm would otherwise pick the latest, which needs the latest effect).
    const chosen = parseVersion(effectVersion)!
    const effectPeers = [
      ...new Set(
        packages.flatMap((p) =>
          Object.keys(readJson(path.join(root, "packages", p, "package.json")).peerDependencies ?? {})
        )
      )
    ].filter((name) => name.startsWith("@effect/"))
    const matchingPeers = effectPeers.map((name) => {
      const view = run("npm", ["view", name, "versions", "--json"], { cwd: os.tmpdir(), timeout: 120_000 })
      if (view.status !== 0) throw new Error(`npm view ${name} failed:\n${view.output}`)
      const peerRanges = packages
        .map((p) => readJson(path.join(root, "packages", p, "package.json")).peerDependencies?.[name])
        .filter((r): r is string => typeof r === "string")
      const match = (JSON.parse(view.stdout) as string[])
        .map((v) => [v, parseVersion(v)] as const)
        .filter((x): x is readonly [string, Version] => x[1] !== undefined)
        .filter(([, v]) => v[0] === chosen[0] && v[1] === chosen[1] && compare(v, chosen) <= 0)
        .filter(([, v]) => peerRanges.every((r) => satisfiesCaret(r, v)))
        .sort((a, b) => compare(b[1], a[1]))[0]
      if (match === undefined)
        throw new Error(`no release of ${name} matches effect ${effectVersion} and ${peerRanges}`)
      return `${name}@${match[0]}`
    })
    const typescript = readJson(path.join(root, "node_modules/typescript/package.json")).version as string
    install = run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        ...packed.map((p) => path.join(tarballs, p.filename)),
        `effect@${effectVersion}`,
        ...matchingPeers,
        "node@22",
        "@types/node@22",
        `typescript@${typescript}`
      ],
      { cwd: app, timeout: 900_000 }
    )
  }, 1_200_000)

  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true })
  }, 300_000) // the project holds a Node binary and the packages' dependencies

  it("packs every package without its .tsbuildinfo", () => {
    expect(packed.map((p) => p.filename).sort()).toEqual(packages.map((p) => `sluice-${p}-0.1.0.tgz`).sort())
    for (const p of packed) {
      expect(
        p.files.filter((f) => f.path.includes("tsbuildinfo")),
        p.filename
      ).toEqual([])
      expect(p.files.some((f) => f.path === "package.json")).toBe(true)
    }
  })

  it("installs beside another Effect 4 minor with exactly one copy of effect", () => {
    expect(install?.status, install?.output).toBe(0)
    expect(effectVersion.split(".").slice(0, 2)).not.toEqual(workspaceEffect.split(".").slice(0, 2))
    // Every installed package directory, nested node_modules included.
    const copies: string[] = []
    const visit = (dir: string) => {
      if (path.basename(dir) === "effect")
        copies.push(`${path.relative(app, dir)}@${readJson(path.join(dir, "package.json")).version}`)
      if (fs.existsSync(path.join(dir, "node_modules"))) walk(path.join(dir, "node_modules"))
    }
    const walk = (nodeModules: string) => {
      for (const e of fs.readdirSync(nodeModules, { withFileTypes: true })) {
        if (!e.isDirectory() || e.name.startsWith(".")) continue
        const dir = path.join(nodeModules, e.name)
        if (e.name.startsWith("@")) for (const s of fs.readdirSync(dir)) visit(path.join(dir, s))
        else visit(dir)
      }
    }
    walk(path.join(app, "node_modules"))
    expect(copies).toEqual([`node_modules/effect@${effectVersion}`])
  })

  it("type-checks the README's embedding example with tsc and runs it on Node 22", () => {
    expect(install?.status, install?.output).toBe(0)
    const node = path.join(app, "node_modules/.bin/node")
    const version = run(node, ["--version"])
    expect(version.stdout.trim(), version.output).toMatch(/^v22\./)
    const tsc = run(node, [path.join(app, "node_modules/typescript/bin/tsc"), "-p", "."], {
      cwd: app,
      timeout: 300_000
    })
    expect(tsc.status, tsc.output).toBe(0)
    const example = run(node, ["out/embed.js"], { cwd: app, timeout: 300_000 })
    expect(example.status, example.output).toBe(0)
    const last = example.stdout.trim().split("\n").at(-1) ?? ""
    expect(last, example.output).toMatch(/^node-agent-2-0-0-\d+: completed, 20 updated, \d+ journal entries$/)
    console.log(
      `packed install: ${version.stdout.trim()}, effect ${effectVersion} (workspace ${workspaceEffect}): ${last}`
    )
  }, 600_000)
})
