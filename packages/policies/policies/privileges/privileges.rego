# privileges: no privileged containers, no privilege escalation, no added capabilities beyond
# data.sluice.params.privileges.allowedCapabilities (default ["NET_BIND_SERVICE"]), no host
# network/PID/IPC namespaces, no hostPath volumes (Docker: host-path binds) unless the path is
# on data.sluice.params.privileges.allowedHostPaths ([{"path": "/var/log", "readOnly": true}]:
# the path or anything below it; readOnly: true means every use must be read-only), and a
# warning for containers without readOnlyRootFilesystem: true. Applies to every container,
# init and ephemeral ones included.
#
# Rule ids: privileges/privileged, privileges/allow-privilege-escalation (deny when true, warn
#           when not set to false), privileges/capabilities, privileges/host-network,
#           privileges/host-pid, privileges/host-ipc, privileges/host-path,
#           privileges/read-only-root-filesystem (warn), params/invalid
package sluice.policies.privileges

import future.keywords.not

import data.sluice.lib.workload as wl

# --- container level ----------------------------------------------------------------------

deny contains wl.violation("privileges/privileged", c, ["is privileged (securityContext.privileged: true)"]) if {
	some c in wl.containers
	wl.security_context(c).privileged == true
}

deny contains wl.violation("privileges/allow-privilege-escalation", c, ["allows privilege escalation (securityContext.allowPrivilegeEscalation: true)"]) if {
	some c in wl.containers
	wl.security_context(c).allowPrivilegeEscalation == true
}

warn contains wl.violation("privileges/allow-privilege-escalation", c, ["does not set securityContext.allowPrivilegeEscalation: false", _escalation_hint]) if {
	some c in wl.containers
	not wl.security_context(c).allowPrivilegeEscalation == true
	not wl.security_context(c).allowPrivilegeEscalation == false
}

_escalation_hint := " (Docker: --security-opt no-new-privileges)" if wl.is_docker

else := ""

deny contains wl.violation("privileges/capabilities", c, ["adds capability ", cap, " (allowed: ", _allowed_caps_text, ")"]) if {
	some c in wl.containers
	some added in _added_caps(c)
	cap := _cap_name(added)
	not cap in _allowed_caps
}

warn contains wl.violation("privileges/read-only-root-filesystem", c, ["does not set securityContext.readOnlyRootFilesystem: true"]) if {
	some c in wl.containers
	not wl.security_context(c).readOnlyRootFilesystem == true
}

_added_caps(c) := caps if {
	caps := object.get(wl.security_context(c), ["capabilities", "add"], [])
	is_array(caps)
} else := []

# "cap_sys_admin", "CAP_SYS_ADMIN" and "SYS_ADMIN" all name SYS_ADMIN.
_cap_name(x) := trim_prefix(upper(x), "CAP_") if is_string(x)

else := wl.show(x)

_allowed_caps contains _cap_name(x) if {
	some x in _allowed_caps_param
}

_allowed_caps_param := wl.param(["privileges", "allowedCapabilities"], ["NET_BIND_SERVICE"])

_allowed_caps_text := concat(", ", sort(_allowed_caps)) if count(_allowed_caps) > 0

else := "none"

# --- pod level: host namespaces -----------------------------------------------------------

_host_namespaces := {
	"hostNetwork": ["privileges/host-network", "network", "NetworkMode"],
	"hostPID": ["privileges/host-pid", "PID", "PidMode"],
	"hostIPC": ["privileges/host-ipc", "IPC", "IpcMode"],
}

deny contains wl.pod_violation(rule, ["workload uses the host ", ns, " namespace (", field, ")"]) if {
	some field, [rule, ns, _] in _host_namespaces
	wl.pod[field] == true
}

# Raw Docker inspect, in case the normalized view missed it (same message, so no duplicate).
deny contains wl.pod_violation(rule, ["workload uses the host ", ns, " namespace (", field, ")"]) if {
	some field, [rule, ns, docker_field] in _host_namespaces
	input.docker.container.HostConfig[docker_field] == "host"
}

# --- pod level: host paths ----------------------------------------------------------------

deny contains wl.pod_violation("privileges/host-path", ["volume ", wl.q(_volume_name(v)), " mounts host path ", wl.q(path), " which is not on the allowed host paths (", _allowed_paths_text, ")"]) if {
	some v in _host_path_volumes
	path := _host_path(v)
	count(_matching_entries(path)) == 0
}

# A writable container mount of a host path that is only allowed read-only.
deny contains wl.violation("privileges/host-path", c, ["mounts host path ", wl.q(_host_path(v)), " (volume ", wl.q(_volume_name(v)), ") writable; it is only allowed read-only"]) if {
	some v in _host_path_volumes
	_read_only_required(_host_path(v))
	not v.readOnly == true
	some c in wl.containers
	some m in _mounts(c)
	m.name == v.name
	not m.readOnly == true
}

# A host-path volume declared writable (Docker bind without :ro).
deny contains wl.pod_violation("privileges/host-path", ["volume ", wl.q(_volume_name(v)), " mounts host path ", wl.q(_host_path(v)), " writable; it is only allowed read-only"]) if {
	some v in _host_path_volumes
	_read_only_required(_host_path(v))
	v.readOnly == false
}

# An array, like wl.containers (cheap to iterate in Wasm).
_host_path_volumes := [v |
	some v in object.get(wl.pod, "volumes", [])
	is_object(v)
	v.hostPath != null
]

_volume_name(v) := n if {
	n := v.name
	is_string(n)
} else := "<unnamed>"

# A hostPath without a string path reads as "", which no allowlist entry covers.
_host_path(v) := p if {
	p := v.hostPath.path
	is_string(p)
} else := ""

_mounts(c) := ms if {
	ms := c.volumeMounts
	is_array(ms)
} else := []

# The allowlist entries covering path: the entry's path itself or anything below it. Paths
# that are relative or contain ".." never match. Looked up per volume path, computed once.
_matching_entries(path) := _matching[path]

_matching[path] := _covering_entries(path) if {
	some v in _host_path_volumes
	path := _host_path(v)
}

_covering_entries(path) := {e |
	some e in _allowed_paths
	_covers(_clean(e.path), _clean(path))
}

_covers(allowed, path) if {
	startswith(path, "/")
	not contains(concat("", [path, "/"]), "/../")
	_under(allowed, path)
}

_under(allowed, path) if allowed == path

_under(allowed, path) if startswith(path, concat("", [trim_suffix(allowed, "/"), "/"]))

# "/var/log/" -> "/var/log"; "/" stays "/".
_clean(p) := trim_suffix(p, "/") if {
	is_string(p)
	p != "/"
} else := p

# Read-only is required when no covering entry allows writes.
_read_only_required(path) if {
	entries := _matching_entries(path)
	count(entries) > 0
	every e in entries {
		e.readOnly == true
	}
}

_allowed_paths contains e if {
	some e in _allowed_paths_param
	is_object(e)
	is_string(e.path)
}

_allowed_paths_param := wl.param(["privileges", "allowedHostPaths"], [])

_allowed_paths_text := concat(", ", sort({_entry_text(e) | some e in _allowed_paths})) if {
	count(_allowed_paths) > 0
} else := "none"

_entry_text(e) := concat("", [e.path, " (read-only)"]) if e.readOnly == true

else := e.path

# --- parameters ---------------------------------------------------------------------------

deny contains wl.pod_violation("params/invalid", ["parameter privileges.allowedCapabilities must be an array of strings"]) if {
	not _string_array(_allowed_caps_param)
}

deny contains wl.pod_violation("params/invalid", ["parameter privileges.allowedHostPaths must be an array of {\"path\": string, \"readOnly\": bool}"]) if {
	not _host_paths_valid
}

_string_array(x) if {
	is_array(x)
	every s in x {
		is_string(s)
	}
}

_host_paths_valid if {
	is_array(_allowed_paths_param)
	every e in _allowed_paths_param {
		is_object(e)
		is_string(e.path)
	}
}
