import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@sluice/source"] },
  ssr: { resolve: { conditions: ["@sluice/source"] } },
  test: {
    name: "adapters-k8s",
    include: ["test/**/*.test.ts"],
    // Starts one real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) on
    // 127.0.0.1 for the whole run and provides its kubeconfig: inject("sluiceKube"). See test/support/.
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    // beforeAll hooks create kwok nodes (100 for the DaemonSet test) and wait for them to be Ready.
    hookTimeout: 120_000
  }
})
