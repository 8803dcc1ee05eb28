package sluice.policies.pod_security_baseline_test

import data.sluice.policies.pod_security_baseline as b

baseline := {"podSecurity": {"profiles": ["pod-security/baseline"]}}

restricted := {"podSecurity": {"profiles": ["pod-security/restricted"]}}

pod(spec) := {"kubernetes": {"object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}}

pod_meta(meta, spec) := {"kubernetes": {"object": {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}}}

one(sc) := pod({"containers": [{"name": "agent", "image": "a", "securityContext": sc}]})

# rule -> message of the baseline package's denies
denies(inp, params) := {v.rule: v.message | some v in b.deny with input as inp with data.sluice.params as params}

test_no_profile_selected_denies_nothing if {
	count(b.deny) == 0 with input as pod({"hostNetwork": true, "containers": [{"name": "a"}]}) with data.sluice.params as {}
	count(b.deny) == 0 with input as pod({"hostNetwork": true, "containers": [{"name": "a"}]}) with data.sluice.params as {"podSecurity": {"profiles": null}}
}

test_compliant_pod_is_allowed if {
	denies(pod({"containers": [{"name": "a", "image": "a"}]}), baseline) == {}
}

test_unknown_profile_is_invalid_and_counts_as_restricted if {
	d := denies(pod({"containers": [{"name": "a"}]}), {"podSecurity": {"profiles": ["pod-security/privileged"]}})
	d["params/invalid"] == "podSecurity.profiles: unknown profile \"pod-security/privileged\" (known: \"pod-security/baseline\", \"pod-security/restricted\")"
}

test_profiles_not_a_list_is_invalid if {
	d := denies(pod({"containers": [{"name": "a"}]}), {"podSecurity": {"profiles": "pod-security/baseline"}})
	startswith(d["params/invalid"], "podSecurity.profiles must be a list of ")
}

test_no_pod_spec_denies if {
	d := denies({"workload": {"platform": "docker"}}, restricted)
	d == {"pod-security/no-pod-spec": "the restricted Pod Security profile is selected, but the workload has no Kubernetes pod spec (input.kubernetes.object: a Pod, or a workload with spec.template)"}
	denies({"kubernetes": {"object": {"kind": "ConfigMap"}}}, baseline)["pod-security/no-pod-spec"]
}

test_host_namespaces if {
	d := denies(pod({"hostNetwork": true, "hostPID": false, "hostIPC": true, "containers": [{"name": "a"}]}), baseline)
	d["pod-security/hostNamespaces"] == "host namespaces (hostNetwork=true, hostIPC=true)"
}

test_privileged_names_every_container_kind_in_order if {
	inp := pod({
		"initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
		"containers": [{"name": "a", "securityContext": {"privileged": true}}, {"name": "b", "securityContext": {"privileged": false}}],
		"ephemeralContainers": [{"name": "e", "securityContext": {"privileged": true}}],
	})
	denies(inp, baseline)["pod-security/privileged"] == "privileged (containers \"i\", \"a\", \"e\" must not set securityContext.privileged=true)"
}

test_capabilities_baseline if {
	inp := pod({"containers": [
		{"name": "a", "securityContext": {"capabilities": {"add": ["NET_RAW", "CHOWN", "SYS_ADMIN"]}}},
		{"name": "b", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}},
	]})
	d := denies(inp, baseline)
	d["pod-security/capabilities_baseline"] == "non-default capabilities (container \"a\" must not include \"NET_RAW\", \"SYS_ADMIN\" in securityContext.capabilities.add)"
	not denies(inp, restricted)["pod-security/capabilities_baseline"]
}

test_host_path_volumes if {
	inp := pod({"containers": [{"name": "a"}], "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "w", "emptyDir": {}}, {"name": "x", "hostPath": {"path": "/x"}}]})
	denies(inp, baseline)["pod-security/hostPathVolumes"] == "hostPath volumes (volumes \"v\", \"x\")"
	not denies(inp, restricted)["pod-security/hostPathVolumes"]
}

test_host_ports_sorted_as_text_and_defaulted_under_host_network if {
	inp := pod({"containers": [
		{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 10000}]},
		{"name": "b", "ports": [{"containerPort": 90}]},
	]})
	denies(inp, baseline)["pod-security/hostPorts"] == "hostPort (container \"a\" uses hostPorts 10000, 8080)"
	net := pod({"hostNetwork": true, "containers": [{"name": "a", "ports": [{"containerPort": 80}]}], "initContainers": [{"name": "i", "ports": [{"containerPort": 81, "hostPort": 81}]}]})
	denies(net, baseline)["pod-security/hostPorts"] == "hostPort (containers \"i\", \"a\" use hostPorts 80, 81)"
}

test_apparmor_fields_and_annotations if {
	inp := pod_meta(
		{"annotations": {
			"container.apparmor.security.beta.kubernetes.io/b": "unconfined",
			"container.apparmor.security.beta.kubernetes.io/c": "runtime/default",
		}},
		{
			"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
			"containers": [
				{"name": "a", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}}},
				{"name": "b"},
				{"name": "c"},
			],
		},
	)

	# b's annotation equals the pod's profile, so it is not copied to b's field; it is forbidden itself.
	denies(inp, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/b=\"unconfined\"\")"
}

test_apparmor_annotation_synced_to_the_container if {
	inp := pod_meta({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined", "container.apparmor.security.beta.kubernetes.io/b": "localhost/"}}, {"containers": [{"name": "a"}, {"name": "b"}]})
	denies(inp, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profiles (container \"a\" and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")"
	win := pod_meta({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	denies(win, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profile (annotation must not set AppArmor profile type to \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")"
	ok := pod_meta({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "localhost/p"}}, {"containers": [{"name": "a"}]})
	not denies(ok, baseline)["pod-security/appArmorProfile"]
}

test_selinux_options if {
	inp := pod({
		"securityContext": {"seLinuxOptions": {"type": "spc_t", "role": "r"}},
		"containers": [
			{"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_t", "user": "u"}}},
			{"name": "b", "securityContext": {"seLinuxOptions": {"type": "unconfined_t", "user": "u"}}},
			{"name": "c", "securityContext": {"seLinuxOptions": {"type": "container_engine_t", "level": "s0"}}},
		],
	})
	denies(inp, baseline)["pod-security/seLinuxOptions"] == "seLinuxOptions (pod and containers \"a\", \"b\" set forbidden securityContext.seLinuxOptions: types \"spc_t\", \"unconfined_t\"; user may not be set; role may not be set)"
	only_user := one({"seLinuxOptions": {"user": "u"}})
	denies(only_user, baseline)["pod-security/seLinuxOptions"] == "seLinuxOptions (container \"agent\" set forbidden securityContext.seLinuxOptions: user may not be set)"
}

test_proc_mount_and_the_user_namespace_exemption if {
	inp := pod({"containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}, {"name": "b", "securityContext": {"procMount": "Default"}}]})
	denies(inp, baseline)["pod-security/procMount"] == "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\")"
	userns := pod({"hostUsers": false, "containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]})
	not denies(userns, baseline)["pod-security/procMount"]
}

test_seccomp_baseline if {
	inp := pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [
		{"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
		{"name": "b"},
	]})
	denies(inp, baseline)["pod-security/seccompProfile_baseline"] == "seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"
	unset := pod({"containers": [{"name": "a"}]})
	not denies(unset, baseline)["pod-security/seccompProfile_baseline"]
}

test_sysctls_in_order if {
	inp := pod({"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1"}, {"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}, {"name": "kernel.msgmax", "value": "1"}]}, "containers": [{"name": "a"}]})
	denies(inp, baseline)["pod-security/sysctls"] == "forbidden sysctls (net.core.somaxconn, kernel.msgmax)"
}

test_windows_host_process if {
	inp := pod({"securityContext": {"windowsOptions": {"hostProcess": true}}, "containers": [
		{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}},
		{"name": "b"},
	]})
	denies(inp, baseline)["pod-security/windowsHostProcess"] == "hostProcess (pod and container \"a\" must not set securityContext.windowsOptions.hostProcess=true)"
}

test_probe_and_lifecycle_hosts_sorted if {
	inp := pod({"containers": [
		{"name": "z", "livenessProbe": {"httpGet": {"port": 80, "host": "b.example"}}, "lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "a.example"}}}},
		{"name": "m", "startupProbe": {"tcpSocket": {"port": 80, "host": "b.example"}}, "readinessProbe": {"httpGet": {"port": 80, "host": ""}}},
		{"name": "n", "lifecycle": {"postStart": {"httpGet": {"port": 80}}}},
	]})
	denies(inp, baseline)["pod-security/hostProbesAndHostLifecycle"] == "probe or lifecycle host (containers \"m\", \"z\" use probe or lifecycle hosts \"a.example\", \"b.example\")"
}

test_workload_templates if {
	ds := {"kubernetes": {"object": {"kind": "DaemonSet", "spec": {"template": {"spec": {"hostPID": true, "containers": [{"name": "a"}]}}}}}}
	denies(ds, baseline)["pod-security/hostNamespaces"] == "host namespaces (hostPID=true)"
	cron := {"kubernetes": {"object": {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostIPC": true, "containers": [{"name": "a"}]}}}}}}}}
	denies(cron, baseline)["pod-security/hostNamespaces"] == "host namespaces (hostIPC=true)"
}

# --- the target namespace's labels -----------------------------------------------------------------

in_namespace(labels, spec) := {"kubernetes": {
	"object": {"kind": "DaemonSet", "metadata": {"namespace": "agents"}, "spec": {"template": {"spec": spec}}},
	"namespace": {"name": "observability", "labels": labels},
}}

no_root := {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}]}

warns(inp, params) := {v.rule: v.message | some v in b.warn with input as inp with data.sluice.params as params}

test_namespace_enforce_restricted_denies_naming_the_namespace if {
	inp := in_namespace({"pod-security.kubernetes.io/enforce": "restricted"}, no_root)
	denies(inp, {}) == {"pod-security/runAsNonRoot": "namespace \"observability\" (pod-security.kubernetes.io/enforce=restricted): runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
	warns(inp, {}) == {}
}

test_namespace_enforce_baseline_lets_it_through if {
	inp := in_namespace({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "latest"}, no_root)
	denies(inp, {}) == {}
	warns(inp, {}) == {}
}

test_namespace_warn_and_audit_levels_warn if {
	inp := in_namespace({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}, no_root)
	denies(inp, {}) == {}
	warns(inp, {}) == {"pod-security/runAsNonRoot": "namespace \"observability\" (pod-security.kubernetes.io/warn=restricted): runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
	audit := in_namespace({"pod-security.kubernetes.io/audit": "restricted"}, no_root)
	warns(audit, {}) == {"pod-security/runAsNonRoot": "namespace \"observability\" (pod-security.kubernetes.io/audit=restricted): runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
	bogus_warn := in_namespace({"pod-security.kubernetes.io/warn": "strict"}, no_root)
	warns(bogus_warn, {}) == {}
}

test_namespace_enforce_unknown_level_counts_as_restricted if {
	inp := {"kubernetes": {
		"object": {"kind": "Pod", "metadata": {"namespace": "agents"}, "spec": no_root},
		"namespace": {"labels": {"pod-security.kubernetes.io/enforce": "strict"}},
	}}
	denies(inp, {}) == {"pod-security/runAsNonRoot": "namespace \"agents\" (pod-security.kubernetes.io/enforce=strict): runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
}

test_a_selected_profile_at_least_as_strict_speaks_for_itself if {
	inp := in_namespace({"pod-security.kubernetes.io/enforce": "baseline"}, no_root)
	denies(inp, {"podSecurity": {"profiles": ["pod-security/restricted"]}}) == {"pod-security/runAsNonRoot": "runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
}

# The spec's profiles arrive as input.params with every evaluation of a rollout: they apply with
# no data at all, and override data.sluice.params key by key.
test_spec_profiles_in_input_params_apply_without_data if {
	inp := object.union(pod({"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}]}), {"params": restricted})
	denies(inp, {})["pod-security/runAsNonRoot"]
}

test_spec_and_data_profiles_add_up_strictest_wins if {
	host := pod({"hostNetwork": true, "containers": [{"name": "a"}]})

	# an empty selection in the spec does not drop the data's baseline, nor the reverse
	denies(object.union(host, {"params": {"podSecurity": {"profiles": []}}}), baseline)["pod-security/hostNamespaces"]
	denies(object.union(host, {"params": baseline}), {"podSecurity": {"profiles": []}})["pod-security/hostNamespaces"]

	# the spec's baseline does not weaken the data's restricted
	d := denies(object.union(one({}), {"params": baseline}), restricted)
	d["pod-security/runAsNonRoot"]
}

test_malformed_spec_selection_is_invalid if {
	d := denies(object.union(pod({"containers": [{"name": "a"}]}), {"params": {"podSecurity": {"profiles": "pod-security/baseline"}}}), {})
	startswith(d["params/invalid"], "podSecurity.profiles must be a list of ")
}

# --- boundaries: one offender, the singular wording, the lists the apiserver allows -------------

test_a_single_offender_is_reported_in_the_singular if {
	d := denies(
		pod({
			"hostNetwork": true,
			"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}], "seLinuxOptions": {"type": "spc_t"}, "windowsOptions": {"hostProcess": true}},
			"volumes": [{"name": "v", "hostPath": {"path": "/"}}],
			"containers": [{
				"name": "a",
				"ports": [{"containerPort": 80, "hostPort": 8080}],
				"livenessProbe": {"httpGet": {"port": 80, "host": "a.example"}},
				"securityContext": {"privileged": true, "capabilities": {"add": ["NET_RAW"]}},
			}],
		}),
		baseline,
	)
	d["pod-security/privileged"] == "privileged (container \"a\" must not set securityContext.privileged=true)"
	d["pod-security/capabilities_baseline"] == "non-default capabilities (container \"a\" must not include \"NET_RAW\" in securityContext.capabilities.add)"
	d["pod-security/hostPathVolumes"] == "hostPath volumes (volume \"v\")"
	d["pod-security/hostPorts"] == "hostPort (container \"a\" uses hostPort 8080)"
	d["pod-security/seLinuxOptions"] == "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type \"spc_t\")"
	d["pod-security/sysctls"] == "forbidden sysctls (kernel.msgmax)"
	d["pod-security/windowsHostProcess"] == "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)"
	d["pod-security/hostProbesAndHostLifecycle"] == "probe or lifecycle host (container \"a\" uses probe or lifecycle host \"a.example\")"
}

test_host_port_1_is_a_host_port if {
	d := denies(pod({"containers": [{"name": "a", "ports": [{"containerPort": 1, "hostPort": 1}, {"containerPort": 2, "hostPort": 0}]}]}), baseline)
	d["pod-security/hostPorts"] == "hostPort (container \"a\" uses hostPort 1)"
}

test_host_network_keeps_an_explicit_host_port if {
	d := denies(pod({"hostNetwork": true, "containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}), baseline)
	d["pod-security/hostPorts"] == "hostPort (container \"a\" uses hostPort 8080)"
}

# The capabilities Pod Security's baseline lets a container add (check_capabilities_baseline.go).
test_every_default_capability_may_be_added if {
	caps := ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
	every cap in caps {
		not denies(one({"capabilities": {"add": [cap]}}), baseline)["pod-security/capabilities_baseline"]
	}
}

# The sysctls Pod Security's baseline allows (check_sysctls.go, v1.36).
test_every_safe_sysctl_is_allowed if {
	safe := [
		"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
		"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
		"net.ipv4.tcp_wmem",
	]
	every name in safe {
		not denies(pod({"securityContext": {"sysctls": [{"name": name, "value": "1"}]}, "containers": [{"name": "a"}]}), baseline)["pod-security/sysctls"]
	}
}

# The SELinux types Pod Security's baseline allows (check_seLinuxOptions.go).
test_every_allowed_selinux_type_passes if {
	every t in ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"] {
		not denies(one({"seLinuxOptions": {"type": t}}), baseline)["pod-security/seLinuxOptions"]
	}
	d := denies(one({"seLinuxOptions": {"role": "r"}}), baseline)
	d["pod-security/seLinuxOptions"] == "seLinuxOptions (container \"agent\" set forbidden securityContext.seLinuxOptions: role may not be set)"
}

test_an_unnamed_or_oddly_named_container_is_named_empty if {
	denies(pod({"containers": [{"securityContext": {"privileged": true}}]}), baseline)["pod-security/privileged"] == "privileged (container \"\" must not set securityContext.privileged=true)"
	denies(pod({"containers": [{"name": 5, "securityContext": {"privileged": true}}]}), baseline)["pod-security/privileged"] == "privileged (container \"\" must not set securityContext.privileged=true)"
}

test_container_apparmor_profile_and_a_null_one if {
	set := pod({"containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]})
	denies(set, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profile (container \"a\" must not set AppArmor profile type to \"Unconfined\")"

	# a null field is unset: the annotation gives the profile
	null_field := pod_meta({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}, {"containers": [{"name": "a", "securityContext": {"appArmorProfile": null}}]})
	denies(null_field, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profiles (container \"a\" and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")"
}

test_apparmor_ignores_other_annotations_and_allows_empty_ones if {
	inp := pod_meta({"annotations": {"example.com/apparmor": "unconfined", "container.apparmor.security.beta.kubernetes.io/a": ""}}, {"containers": [{"name": "a"}]})
	not denies(inp, baseline)["pod-security/appArmorProfile"]
	pod_type := pod({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "a", "securityContext": {"appArmorProfile": {}}}]})
	denies(pod_type, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profile (container \"a\" must not set AppArmor profile type to \"\")"
}

test_seccomp_null_profiles_are_unset if {
	inp := pod({"securityContext": {"seccompProfile": null}, "containers": [{"name": "a", "securityContext": {"seccompProfile": null}}]})
	not denies(inp, baseline)["pod-security/seccompProfile_baseline"]
	no_type := pod({"containers": [{"name": "a", "securityContext": {"seccompProfile": {}}}]})
	denies(no_type, baseline)["pod-security/seccompProfile_baseline"] == "seccompProfile (container \"a\" must not set securityContext.seccompProfile.type to \"\")"
	pod_no_type := pod({"securityContext": {"seccompProfile": {}}, "containers": [{"name": "a"}]})
	denies(pod_no_type, baseline)["pod-security/seccompProfile_baseline"] == "seccompProfile (pod must not set securityContext.seccompProfile.type to \"\")"
}

test_proc_mount_null_is_unset if {
	not denies(one({"procMount": null}), baseline)["pod-security/procMount"]
}

test_a_malformed_selection_fails_closed_at_the_restricted_level if {
	d := denies(pod({"hostNetwork": true, "containers": [{"name": "a"}]}), {"podSecurity": {"profiles": ["pod-security/privileged"]}})
	d["pod-security/hostNamespaces"] == "host namespaces (hostNetwork=true)"
	d["pod-security/runAsNonRoot"]
}

test_the_no_pod_spec_message_names_the_level if {
	denies({"workload": {"platform": "docker"}}, baseline)["pod-security/no-pod-spec"] == "the baseline Pod Security profile is selected, but the workload has no Kubernetes pod spec (input.kubernetes.object: a Pod, or a workload with spec.template)"

	# only a Pod's own spec is a pod spec
	denies({"kubernetes": {"object": {"kind": "Service", "spec": {"ports": []}}}}, baseline)["pod-security/no-pod-spec"]
}

test_restricted_replaces_the_baseline_proc_mount_check if {
	d := denies(pod({"containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]}), restricted)
	d["pod-security/procMount_restricted"] == "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\")"
	not d["pod-security/procMount"]
}

test_namespace_privileged_enforces_nothing_and_no_label_warns_nothing if {
	host := {"hostNetwork": true, "containers": [{"name": "a"}]}
	denies(in_namespace({"pod-security.kubernetes.io/enforce": "privileged"}, host), {}) == {}
	warns(in_namespace({}, host), {}) == {}
	warns(in_namespace({"pod-security.kubernetes.io/audit": "strict"}, host), {}) == {}
}

test_audit_stricter_than_warn_speaks_for_the_warning if {
	inp := in_namespace({"pod-security.kubernetes.io/warn": "baseline", "pod-security.kubernetes.io/audit": "restricted"}, no_root)
	warns(inp, {}) == {"pod-security/runAsNonRoot": "namespace \"observability\" (pod-security.kubernetes.io/audit=restricted): runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)"}
}

test_namespace_name_falls_back_to_the_object_then_empty if {
	labels := {"pod-security.kubernetes.io/enforce": "restricted"}
	odd_name := {"kubernetes": {
		"object": {"kind": "Pod", "metadata": {"namespace": "agents"}, "spec": no_root},
		"namespace": {"name": 5, "labels": labels},
	}}
	startswith(denies(odd_name, {})["pod-security/runAsNonRoot"], "namespace \"agents\" (pod-security.kubernetes.io/enforce=restricted): ")
	none := {"kubernetes": {
		"object": {"kind": "Pod", "metadata": {"namespace": 5}, "spec": no_root},
		"namespace": {"labels": labels},
	}}
	startswith(denies(none, {})["pod-security/runAsNonRoot"], "namespace \"\" (pod-security.kubernetes.io/enforce=restricted): ")
}

# A list field of the wrong type reads as empty, as if the pod did not set it: iterating an
# object's values instead would check entries the pod does not have (the apiserver rejects
# such a pod anyway).
test_list_fields_given_as_objects_read_as_empty if {
	containers := pod({"containers": {"a": {"name": "a", "securityContext": {"privileged": true}}}})
	denies(containers, baseline) == {}
	ports := pod({"containers": [{"name": "a", "ports": {"http": {"containerPort": 80, "hostPort": 8080}}}]})
	denies(ports, baseline) == {}
	caps := one({"capabilities": {"add": {"a": "SYS_ADMIN"}}})
	denies(caps, baseline) == {}
	sysctls := pod({"securityContext": {"sysctls": {"a": {"name": "kernel.msgmax", "value": "1"}}}, "containers": [{"name": "a"}]})
	denies(sysctls, baseline) == {}
}

# Defaulting hostPort to containerPort needs a ports list; an object is not turned into one.
test_host_network_leaves_ports_given_as_an_object_alone if {
	inp := pod({"hostNetwork": true, "containers": [{"name": "a", "ports": {"http": {"containerPort": 80}}}]})
	denies(inp, baseline) == {"pod-security/hostNamespaces": "host namespaces (hostNetwork=true)"}
}

test_a_host_port_that_is_not_a_number_is_no_host_port if {
	inp := pod({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": "8080"}]}]})
	denies(inp, baseline) == {}
}

test_two_forbidden_apparmor_annotations_are_named_in_the_plural if {
	inp := pod_meta(
		{"annotations": {
			"container.apparmor.security.beta.kubernetes.io/a": "unconfined",
			"container.apparmor.security.beta.kubernetes.io/b": "unconfined",
		}},
		{"containers": [{"name": "a"}, {"name": "b"}]},
	)
	denies(inp, baseline)["pod-security/appArmorProfile"] == "forbidden AppArmor profiles (containers \"a\", \"b\" and annotations must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\", \"container.apparmor.security.beta.kubernetes.io/b=\"unconfined\"\")"
}
