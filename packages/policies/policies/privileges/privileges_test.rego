package sluice.policies.privileges_test

import data.sluice.policies.privileges as p
import data.sluice.test.fixtures as fx

params := {
	"privileges": {
		"allowedCapabilities": ["NET_BIND_SERVICE"],
		"allowedHostPaths": [
			{"path": "/var/log", "readOnly": true},
			{"path": "/proc", "readOnly": true},
			{"path": "/var/lib/agent/", "readOnly": false},
		],
	},
}

host_path_input(volumes, mounts) := json.patch(fx.k8s, [
	{"op": "replace", "path": "/workload/pod/volumes", "value": volumes},
	{"op": "replace", "path": "/workload/containers/0/volumeMounts", "value": mounts},
])

test_compliant_workload_has_no_denies_or_warnings if {
	count(p.deny) == 0 with input as fx.k8s with data.sluice.params as params
	count(p.warn) == 0 with input as fx.k8s with data.sluice.params as params
}

test_privileged_container_denies if {
	d := p.deny with input as fx.with_container({"securityContext": {"privileged": true}}) with data.sluice.params as params
	d == {{"rule": "privileges/privileged", "container": "agent", "message": "container \"agent\" is privileged (securityContext.privileged: true)"}}
}

test_privileged_ephemeral_container_denies if {
	inp := fx.with_containers([{}, {"name": "debug", "type": "ephemeral", "securityContext": {"privileged": true}}])
	d := p.deny with input as inp with data.sluice.params as params
	{[v.rule, v.container] | some v in d} == {["privileges/privileged", "debug"]}
}

test_allow_privilege_escalation_true_denies if {
	d := p.deny with input as fx.with_container({"securityContext": {"allowPrivilegeEscalation": true}}) with data.sluice.params as params
	fx.messages(d, "privileges/allow-privilege-escalation") == {"container \"agent\" allows privilege escalation (securityContext.allowPrivilegeEscalation: true)"}
}

test_unset_allow_privilege_escalation_warns if {
	inp := fx.with_container({"securityContext": {"allowPrivilegeEscalation": null}})
	count(p.deny) == 0 with input as inp with data.sluice.params as params
	fx.messages(p.warn, "privileges/allow-privilege-escalation") == {"container \"agent\" does not set securityContext.allowPrivilegeEscalation: false"} with input as inp with data.sluice.params as params
}

test_unset_allow_privilege_escalation_on_docker_hints_no_new_privileges if {
	inp := fx.docker_with_container({"securityContext": {"allowPrivilegeEscalation": null}})
	fx.messages(p.warn, "privileges/allow-privilege-escalation") == {"container \"agent\" does not set securityContext.allowPrivilegeEscalation: false (Docker: --security-opt no-new-privileges)"} with input as inp with data.sluice.params as params
}

test_added_capability_outside_allowlist_denies if {
	d := p.deny with input as fx.with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}}}) with data.sluice.params as params
	d == {{"rule": "privileges/capabilities", "container": "agent", "message": "container \"agent\" adds capability SYS_ADMIN (allowed: NET_BIND_SERVICE)"}}
}

test_capability_names_are_normalized if {
	# Docker CapAdd may say CAP_NET_BIND_SERVICE or lower case.
	inp := fx.docker_with_container({"securityContext": {"capabilities": {"add": ["CAP_NET_BIND_SERVICE", "net_bind_service"]}}})
	count(p.deny) == 0 with input as inp with data.sluice.params as params
	bad := fx.docker_with_container({"securityContext": {"capabilities": {"add": ["cap_sys_ptrace"]}}})
	fx.messages(p.deny, "privileges/capabilities") == {"container \"agent\" adds capability SYS_PTRACE (allowed: NET_BIND_SERVICE)"} with input as bad with data.sluice.params as params
}

test_all_capabilities_denied_unless_allowed if {
	inp := fx.with_container({"securityContext": {"capabilities": {"add": ["ALL"]}}})
	fx.rules(p.deny) == {"privileges/capabilities"} with input as inp with data.sluice.params as params
	count(p.deny) == 0 with input as inp with data.sluice.params as {"privileges": {"allowedCapabilities": ["ALL"]}}
}

test_empty_capability_allowlist_denies_every_added_capability if {
	inp := fx.with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}})
	fx.messages(p.deny, "privileges/capabilities") == {"container \"agent\" adds capability NET_BIND_SERVICE (allowed: none)"} with input as inp with data.sluice.params as {"privileges": {"allowedCapabilities": []}}
}

test_default_capability_allowlist_is_net_bind_service if {
	inp := fx.with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}})
	count(p.deny) == 0 with input as inp with data.sluice.params as {}
}

test_non_string_capability_denies if {
	inp := fx.with_container({"securityContext": {"capabilities": {"add": [7]}}})
	fx.messages(p.deny, "privileges/capabilities") == {"container \"agent\" adds capability 7 (allowed: NET_BIND_SERVICE)"} with input as inp with data.sluice.params as params
}

test_malformed_capabilities_add_is_ignored if {
	inp := fx.with_container({"securityContext": {"capabilities": {"add": "SYS_ADMIN"}}})
	count(p.deny) == 0 with input as inp with data.sluice.params as params

	# an object's values are not a list of added capabilities either
	obj := fx.with_container({"securityContext": {"capabilities": {"add": {"a": "SYS_ADMIN"}}}})
	count(p.deny) == 0 with input as obj with data.sluice.params as params
}

test_host_namespaces_deny if {
	inp := fx.with_pod({"hostNetwork": true, "hostPID": true, "hostIPC": true})
	d := p.deny with input as inp with data.sluice.params as params
	d == {
		{"rule": "privileges/host-network", "message": "workload uses the host network namespace (hostNetwork)"},
		{"rule": "privileges/host-pid", "message": "workload uses the host PID namespace (hostPID)"},
		{"rule": "privileges/host-ipc", "message": "workload uses the host IPC namespace (hostIPC)"},
	}
}

test_raw_docker_host_modes_deny_like_normalized_ones if {
	inp := json.patch(fx.docker, [
		{"op": "replace", "path": "/docker/container/HostConfig/NetworkMode", "value": "host"},
		{"op": "replace", "path": "/docker/container/HostConfig/PidMode", "value": "host"},
		{"op": "replace", "path": "/workload/pod/hostNetwork", "value": true},
	])
	d := p.deny with input as inp with data.sluice.params as params
	fx.rules(d) == {"privileges/host-network", "privileges/host-pid"}
	count(d) == 2
}

test_host_path_not_on_allowlist_denies if {
	inp := host_path_input([{"name": "etc", "hostPath": {"path": "/etc"}}], [{"name": "etc", "mountPath": "/etc-host", "readOnly": true}])
	d := p.deny with input as inp with data.sluice.params as params
	d == {{"rule": "privileges/host-path", "message": "volume \"etc\" mounts host path \"/etc\" which is not on the allowed host paths (/proc (read-only), /var/lib/agent/, /var/log (read-only))"}}
}

test_allowed_read_only_host_path_mounted_read_only_is_allowed if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log"}}], [{"name": "logs", "mountPath": "/host/log", "readOnly": true}])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_subdirectory_of_allowed_host_path_is_allowed if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log/pods/"}}], [{"name": "logs", "mountPath": "/host/log", "readOnly": true}])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_sibling_with_common_prefix_is_not_allowed if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/logs"}}], [])
	fx.rules(p.deny) == {"privileges/host-path"} with input as inp with data.sluice.params as params
}

test_path_traversal_and_relative_paths_are_not_allowed if {
	every path in ["/var/log/../../etc", "/var/log/..", "var/log", ""] {
		inp := host_path_input([{"name": "logs", "hostPath": {"path": path}}], [])
		fx.rules(p.deny) == {"privileges/host-path"} with input as inp with data.sluice.params as params
	}
}

test_host_path_without_path_denies if {
	inp := host_path_input([{"name": "weird", "hostPath": {}}], [])
	fx.messages(p.deny, "privileges/host-path") == {"volume \"weird\" mounts host path \"\" which is not on the allowed host paths (/proc (read-only), /var/lib/agent/, /var/log (read-only))"} with input as inp with data.sluice.params as params
}

test_unnamed_host_path_volume_still_denies if {
	inp := host_path_input([{"hostPath": {"path": "/"}}], [])
	fx.rules(p.deny) == {"privileges/host-path"} with input as inp with data.sluice.params as params
}

test_writable_mount_of_read_only_host_path_denies_naming_container if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log"}}], [{"name": "logs", "mountPath": "/host/log", "readOnly": false}])
	d := p.deny with input as inp with data.sluice.params as params
	d == {{"rule": "privileges/host-path", "container": "agent", "message": "container \"agent\" mounts host path \"/var/log\" (volume \"logs\") writable; it is only allowed read-only"}}
}

test_mount_without_read_only_counts_as_writable if {
	inp := host_path_input([{"name": "proc", "hostPath": {"path": "/proc"}}], [{"name": "proc", "mountPath": "/host/proc"}])
	fx.rules(p.deny) == {"privileges/host-path"} with input as inp with data.sluice.params as params
}

test_writable_host_path_allowed_when_entry_allows_writes if {
	inp := host_path_input([{"name": "state", "hostPath": {"path": "/var/lib/agent/state"}}], [{"name": "state", "mountPath": "/state", "readOnly": false}])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_docker_writable_bind_of_read_only_path_denies if {
	inp := json.patch(fx.docker, [{"op": "replace", "path": "/workload/pod/volumes", "value": [{"name": "bind-0", "hostPath": {"path": "/var/log"}, "readOnly": false}]}])
	fx.messages(p.deny, "privileges/host-path") == {"volume \"bind-0\" mounts host path \"/var/log\" writable; it is only allowed read-only"} with input as inp with data.sluice.params as params
}

test_docker_read_only_bind_is_allowed_even_if_mount_omits_read_only if {
	inp := json.patch(fx.docker, [
		{"op": "replace", "path": "/workload/pod/volumes", "value": [{"name": "bind-0", "hostPath": {"path": "/proc"}, "readOnly": true}]},
		{"op": "replace", "path": "/workload/containers/0/volumeMounts", "value": [{"name": "bind-0", "mountPath": "/host/proc"}]},
	])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_non_host_path_volumes_are_ignored if {
	inp := host_path_input([{"name": "cache"}, {"name": "cfg", "hostPath": null}], [{"name": "cache", "mountPath": "/cache", "readOnly": false}])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_no_allowed_host_paths_configured_denies_every_host_path if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log"}}], [])
	fx.messages(p.deny, "privileges/host-path") == {"volume \"logs\" mounts host path \"/var/log\" which is not on the allowed host paths (none)"} with input as inp with data.sluice.params as {}
}

test_missing_read_only_root_filesystem_warns if {
	inp := fx.with_container({"securityContext": {"readOnlyRootFilesystem": false}})
	count(p.deny) == 0 with input as inp with data.sluice.params as params
	p.warn == {{"rule": "privileges/read-only-root-filesystem", "container": "agent", "message": "container \"agent\" does not set securityContext.readOnlyRootFilesystem: true"}} with input as inp with data.sluice.params as params
}

test_invalid_parameters_deny if {
	d := p.deny with input as fx.k8s with data.sluice.params as {"privileges": {"allowedCapabilities": "NET_BIND_SERVICE", "allowedHostPaths": [{"path": 1}]}}
	fx.messages(d, "params/invalid") == {
		"parameter privileges.allowedCapabilities must be an array of strings",
		"parameter privileges.allowedHostPaths must be an array of {\"path\": string, \"readOnly\": bool}",
	}
}

test_setting_allow_privilege_escalation_true_denies_without_the_warning if {
	inp := fx.with_container({"securityContext": object.union(fx.container.securityContext, {"allowPrivilegeEscalation": true})})
	fx.rules(p.deny) == {"privileges/allow-privilege-escalation"} with input as inp with data.sluice.params as params
	fx.with_rule(p.warn, "privileges/allow-privilege-escalation") == set() with input as inp with data.sluice.params as params
}

test_a_writable_mount_of_another_volume_is_not_a_host_path_use if {
	inp := host_path_input(
		[{"name": "logs", "hostPath": {"path": "/var/log"}, "readOnly": true}, {"name": "scratch", "emptyDir": {}}],
		[{"name": "scratch", "mountPath": "/tmp"}],
	)
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_a_writable_volume_of_a_path_allowed_writable_is_allowed if {
	inp := host_path_input([{"name": "state", "hostPath": {"path": "/var/lib/agent"}, "readOnly": false}], [{"name": "state", "mountPath": "/s"}])
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_a_path_not_allowed_at_all_is_one_violation if {
	inp := host_path_input([{"name": "etc", "hostPath": {"path": "/etc"}}], [{"name": "etc", "mountPath": "/etc"}])
	d := p.deny with input as inp with data.sluice.params as {"privileges": {"allowedHostPaths": [{"path": "/var/log", "readOnly": true}]}}
	d == {{"rule": "privileges/host-path", "message": "volume \"etc\" mounts host path \"/etc\" which is not on the allowed host paths (/var/log (read-only))"}}
}

test_unnamed_volumes_and_non_string_paths if {
	inp := host_path_input([{"hostPath": {"path": "/etc"}}, {"name": 5, "hostPath": {"path": 5}}], [])
	fx.messages(p.deny, "privileges/host-path") == {
		"volume \"<unnamed>\" mounts host path \"/etc\" which is not on the allowed host paths (none)",
		"volume \"<unnamed>\" mounts host path \"\" which is not on the allowed host paths (none)",
	} with input as inp with data.sluice.params as {"privileges": {"allowedHostPaths": []}}
}

read_only_volume(path) := host_path_input([{"name": "v", "hostPath": {"path": path}, "readOnly": true}], [])

only(entry) := {"privileges": {"allowedHostPaths": [entry]}}

test_host_path_matching_is_by_whole_segments_and_absolute_paths if {
	fx.rules(p.deny) == {"privileges/host-path"} with input as read_only_volume("var/log") with data.sluice.params as only({"path": "var/log", "readOnly": true})
	fx.rules(p.deny) == {"privileges/host-path"} with input as read_only_volume("/var/logs") with data.sluice.params as only({"path": "/var/log", "readOnly": true})
	count(p.deny) == 0 with input as read_only_volume("/var/lib/agent") with data.sluice.params as only({"path": "/var/lib/agent/", "readOnly": true})
	count(p.deny) == 0 with input as read_only_volume("/") with data.sluice.params as only({"path": "/", "readOnly": true})
}

test_a_writable_entry_wins_over_a_read_only_one if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log"}}], [{"name": "logs", "mountPath": "/l"}])
	count(p.deny) == 0 with input as inp with data.sluice.params as {"privileges": {"allowedHostPaths": [{"path": "/var", "readOnly": false}, {"path": "/var/log", "readOnly": true}]}}
}

test_malformed_privilege_parameters_are_invalid if {
	bad := [
		{"allowedCapabilities": {"a": "NET_RAW"}},
		{"allowedCapabilities": ["NET_BIND_SERVICE", 5]},
		{"allowedHostPaths": {"a": {"path": "/x"}}},
	]
	every b in bad {
		fx.rules(p.deny) == {"params/invalid"} with input as fx.k8s with data.sluice.params as {"privileges": b}
	}
	msg := "volume \"etc\" mounts host path \"/etc\" which is not on the allowed host paths (none)"
	fx.messages(p.deny, "privileges/host-path") == {msg} with input as host_path_input([{"name": "etc", "hostPath": {"path": "/etc"}}], []) with data.sluice.params as {"privileges": {"allowedHostPaths": [{"path": 5}]}}
}

# The volume is not read-only, so each mount of it must be; a writable mount of another volume
# in the same container is not a use of the host path.
test_only_mounts_of_the_host_path_volume_must_be_read_only if {
	inp := host_path_input(
		[{"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "scratch", "emptyDir": {}}],
		[{"name": "logs", "mountPath": "/l", "readOnly": true}, {"name": "scratch", "mountPath": "/tmp", "readOnly": false}],
	)
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

# volumeMounts that is not a list reads as no mounts: an object's values are not mounts.
test_volume_mounts_given_as_an_object_are_no_mounts if {
	inp := host_path_input([{"name": "logs", "hostPath": {"path": "/var/log"}}], {"l": {"name": "logs", "mountPath": "/l", "readOnly": false}})
	count(p.deny) == 0 with input as inp with data.sluice.params as params
}

test_the_root_allows_every_absolute_path_below_it if {
	count(p.deny) == 0 with input as read_only_volume("/var/log") with data.sluice.params as only({"path": "/", "readOnly": true})
	fx.rules(p.deny) == {"privileges/host-path"} with input as read_only_volume("var/log") with data.sluice.params as only({"path": "/", "readOnly": true})
}
