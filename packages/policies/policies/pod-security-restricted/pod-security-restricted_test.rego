package sluice.policies.pod_security_restricted_test

import data.sluice.policies.pod_security_baseline as b
import data.sluice.policies.pod_security_restricted as r

baseline := {"podSecurity": {"profiles": ["pod-security/baseline"]}}

restricted := {"podSecurity": {"profiles": ["pod-security/baseline", "pod-security/restricted"]}}

pod(spec) := {"kubernetes": {"object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}}

good_sc := {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}

good_pod_sc := {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}

# rule -> message of the denies (the baseline package turns both packages' findings into denies)
denies(inp, params) := {v.rule: v.message |
	some v in b.deny with input as inp with data.sluice.params as params
}

test_compliant_pod_is_allowed if {
	denies(pod({"securityContext": good_pod_sc, "containers": [{"name": "a", "securityContext": good_sc}]}), restricted) == {}
}

test_baseline_selected_runs_no_restricted_check if {
	denies(pod({"containers": [{"name": "a"}]}), baseline) == {}

	# the findings are there, the level does not deny them
	{x.id | some x in r.results} == {"allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "seccompProfile_restricted"} with input as pod({"containers": [{"name": "a"}]})
}

test_an_empty_pod_fails_every_restricted_default if {
	d := denies(pod({"containers": [{"name": "a"}]}), restricted)
	d == {
		"pod-security/allowPrivilegeEscalation": "allowPrivilegeEscalation != false (container \"a\" must set securityContext.allowPrivilegeEscalation=false)",
		"pod-security/capabilities_restricted": "unrestricted capabilities (container \"a\" must set securityContext.capabilities.drop=[\"ALL\"])",
		"pod-security/runAsNonRoot": "runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)",
		"pod-security/seccompProfile_restricted": "seccompProfile (pod or container \"a\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
	}
}

test_restricted_volumes if {
	inp := pod({"securityContext": good_pod_sc, "containers": [{"name": "a", "securityContext": good_sc}], "volumes": [
		{"name": "h", "hostPath": {"path": "/"}},
		{"name": "c", "configMap": {"name": "x"}},
		{"name": "n", "nfs": {"server": "s", "path": "/"}},
		{"name": "u"},
		{"name": "i", "image": {"reference": "x"}},
	]})
	denies(inp, restricted) == {"pod-security/restrictedVolumes": "restricted volume types (volumes \"h\", \"n\", \"u\" use restricted volume types \"hostPath\", \"nfs\", \"unknown\")"}
}

test_allow_privilege_escalation_and_windows if {
	inp := pod({
		"securityContext": good_pod_sc, "containers": [
			{"name": "a", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": ["ALL"]}}},
			{"name": "b", "securityContext": good_sc},
		],
		"ephemeralContainers": [{"name": "e", "securityContext": {"capabilities": {"drop": ["ALL"]}}}],
	})
	denies(inp, restricted) == {"pod-security/allowPrivilegeEscalation": "allowPrivilegeEscalation != false (containers \"a\", \"e\" must set securityContext.allowPrivilegeEscalation=false)"}
	win := pod({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]})
	denies(win, restricted) == {}
}

test_run_as_non_root if {
	explicit := pod({"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}}, "containers": [
		{"name": "a", "securityContext": object.union(good_sc, {"runAsNonRoot": false})},
		{"name": "b", "securityContext": good_sc},
	]})
	denies(explicit, restricted) == {"pod-security/runAsNonRoot": "runAsNonRoot != true (pod and container \"a\" must not set securityContext.runAsNonRoot=false)"}
	container_level := pod({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "a", "securityContext": object.union(good_sc, {"runAsNonRoot": true})}]})
	denies(container_level, restricted) == {}
	userns := pod({"hostUsers": false, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0}, "containers": [{"name": "a", "securityContext": good_sc}]})
	denies(userns, restricted) == {}
}

test_run_as_user_zero_at_pod_level_even_when_every_container_overrides_it if {
	inp := pod({"securityContext": object.union(good_pod_sc, {"runAsUser": 0}), "containers": [
		{"name": "a", "securityContext": object.union(good_sc, {"runAsUser": 1000})},
		{"name": "b", "securityContext": object.union(good_sc, {"runAsUser": 0})},
	]})
	denies(inp, restricted) == {"pod-security/runAsUser": "runAsUser=0 (pod and container \"b\" must not set runAsUser=0)"}
}

test_seccomp_restricted if {
	explicit := pod({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "Unconfined"}}, "containers": [
		{"name": "a", "securityContext": object.union(good_sc, {"seccompProfile": {"type": "Unconfined"}})},
		{"name": "b", "securityContext": good_sc},
	]})
	denies(explicit, restricted) == {"pod-security/seccompProfile_restricted": "seccompProfile (pod and container \"a\" must not set securityContext.seccompProfile.type to \"Unconfined\")"}
	per_container := pod({"securityContext": {"runAsNonRoot": true}, "containers": [
		{"name": "a", "securityContext": object.union(good_sc, {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}})},
		{"name": "b", "securityContext": good_sc},
	]})
	denies(per_container, restricted) == {"pod-security/seccompProfile_restricted": "seccompProfile (pod or container \"b\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"}
}

test_capabilities_restricted if {
	inp := pod({"securityContext": good_pod_sc, "containers": [
		{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["NET_RAW"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}},
		{"name": "b", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["SYS_TIME"]}}},
		{"name": "c", "securityContext": {"allowPrivilegeEscalation": false}},
	]})
	denies(inp, restricted) == {"pod-security/capabilities_restricted": "unrestricted capabilities (containers \"a\", \"c\" must set securityContext.capabilities.drop=[\"ALL\"]; containers \"a\", \"b\" must not include \"CHOWN\", \"SYS_TIME\" in securityContext.capabilities.add)"}
}

test_proc_mount_restricted_has_no_user_namespace_exemption if {
	inp := pod({"hostUsers": false, "securityContext": good_pod_sc, "containers": [{"name": "a", "securityContext": object.union(good_sc, {"procMount": "Unmasked"})}]})
	denies(inp, restricted) == {"pod-security/procMount_restricted": "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\")"}
}

test_a_single_offender_is_reported_in_the_singular if {
	d := denies(
		pod({
			"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}},
			"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}],
			"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}],
		}),
		restricted,
	)
	d["pod-security/restrictedVolumes"] == "restricted volume types (volume \"v\" uses restricted volume type \"nfs\")"
	d["pod-security/runAsNonRoot"] == "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"
	d["pod-security/capabilities_restricted"] == "unrestricted capabilities (container \"a\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add)"
}

test_a_null_pod_seccomp_profile_is_unset if {
	d := denies(pod({"securityContext": {"runAsNonRoot": true, "seccompProfile": null}, "containers": [{"name": "a", "securityContext": good_sc}]}), restricted)
	d["pod-security/seccompProfile_restricted"] == "seccompProfile (pod or container \"a\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
}
