/**
 * Vitest global setup for @sluice/adapters-k8s: starts ONE real Kubernetes control plane for the
 * whole test run (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the kwok
 * controller, all on 127.0.0.1, via scripts/kube/cluster-up.sh) and provides its kubeconfig path
 * to the test files as `inject("sluiceKube")`.
 *
 * - SLUICE_KUBECONFIG=/path: use that already-running cluster instead (nothing is started/stopped).
 * - SLUICE_KUBE_KEEP=1: leave the cluster running after the run (prints its directory).
 * - Binaries missing: no cluster; tests FAIL when CI=true and are skipped loudly otherwise
 *   (see describeWithCluster in ./cluster.ts). Provision with: bash scripts/kube/build-tools.sh
 * - Binaries present but the cluster does not come up: the setup throws (a real failure).
 */
import { execFile } from "node:child_process"
import { accessSync, constants, existsSync, readFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"
import type { KubeClusterInfo } from "./types.js"

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
const scripts = join(repoRoot, "scripts", "kube")
const REQUIRED_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]

function kubeVersion(): string | null {
  try {
    const env = readFileSync(join(repoRoot, "tools", "kube", "versions.env"), "utf8")
    return /^KUBE_VERSION=(\S+)/m.exec(env)?.[1] ?? null
  } catch {
    return null
  }
}

function missingBinaries(binDir: string): string[] {
  return REQUIRED_BINARIES.filter((name) => {
    try {
      accessSync(join(binDir, name), constants.X_OK)
      return false
    } catch {
      return true
    }
  })
}

function run(script: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile("bash", [join(scripts, script), ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }))
      else resolve({ stdout, stderr })
    })
  })
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const version = kubeVersion()
  const provide = (info: KubeClusterInfo) => project.provide("sluiceKube", info)

  const external = process.env.SLUICE_KUBECONFIG
  if (external) {
    if (!existsSync(external)) throw new Error(`SLUICE_KUBECONFIG=${external} does not exist`)
    provide({ kubeconfig: external, unavailableReason: null, kubeVersion: version, startedHere: false })
    return async () => {}
  }

  const binDir = process.env.SLUICE_KUBE_BIN ?? join(repoRoot, ".tools", "bin")
  const missing = missingBinaries(binDir)
  if (missing.length > 0) {
    const reason =
      `No Kubernetes control plane for the adapters-k8s tests: missing ${missing.join(", ")} in ${binDir}.\n` +
      `Provision them (Go modules only; 9-25 min cold on 2 cores, about a second when cached) with:\n` +
      `    bash scripts/kube/build-tools.sh`
    provide({ kubeconfig: null, unavailableReason: reason, kubeVersion: version, startedHere: false })
    return async () => {}
  }

  const dir = await mkdtemp(join(tmpdir(), "sluice-kube-"))
  const started = performance.now()
  let stdout: string
  let stderr: string
  try {
    ;({ stdout, stderr } = await run("cluster-up.sh", [dir, "--owner-pid", String(process.pid)]))
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string }
    throw new Error(`scripts/kube/cluster-up.sh failed (state and logs in ${dir}):\n${e.stderr ?? ""}${e.stdout ?? ""}`)
  }
  const kubeconfig = stdout.trim().split("\n").at(-1) ?? ""
  if (!existsSync(kubeconfig)) throw new Error(`cluster-up.sh printed no kubeconfig path:\n${stdout}\n${stderr}`)
  // Reported, never asserted: how long the control plane took to come up and what it costs.
  const summary = stderr.split("\n").find((line) => line.startsWith("cluster-up: cluster up in"))
  console.log(
    `[sluice-kube] ${summary ?? "cluster up"} (global setup ${((performance.now() - started) / 1000).toFixed(1)}s); KUBECONFIG=${kubeconfig}`
  )
  provide({ kubeconfig, unavailableReason: null, kubeVersion: version, startedHere: true })

  return async () => {
    if (process.env.SLUICE_KUBE_KEEP === "1") {
      console.log(
        `[sluice-kube] SLUICE_KUBE_KEEP=1: cluster left running; stop it with: bash scripts/kube/cluster-down.sh ${dir}`
      )
      return
    }
    await run("cluster-down.sh", [dir]).catch((error: unknown) => {
      console.error(`[sluice-kube] cluster-down.sh failed: ${String(error)}`)
    })
  }
}
