/**
 * fast-check pods for the Pod Security parity test: every field a Pod Security check reads (host
 * namespaces, privileged, capabilities add/drop, hostPath and the other volume types, hostPort
 * with and without hostNetwork, AppArmor fields and annotations, SELinux type/user/role, procMount
 * with hostUsers, seccomp at pod and container level, sysctls, Windows hostProcess,
 * probe/lifecycle hosts, allowPrivilegeEscalation, runAsNonRoot, runAsUser), on init, regular
 * and ephemeral containers, each set or left unset. The pods are valid (the apiserver validates a
 * pod before Pod Security admission sees it): the generator follows the validation rules that tie
 * these fields together (Windows pods carry no Linux fields, hostProcess needs hostNetwork and
 * every container hostProcess, Unmasked procMount needs hostUsers: false, hostPort equals
 * containerPort under hostNetwork, no net.* sysctl with hostNetwork, …).
 */
import fc from "fast-check"

type Json = Record<string, unknown>

const opt = <T>(arb: fc.Arbitrary<T>, freq = 1): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: freq, arbitrary: arb })

/** Drops undefined fields (and objects left empty when `dropEmpty`). */
const clean = (o: Record<string, unknown>, dropEmpty = false): Json | undefined => {
  const out: Json = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return dropEmpty && Object.keys(out).length === 0 ? undefined : out
}

const seccomp = fc.constantFrom<Json>(
  { type: "RuntimeDefault" },
  { type: "Localhost", localhostProfile: "profiles/agent.json" },
  { type: "Unconfined" }
)
const apparmor = fc.constantFrom<Json>(
  { type: "RuntimeDefault" },
  { type: "Localhost", localhostProfile: "agent" },
  { type: "Unconfined" }
)
const selinux = fc
  .record({
    type: opt(fc.constantFrom("container_t", "container_engine_t", "spc_t", "unconfined_t")),
    user: opt(fc.constant("system_u")),
    role: opt(fc.constant("system_r")),
    level: opt(fc.constant("s0:c1,c2"))
  })
  .map((o) => clean(o) ?? {})
const capabilityNames = ["NET_BIND_SERVICE", "CHOWN", "KILL", "SYS_TIME", "NET_RAW", "NET_ADMIN"]
const capabilities = fc
  .record({
    add: opt(fc.subarray(capabilityNames, { minLength: 1 }), 2),
    drop: opt(fc.subarray(["ALL", "NET_RAW", "MKNOD"], { minLength: 1 }), 3)
  })
  .map((o) => clean(o) ?? {})
const hosts = fc.constantFrom("", "10.0.0.1", "metadata.internal", "127.0.0.1")
const probe = (port: number) =>
  fc.oneof(
    hosts.map((host) => ({ httpGet: clean({ port, path: "/healthz", host: host === "" ? undefined : host }) })),
    hosts.map((host) => ({ tcpSocket: clean({ port, host: host === "" ? undefined : host }) }))
  )
const lifecycleHandler = (port: number) =>
  hosts.map((host) => ({ httpGet: clean({ port, path: "/hook", host: host === "" ? undefined : host }) }))

const SAFE_SYSCTLS = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem"
]
const UNSAFE_SYSCTLS = ["kernel.msgmax", "kernel.sem", "net.core.somaxconn", "net.ipv4.ip_forward"]
const SYSCTL_VALUES: Record<string, string> = {
  "net.ipv4.ip_local_port_range": "1024 65000",
  "net.ipv4.ping_group_range": "0 2147483647",
  "net.ipv4.tcp_rmem": "4096 87380 6291456",
  "net.ipv4.tcp_wmem": "4096 16384 4194304",
  "kernel.sem": "250 32000 100 128"
}

/** Inline volume sources: those restricted allows, then those it forbids (hostPath included). */
const VOLUME_SOURCES: ReadonlyArray<Json> = [
  { emptyDir: {} },
  { configMap: { name: "agent-config" } },
  { secret: { secretName: "agent-secret" } },
  { persistentVolumeClaim: { claimName: "agent-data" } },
  { projected: { sources: [{ configMap: { name: "agent-config" } }] } },
  { downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
  { csi: { driver: "csi.sluice.dev" } },
  {
    ephemeral: {
      volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }
    }
  },
  { hostPath: { path: "/var/log" } },
  { nfs: { server: "nfs.sluice.dev", path: "/exports" } },
  { gitRepo: { repository: "https://git.sluice.dev/agent.git" } },
  { rbd: { monitors: ["10.0.0.2:6789"], image: "agent" } },
  { cephfs: { monitors: ["10.0.0.2:6789"] } },
  { iscsi: { targetPortal: "10.0.0.3:3260", iqn: "iqn.2001-04.com.example:storage", lun: 0 } },
  { fc: { targetWWNs: ["500a0982991b8dc5"], lun: 2 } },
  { flexVolume: { driver: "sluice.dev/flex" } },
  { cinder: { volumeID: "vol-1" } },
  { azureFile: { secretName: "azure", shareName: "agent" } }
]

interface ContainerOptions {
  readonly name: string
  readonly kind: "init" | "regular" | "ephemeral"
  readonly port: number
  readonly windows: boolean
  readonly hostNetwork: boolean
  readonly hostUsers: boolean | undefined
  /** Windows: every container is hostProcess, or none is. */
  readonly hostProcess: boolean | undefined
}

const linuxSecurityContext = (o: ContainerOptions) =>
  fc
    .record({
      privileged: opt(fc.boolean()),
      allowPrivilegeEscalation: opt(fc.boolean(), 2),
      capabilities: opt(capabilities, 3),
      runAsNonRoot: opt(fc.boolean(), 2),
      runAsUser: opt(fc.constantFrom(0, 1000), 2),
      // The apiserver refuses Unmasked unless hostUsers is false (which exempts it from baseline).
      procMount: opt(fc.constantFrom(...(o.hostUsers === false ? ["Default", "Unmasked"] : ["Default"]))),
      seccompProfile: opt(seccomp, 2),
      appArmorProfile: opt(apparmor),
      seLinuxOptions: opt(selinux)
    })
    .map((sc) => {
      // Validation: privileged or CAP_SYS_ADMIN forbid allowPrivilegeEscalation: false.
      if (sc.privileged === true && sc.allowPrivilegeEscalation === false) sc.allowPrivilegeEscalation = undefined
      return clean(sc, true)
    })

const windowsSecurityContext = (o: ContainerOptions) =>
  fc.record({ runAsNonRoot: opt(fc.boolean()) }).map((sc) =>
    clean(
      {
        ...sc,
        windowsOptions: o.hostProcess === undefined ? undefined : { hostProcess: o.hostProcess }
      },
      true
    )
  )

const container = (o: ContainerOptions): fc.Arbitrary<Json> =>
  fc
    .record({
      securityContext: opt(o.windows ? windowsSecurityContext(o) : linuxSecurityContext(o), 4),
      // Ephemeral containers may not declare ports, probes or lifecycle hooks.
      hostPort: o.kind === "ephemeral" ? fc.constant(undefined) : opt(fc.constantFrom(0, o.port, o.port + 1000)),
      hasPort: o.kind === "ephemeral" ? fc.constant(false) : fc.boolean(),
      livenessProbe: o.kind === "regular" ? opt(probe(o.port)) : fc.constant(undefined),
      readinessProbe: o.kind === "regular" ? opt(probe(o.port)) : fc.constant(undefined),
      startupProbe: o.kind === "regular" ? opt(probe(o.port)) : fc.constant(undefined),
      postStart: o.kind === "regular" ? opt(lifecycleHandler(o.port)) : fc.constant(undefined),
      preStop: o.kind === "regular" ? opt(lifecycleHandler(o.port)) : fc.constant(undefined)
    })
    .map((c) => {
      // Under hostNetwork (and hostProcess, which needs it) a hostPort must equal the containerPort.
      const hostPort = o.hostNetwork && c.hostPort !== undefined && c.hostPort !== 0 ? o.port : c.hostPort
      const ports =
        c.hasPort || hostPort !== undefined
          ? [clean({ name: "http", containerPort: o.port, hostPort, protocol: "TCP" })]
          : undefined
      const lifecycle = clean({ postStart: c.postStart, preStop: c.preStop }, true)
      return clean({
        name: o.name,
        image: "registry.sluice.dev/agents/node-agent:2.0.0",
        ports,
        livenessProbe: c.livenessProbe,
        readinessProbe: c.readinessProbe,
        startupProbe: c.startupProbe,
        lifecycle,
        securityContext: c.securityContext
      }) as Json
    })

export interface GeneratedPod {
  /** The pod as created (regular and init containers). */
  readonly pod: Json
  /** Ephemeral containers, added afterwards through the pod's ephemeralcontainers subresource. */
  readonly ephemeralContainers: ReadonlyArray<Json>
}

const shape = fc.record({
  windowsRoll: fc.integer({ min: 0, max: 9 }),
  osLinux: fc.boolean(),
  hostNetwork: opt(fc.boolean(), 2),
  hostPID: opt(fc.boolean()),
  hostIPC: opt(fc.boolean()),
  hostUsers: opt(fc.boolean()),
  hostProcess: fc.boolean(),
  podHostProcess: fc.boolean(),
  regular: fc.integer({ min: 1, max: 2 }),
  init: fc.integer({ min: 0, max: 1 }),
  ephemeral: fc.integer({ min: 0, max: 2 }).map((n) => (n === 2 ? 1 : 0)),
  // One pod in three starts restricted-compliant and keeps one generated aspect (0: none).
  compliant: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
  keep: fc.integer({ min: 0, max: 4 })
})

const RESTRICTED_VOLUMES = new Set([
  "emptyDir",
  "configMap",
  "secret",
  "persistentVolumeClaim",
  "projected",
  "downwardAPI",
  "csi",
  "ephemeral"
])

/** A restricted-compliant version of a generated pod that keeps aspect `keep` as generated. */
const makeCompliant = (
  pod: { metadata: Json; spec: Json },
  containers: Json[],
  keep: number,
  windows: boolean
): void => {
  const spec = pod.spec
  if (keep !== 1) {
    spec.securityContext = windows
      ? { runAsNonRoot: true }
      : { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }
  }
  containers.forEach((c, i) => {
    if (keep === 2 && i === 0) return
    c.securityContext = windows ? {} : { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
  })
  if (keep !== 3 && Array.isArray(spec.volumes)) {
    spec.volumes = (spec.volumes as Json[]).filter((v) => Object.keys(v).some((k) => RESTRICTED_VOLUMES.has(k)))
    if ((spec.volumes as Json[]).length === 0) delete spec.volumes
  }
  if (keep !== 4) {
    for (const k of ["hostNetwork", "hostPID", "hostIPC"]) delete spec[k]
    for (const c of containers) {
      delete c.ports
      delete c.livenessProbe
      delete c.readinessProbe
      delete c.startupProbe
      delete c.lifecycle
    }
  }
  if (windows) {
    delete spec.hostNetwork
  }
  delete pod.metadata.annotations
}

export const podArbitrary: fc.Arbitrary<GeneratedPod> = shape.chain((s) => {
  const windows = s.windowsRoll === 0 // one pod in ten is a Windows pod
  const hostProcess = windows && s.hostProcess
  const hostNetwork = hostProcess ? true : s.hostNetwork
  // hostUsers: false needs the pod's own namespaces.
  const userNs = !windows && s.hostUsers === false && hostNetwork !== true && s.hostPID !== true && s.hostIPC !== true
  const hostUsers = windows ? undefined : userNs ? false : s.hostUsers === false ? undefined : s.hostUsers
  const base = {
    windows,
    hostNetwork: hostNetwork === true,
    hostUsers,
    hostProcess: hostProcess ? true : undefined
  }
  const names = [
    ...Array.from({ length: s.init }, (_, i) => ({ name: `init-${i}`, kind: "init" as const, port: 8090 + i })),
    ...Array.from({ length: s.regular }, (_, i) => ({ name: `agent-${i}`, kind: "regular" as const, port: 8080 + i })),
    ...Array.from({ length: windows ? 0 : s.ephemeral }, (_, i) => ({
      name: `debug-${i}`,
      kind: "ephemeral" as const,
      port: 0
    }))
  ]
  // net.* sysctls are refused with hostNetwork, IPC ones with hostIPC.
  const sysctlNames = [...SAFE_SYSCTLS, ...UNSAFE_SYSCTLS].filter(
    (n) => !(hostNetwork === true && n.startsWith("net.")) && !(s.hostIPC === true && n.startsWith("kernel."))
  )
  const podSecurityContext = windows
    ? fc
        .record({ runAsNonRoot: opt(fc.boolean()) })
        .map((sc) =>
          clean({ ...sc, windowsOptions: hostProcess && s.podHostProcess ? { hostProcess: true } : undefined }, true)
        )
    : fc
        .record({
          runAsNonRoot: opt(fc.boolean(), 2),
          runAsUser: opt(fc.constantFrom(0, 1000), 2),
          seccompProfile: opt(seccomp, 2),
          appArmorProfile: opt(apparmor),
          seLinuxOptions: opt(selinux),
          sysctls:
            sysctlNames.length === 0
              ? fc.constant(undefined)
              : opt(fc.subarray(sysctlNames, { minLength: 1, maxLength: 3 }))
        })
        .map((sc) =>
          clean(
            {
              ...sc,
              sysctls: sc.sysctls?.map((name) => ({ name, value: SYSCTL_VALUES[name] ?? "1" }))
            },
            true
          )
        )
  const volumes = fc.subarray(
    VOLUME_SOURCES.map((_, i) => i),
    { maxLength: 3 }
  )
  const containers = fc.tuple(...names.map((n) => container({ ...n, ...base })))
  // Deprecated AppArmor annotations, on containers without an appArmorProfile of their own.
  const annotationValues = fc.array(opt(fc.constantFrom("runtime/default", "localhost/agent", "unconfined")), {
    minLength: names.length,
    maxLength: names.length
  })
  return fc
    .record({ podSecurityContext: opt(podSecurityContext, 4), volumes, containers, annotationValues })
    .map(({ podSecurityContext, volumes, containers, annotationValues }) => {
      const annotations: Record<string, string> = {}
      if (!windows) {
        containers.forEach((c, i) => {
          const value = annotationValues[i]
          const sc = c.securityContext as Json | undefined
          if (value !== undefined && names[i]?.kind !== "ephemeral" && sc?.appArmorProfile === undefined) {
            annotations[`container.apparmor.security.beta.kubernetes.io/${String(c.name)}`] = value
          }
        })
      }
      const podHostProcess = (podSecurityContext as Json | undefined)?.windowsOptions !== undefined
      if (hostProcess && !podHostProcess) {
        // Without the pod's hostProcess, every container must say it itself.
        for (const c of containers) {
          c.securityContext = { ...(c.securityContext as Json | undefined), windowsOptions: { hostProcess: true } }
        }
      }
      const byKind = (kind: string) => containers.filter((_, i) => names[i]?.kind === kind)
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: clean({
          name: "psa-case",
          annotations: Object.keys(annotations).length > 0 ? annotations : undefined
        }),
        spec: clean({
          os: windows ? { name: "windows" } : s.osLinux ? { name: "linux" } : undefined,
          hostNetwork,
          hostPID: windows ? undefined : s.hostPID,
          hostIPC: windows ? undefined : s.hostIPC,
          hostUsers,
          automountServiceAccountToken: false,
          securityContext: podSecurityContext,
          initContainers: byKind("init").length > 0 ? byKind("init") : undefined,
          containers: byKind("regular"),
          volumes: volumes.length > 0 ? volumes.map((i) => ({ name: `volume-${i}`, ...VOLUME_SOURCES[i] })) : undefined
        })
      }
      if (s.compliant && !hostProcess) makeCompliant(pod as { metadata: Json; spec: Json }, containers, s.keep, windows)
      return { pod, ephemeralContainers: byKind("ephemeral") }
    })
})
