/** Test agents on the real engine, with a deliberately rich configuration. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { docker, type Json, TEST_LABEL } from "./engine.js"

export interface AgentSpec {
  readonly suite: string
  readonly name: string
  readonly group: string
  readonly image?: string
  /** User-defined networks: the first is primary; each gets aliases. */
  readonly networks?: ReadonlyArray<string>
  /** A host directory bind-mounted read-write at /etc/agent. */
  readonly configDir?: string
  /** Publish 8080 on this fixed host port (forces a direct replace); default: a Docker-chosen port. */
  readonly fixedPort?: number
  /** No published port at all. */
  readonly noPorts?: boolean
  readonly env?: ReadonlyArray<string>
  readonly restartPolicy?: string
  readonly healthcheck?: Json
  readonly rich?: boolean
  readonly extraLabels?: Readonly<Record<string, string>>
  readonly start?: boolean
}

/** Creates (and starts) an agent container; returns its inspect. */
export const createAgent = async (s: AgentSpec): Promise<Json> => {
  const nets = s.networks ?? []
  const rich = s.rich ?? true
  const create: Json = {
    name: s.name,
    Image: s.image ?? "sluice-test/agent:v1",
    Cmd: ["--site", s.group],
    Env: [`AGENT_SITE=${s.group}`, "AGENT_LOG_LEVEL=debug", ...(s.env ?? [])],
    Labels: {
      [TEST_LABEL]: "1",
      [`${TEST_LABEL}.suite`]: s.suite,
      [`${TEST_LABEL}.group`]: s.group,
      app: "agent",
      "com.example.team": "observability",
      ...s.extraLabels
    },
    ...(s.healthcheck ? { Healthcheck: s.healthcheck } : {}),
    HostConfig: {
      RestartPolicy: { Name: s.restartPolicy ?? "unless-stopped", MaximumRetryCount: 0 },
      ...(s.noPorts
        ? {}
        : {
            PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: s.fixedPort ? String(s.fixedPort) : "" }] }
          }),
      ...(s.configDir ? { Binds: [`${s.configDir}:/etc/agent`] } : {}),
      ...(nets[0] ? { NetworkMode: nets[0] } : {})
    },
    ...(nets[0]
      ? { NetworkingConfig: { EndpointsConfig: { [nets[0]]: { Aliases: [`${s.name}-alias`, "agent"] } } } }
      : {})
  }
  if (rich) {
    Object.assign(create, {
      Hostname: `${s.name}-host`,
      Domainname: "agents.example",
      StopTimeout: 5,
      Volumes: { "/cache": {} } // an anonymous volume
    })
    Object.assign(create.HostConfig, {
      Mounts: [{ Type: "volume", Source: `${s.name}-data`, Target: "/data" }],
      Tmpfs: { "/run/agent": "size=1m" },
      Memory: 64 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 100,
      LogConfig: { Type: "json-file", Config: { "max-size": "1m", "max-file": "2" } },
      CapDrop: ["ALL"],
      CapAdd: ["NET_BIND_SERVICE"],
      SecurityOpt: ["no-new-privileges"],
      ExtraHosts: ["collector.internal:10.0.0.1"],
      Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 2048 }],
      Init: true,
      ShmSize: 8 * 1024 * 1024,
      OomScoreAdj: 100
    })
  }
  const c = await docker.createContainer(create)
  for (const extra of nets.slice(1)) {
    await docker.getNetwork(extra).connect({ Container: c.id, EndpointConfig: { Aliases: [`${s.name}-on-${extra}`] } })
  }
  if (s.start ?? true) await c.start()
  return c.inspect()
}

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** HTTP GET of the agent through its published port. */
export const agentGet = async (c: Json, file: string): Promise<string | undefined> => {
  const b = c.NetworkSettings?.Ports?.["8080/tcp"]?.[0]
  if (!b?.HostPort) return undefined
  try {
    const res = await fetch(`http://127.0.0.1:${b.HostPort}/${file}`)
    return res.ok ? (await res.text()).trim() : undefined
  } catch {
    return undefined
  }
}
