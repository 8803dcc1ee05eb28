/**
 * A second control plane for the multi-cluster tests, started by the test file that needs it (in
 * its beforeAll, with scripts/kube/cluster-up.sh into a directory of its own: every port is a free
 * port probed at start, so it runs beside the global setup's cluster) and stopped in its afterAll.
 * Only that file pays for it (a control plane is ~0.5 GiB of RSS).
 *
 * - SLUICE_KUBECONFIG_2=/path (with its state directory in SLUICE_KUBE_DIR_2 for the tests that stop
 *   its apiserver): use that running cluster instead; nothing is started or stopped.
 * - SLUICE_KUBE_KEEP=1: leave it running after the file (prints its directory).
 * - The binaries are the global setup's: without them `describeWithCluster` already fails the file
 *   under CI=true (skips it loudly otherwise) before this runs.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { afterAll, beforeAll } from "vitest"

const scripts = fileURLToPath(new URL("../../../../scripts/kube/", import.meta.url))

export const runScript = (script: string, args: ReadonlyArray<string>) =>
  new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile("bash", [join(scripts, script), ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { message: `${script} failed: ${stderr}${stdout}` }))
      else resolve({ stdout, stderr })
    })
  })

export interface SecondCluster {
  readonly kubeconfig: string
  /** Its state directory (pids/, logs/), when known. */
  readonly dir: string | undefined
  readonly core: CoreV1Api
  readonly apps: AppsV1Api
}

export function useSecondCluster(): () => SecondCluster {
  let cluster: SecondCluster | undefined
  let startedDir: string | undefined
  beforeAll(async () => {
    let kubeconfig = process.env.SLUICE_KUBECONFIG_2
    let dir = process.env.SLUICE_KUBE_DIR_2
    if (kubeconfig === undefined || kubeconfig === "") {
      // The first cluster may be an external one (SLUICE_KUBECONFIG): this one still needs the
      // binaries, and their absence is a failure naming them, never a skip.
      const bin = process.env.SLUICE_KUBE_BIN ?? fileURLToPath(new URL("../../../../.tools/bin/", import.meta.url))
      const missing = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"].filter(
        (b) => !existsSync(join(bin, b))
      )
      if (missing.length > 0)
        throw new Error(
          `no second control plane for the multi-cluster tests: missing ${missing.join(", ")} in ${bin} (bash scripts/kube/build-tools.sh), or set SLUICE_KUBECONFIG_2`
        )
      dir = await mkdtemp(join(tmpdir(), "sluice-kube2-"))
      const { stdout } = await runScript("cluster-up.sh", [dir, "--owner-pid", String(process.pid)])
      startedDir = dir
      kubeconfig = stdout.trim().split("\n").at(-1) ?? ""
    }
    if (!existsSync(kubeconfig)) throw new Error(`second cluster: no kubeconfig at ${kubeconfig}`)
    const config = new KubeConfig()
    config.loadFromFile(kubeconfig)
    cluster = {
      kubeconfig,
      dir,
      core: config.makeApiClient(CoreV1Api),
      apps: config.makeApiClient(AppsV1Api)
    }
  }, 180_000)
  afterAll(async () => {
    if (startedDir === undefined) return
    if (process.env.SLUICE_KUBE_KEEP === "1") {
      console.log(`[sluice-kube] second cluster left running: bash scripts/kube/cluster-down.sh ${startedDir}`)
      return
    }
    await runScript("cluster-down.sh", [startedDir]).catch((e: unknown) => console.error(String(e)))
  }, 120_000)
  return () => {
    if (cluster === undefined) throw new Error("second cluster not started yet (call inside a test or hook)")
    return cluster
  }
}
