# pod-security/baseline: the Pod Security Standards' baseline level as Kubernetes v1.36 enforces it
# (k8s.io/pod-security-admission v0.36.3, policy/check_*.go), check by check, off unless
# selected (data.sluice.params.podSecurity.profiles, see lib/pod_security.rego). The restricted
# profile runs these checks too, except the four it replaces with stricter ones (capabilities,
# seccompProfile, hostPath volumes, procMount).
#
# Each check denies once per workload with rule pod-security/<check id> and the apiserver's own
# words: "<reason> (<detail>)", e.g.
#   pod-security/hostNamespaces  host namespaces (hostNetwork=true, hostPID=true)
#
# Rule ids: pod-security/hostNamespaces, pod-security/privileged,
#           pod-security/capabilities_baseline, pod-security/hostPathVolumes,
#           pod-security/hostPorts, pod-security/appArmorProfile, pod-security/seLinuxOptions,
#           pod-security/procMount, pod-security/seccompProfile_baseline, pod-security/sysctls,
#           pod-security/windowsHostProcess, pod-security/hostProbesAndHostLifecycle,
#           pod-security/no-pod-spec (a profile is selected but the workload has no Kubernetes
#           pod spec), params/invalid
package sluice.policies.pod_security_baseline

import future.keywords.not

import data.sluice.lib.pod_security as ps
import data.sluice.lib.workload as wl
import data.sluice.policies.pod_security_restricted as restricted

# Every check's finding, at whatever level (the restricted package adds its own); which of them
# deny and which warn depends on the levels selected (lib/pod_security.rego). The checks need no
# ps.has_pod_spec guard: without a pod spec, ps.spec, ps.pod_sc, ps.containers and ps.volumes are
# empty, so no check finds anything (no-pod-spec below denies instead).
_results := results | restricted.results

deny contains ps.violation(r.id, r.reason, r.detail, ps.deny_source) if {
	some r in _results
	r.id in ps.level_checks[ps.level]
}

warn contains ps.violation(r.id, r.reason, r.detail, ps.warn_source) if {
	some r in _results
	r.id in ps.level_checks[ps.warn_level]
	not r.id in ps.level_checks[ps.level]
}

deny contains wl.pod_violation("params/invalid", [ps.profiles_invalid]) if ps.profiles_invalid

deny contains wl.pod_violation("pod-security/no-pod-spec", [
	"the ", ps.level_name, " Pod Security profile is selected, but the workload has no Kubernetes pod spec ",
	"(input.kubernetes.object: a Pod, or a workload with spec.template)",
]) if {
	ps.level > 0
	not ps.has_pod_spec
}

# --- hostNamespaces: spec.hostNetwork, spec.hostPID, spec.hostIPC ------------------------------

_host_namespaces := [concat("", [f, "=true"]) | some f in ["hostNetwork", "hostPID", "hostIPC"]; ps.spec[f] == true]

results contains ps.result("hostNamespaces", "host namespaces", concat(", ", _host_namespaces)) if {
	count(_host_namespaces) > 0
}

# --- privileged: securityContext.privileged ------------------------------------------------------

_privileged := [ps.name(c) | some c in ps.containers; ps.sc(c).privileged == true]

results contains ps.result("privileged", "privileged", concat(" ", [
	ps.containers_phrase(_privileged),
	"must not set securityContext.privileged=true",
])) if {
	count(_privileged) > 0
}

# --- capabilities_baseline: securityContext.capabilities.add -------------------------------------

_default_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

_added(c) := [a | some a in object.get(ps.sc(c), ["capabilities", "add"], []); is_string(a)] if {
	is_array(object.get(ps.sc(c), ["capabilities", "add"], []))
} else := []

_non_default(c) := [a | some a in _added(c); not a in _default_capabilities]

_cap_containers := [ps.name(c) | some c in ps.containers; count(_non_default(c)) > 0]

results contains ps.result("capabilities_baseline", "non-default capabilities", concat(" ", [
	ps.containers_phrase(_cap_containers),
	"must not include",
	ps.join_quote(sort({a | some c in ps.containers; some a in _non_default(c)})),
	"in securityContext.capabilities.add",
])) if {
	count(_cap_containers) > 0
}

# --- hostPathVolumes: spec.volumes[*].hostPath ---------------------------------------------------

_host_paths := [ps.name(v) | some v in ps.volumes; ps.has(v, "hostPath")]

results contains ps.result("hostPathVolumes", "hostPath volumes", concat(" ", [
	ps.plural("volume", "volumes", count(_host_paths)),
	ps.join_quote(_host_paths),
])) if {
	count(_host_paths) > 0
}

# --- hostPorts: containers[*].ports[*].hostPort --------------------------------------------------

_host_ports(c) := [p.hostPort |
	some p in object.get(c, "ports", [])
	is_number(p.hostPort)
	p.hostPort != 0
] if is_array(object.get(c, "ports", []))

else := []

_port_containers := [ps.name(c) | some c in ps.containers; count(_host_ports(c)) > 0]

_ports := sort({format_int(p, 10) | some c in ps.containers; some p in _host_ports(c)})

results contains ps.result("hostPorts", "hostPort", concat(" ", [
	ps.containers_phrase(_port_containers),
	ps.plural("uses", "use", count(_port_containers)),
	ps.plural("hostPort", "hostPorts", count(_ports)),
	concat(", ", _ports),
])) if {
	count(_port_containers) > 0
}

# --- appArmorProfile: securityContext.appArmorProfile.type, the deprecated annotations -----------

_apparmor_ok := {"RuntimeDefault", "Localhost"}

_pod_apparmor_bad if {
	p := ps.pod_sc.appArmorProfile
	p != null
	not object.get(p, "type", "") in _apparmor_ok
}

_apparmor_containers := [ps.name(c) |
	some c in ps.containers
	p := ps.apparmor(c)
	not object.get(p, "type", "") in _apparmor_ok
]

_apparmor_types contains object.get(ps.pod_sc.appArmorProfile, "type", "") if _pod_apparmor_bad

_apparmor_types contains t if {
	some c in ps.containers
	t := object.get(ps.apparmor(c), "type", "")
	not t in _apparmor_ok
}

_apparmor_annotations := sort({concat("", [k, "=", wl.q(v)]) |
	some k, v in ps.annotations
	startswith(k, "container.apparmor.security.beta.kubernetes.io/")
	not _apparmor_annotation_ok(v)
})

_apparmor_annotation_ok(v) if v == ""

_apparmor_annotation_ok(v) if v == "runtime/default"

_apparmor_annotation_ok(v) if startswith(v, "localhost/")

_apparmor_setters := array.concat(
	array.concat(
		["pod" | _pod_apparmor_bad],
		[ps.containers_phrase(_apparmor_containers) | count(_apparmor_containers) > 0],
	),
	[ps.plural("annotation", "annotations", count(_apparmor_annotations)) | count(_apparmor_annotations) > 0],
)

_apparmor_values := array.concat(sort(_apparmor_types), _apparmor_annotations)

results contains ps.result(
	"appArmorProfile",
	ps.plural("forbidden AppArmor profile", "forbidden AppArmor profiles", count(_apparmor_values)),
	concat("", [concat(" and ", _apparmor_setters), " must not set AppArmor profile type to ", ps.join_quote(_apparmor_values)]),
) if {
	count(_apparmor_setters) > 0
}

# --- seLinuxOptions: securityContext.seLinuxOptions.type, .user, .role ---------------------------

_selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

_selinux_bad(o) if not object.get(o, "type", "") in _selinux_types

_selinux_bad(o) if object.get(o, "user", "") != ""

_selinux_bad(o) if object.get(o, "role", "") != ""

_selinux_all := array.concat([o | o := ps.pod_sc.seLinuxOptions; is_object(o)], [o |
	some c in ps.containers
	o := ps.sc(c).seLinuxOptions
	is_object(o)
])

_selinux_containers := [ps.name(c) | some c in ps.containers; _selinux_bad(wl.obj(ps.sc(c).seLinuxOptions))]

_selinux_setters := array.concat(
	["pod" | _selinux_bad(wl.obj(ps.pod_sc.seLinuxOptions))],
	[ps.containers_phrase(_selinux_containers) | count(_selinux_containers) > 0],
)

_selinux_bad_types := sort({t | some o in _selinux_all; t := object.get(o, "type", ""); not t in _selinux_types})

_selinux_data := array.concat(
	array.concat(
		[concat(" ", [ps.plural("type", "types", count(_selinux_bad_types)), ps.join_quote(_selinux_bad_types)]) | count(_selinux_bad_types) > 0],
		["user may not be set" | some o in _selinux_all; object.get(o, "user", "") != ""],
	),
	["role may not be set" | some o in _selinux_all; object.get(o, "role", "") != ""],
)

results contains ps.result("seLinuxOptions", "seLinuxOptions", concat("", [
	concat(" and ", _selinux_setters),
	" set forbidden securityContext.seLinuxOptions: ",
	concat("; ", _dedupe(_selinux_data)),
])) if {
	count(_selinux_setters) > 0
}

# Keeps the first of equal neighbours' order: ["a", "b", "b", "c", "c"] -> ["a", "b", "c"].
_dedupe(xs) := [x | some i, x in xs; not _seen_before(xs, i, x)]

_seen_before(xs, i, x) if {
	some j, y in xs
	j < i
	y == x
}

# --- procMount: securityContext.procMount (any value with hostUsers: false) --------------------

_proc_mount(c) := m if {
	m := ps.sc(c).procMount
	m != null
	m != "Default"
}

_proc_mount_containers := [ps.name(c) | some c in ps.containers; _proc_mount(c)]

# Shared with the restricted profile's procMount_restricted (the same check without the
# user-namespace exemption).
proc_mount_detail := concat(" ", [
	ps.containers_phrase(_proc_mount_containers),
	"must not set securityContext.procMount to",
	ps.join_quote(sort({m | some c in ps.containers; m := _proc_mount(c)})),
]) if count(_proc_mount_containers) > 0

results contains ps.result("procMount", "procMount", proc_mount_detail) if not ps.user_namespace

# --- seccompProfile_baseline: securityContext.seccompProfile.type ------------------------------

seccomp_ok := {"RuntimeDefault", "Localhost"}

pod_seccomp_bad if {
	p := ps.pod_sc.seccompProfile
	p != null
	not object.get(p, "type", "") in seccomp_ok
}

seccomp_bad_containers := [ps.name(c) |
	some c in ps.containers
	p := ps.sc(c).seccompProfile
	p != null
	not object.get(p, "type", "") in seccomp_ok
]

# Shared with seccompProfile_restricted: who sets a forbidden type, and which types.
seccomp_explicit_detail := concat("", [
	concat(" and ", array.concat(
		["pod" | pod_seccomp_bad],
		[ps.containers_phrase(seccomp_bad_containers) | count(seccomp_bad_containers) > 0],
	)),
	" must not set securityContext.seccompProfile.type to ",
	ps.join_quote(sort(_seccomp_bad_types)),
]) if count(_seccomp_bad_types) > 0

_seccomp_bad_types contains object.get(ps.pod_sc.seccompProfile, "type", "") if pod_seccomp_bad

_seccomp_bad_types contains t if {
	some c in ps.containers
	p := ps.sc(c).seccompProfile
	p != null
	t := object.get(p, "type", "")
	not t in seccomp_ok
}

results contains ps.result("seccompProfile_baseline", "seccompProfile", seccomp_explicit_detail)

# --- sysctls: spec.securityContext.sysctls[*].name ---------------------------------------------

_safe_sysctls := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

_sysctls := [n |
	some s in object.get(ps.pod_sc, "sysctls", [])
	n := object.get(s, "name", "")
	not n in _safe_sysctls
] if is_array(object.get(ps.pod_sc, "sysctls", []))

else := []

results contains ps.result("sysctls", "forbidden sysctls", concat(", ", _sysctls)) if {
	count(_sysctls) > 0
}

# --- windowsHostProcess: securityContext.windowsOptions.hostProcess ---------------------------

_host_process := [ps.name(c) | some c in ps.containers; ps.sc(c).windowsOptions.hostProcess == true]

_host_process_setters := array.concat(
	["pod" | ps.pod_sc.windowsOptions.hostProcess == true],
	[ps.containers_phrase(_host_process) | count(_host_process) > 0],
)

results contains ps.result("windowsHostProcess", "hostProcess", concat("", [
	concat(" and ", _host_process_setters),
	" must not set securityContext.windowsOptions.hostProcess=true",
])) if {
	count(_host_process_setters) > 0
}

# --- hostProbesAndHostLifecycle: probes' and lifecycle handlers' httpGet.host / tcpSocket.host --

_handlers(c) := array.concat(
	[wl.obj(object.get(c, p, null)) | some p in ["livenessProbe", "readinessProbe", "startupProbe"]],
	[wl.obj(object.get(c, ["lifecycle", h], null)) | some h in ["postStart", "preStop"]],
)

_hosts(c) := {host |
	some handler in _handlers(c)
	some kind in ["httpGet", "tcpSocket"]
	host := object.get(handler, [kind, "host"], "")
	is_string(host)
	host != ""
}

_probe_containers := sort({ps.name(c) | some c in ps.containers; count(_hosts(c)) > 0})

_probe_hosts := sort({h | some c in ps.containers; some h in _hosts(c)})

results contains ps.result("hostProbesAndHostLifecycle", "probe or lifecycle host", concat(" ", [
	ps.containers_phrase(_probe_containers),
	ps.plural("uses", "use", count(_probe_containers)),
	ps.plural("probe or lifecycle host", "probe or lifecycle hosts", count(_probe_hosts)),
	ps.join_quote(_probe_hosts),
])) if {
	count(_probe_containers) > 0
}
