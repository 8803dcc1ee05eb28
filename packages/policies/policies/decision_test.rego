package sluice.decision_test

import data.sluice
import data.sluice.test.fixtures as fx

test_compliant_kubernetes_workload_is_allowed_with_default_data if {
	sluice.decision == {"allow": true, "deny": [], "warn": []} with input as fx.k8s
}

test_compliant_docker_workload_is_allowed_with_default_data if {
	sluice.decision == {"allow": true, "deny": [], "warn": []} with input as fx.docker
}

test_empty_input_is_denied if {
	d := sluice.decision with input as {}
	d.allow == false
	{e.rule | some e in d.deny} == {"input/invalid", "scan-gate/missing-report"}
}

test_allow_is_false_iff_something_is_denied if {
	inp := fx.with_container({"securityContext": {"privileged": true}})
	d := sluice.decision with input as inp
	d.allow == false
	d.deny == [{"rule": "privileges/privileged", "container": "agent", "message": "container \"agent\" is privileged (securityContext.privileged: true)", "gate": "policy"}]
}

test_warnings_do_not_block if {
	inp := fx.with_container({"image": "registry.sluice.dev/agent:1.2.3"})
	d := sluice.decision with input as inp
	d.allow == true
	[e.rule | some e in d.warn] == ["image-provenance/digest"]
}

test_every_built_in_policy_contributes if {
	inp := json.patch(fx.k8s, [
		{"op": "replace", "path": "/workload/containers/0", "value": {
			"name": "agent", "type": "container", "image": "docker.io/library/agent:latest",
			"securityContext": {"runAsUser": 0, "privileged": true},
			"resources": {"limits": {}, "requests": {}}, "volumeMounts": [],
		}},
		{"op": "remove", "path": "/scan"},
	])
	d := sluice.decision with input as inp
	d.allow == false
	{e.rule | some e in d.deny} == {
		"non-root", "resource-limits/missing", "privileges/privileged", "image-provenance/registry",
		"image-provenance/tag", "scan-gate/missing-report",
	}
}

test_entries_are_sorted_by_rule_then_container_then_message if {
	inp := fx.with_containers([
		{"name": "b", "securityContext": {"privileged": true, "runAsNonRoot": false}},
		{"name": "a", "securityContext": {"privileged": true}},
	])
	d := sluice.decision with input as inp
	[[e.rule, e.container] | some e in d.deny] == [["non-root", "b"], ["privileges/privileged", "a"], ["privileges/privileged", "b"]]
}

test_pod_level_entries_have_no_container if {
	d := sluice.decision with input as fx.with_pod({"hostPID": true})
	d.deny == [{"rule": "privileges/host-pid", "message": "workload uses the host PID namespace (hostPID)", "gate": "policy"}]
}

test_user_data_overrides_default_parameters if {
	inp := fx.with_container({"image": "registry.sluice.dev/agent:1.2.3"})
	d := sluice.decision with input as inp with data.sluice.params.provenance.requireDigest as "deny"
	d.allow == false
	[e.rule | some e in d.deny] == ["image-provenance/digest"]
}

# Entries from packages a policy author adds under data.sluice.policies are normalized.
test_entry_normalizes_strings_and_partial_objects if {
	sluice._entry("custom", "plain message") == {"rule": "custom", "message": "plain message", "gate": "policy"}
	sluice._entry("custom", {"rule": "x", "message": "m", "container": "c"}) == {"rule": "x", "message": "m", "container": "c", "gate": "policy"}
	sluice._entry("custom", {"message": "m", "container": "c"}) == {"rule": "custom", "message": "m", "container": "c", "gate": "policy"}
	sluice._entry("custom", {"msg": "m"}) == {"rule": "custom", "message": "policy custom reported a violation without a message", "msg": "m", "gate": "policy"}
	sluice._entry("custom", {"rule": 1, "message": 2}) == {"rule": "custom", "message": "policy custom reported a violation without a message", "gate": "policy"}
	sluice._entry("custom", 42) == {"rule": "custom", "message": "policy custom reported a violation without a message", "gate": "policy"}
}

test_custom_policy_package_is_collected if {
	d := sluice.decision with input as fx.k8s with data.sluice.policies.custom.deny as {"team rule violated"}
	d.deny == [{"rule": "custom", "message": "team rule violated", "gate": "policy"}]
	w := sluice.decision with input as fx.k8s with data.sluice.policies.custom.warn as ["heads up"]
	w.warn == [{"rule": "custom", "message": "heads up", "gate": "policy"}]
}

# Every entry names its gate: its own "gate", else its package's, else "policy".
test_every_entry_names_its_gate if {
	inp := json.patch(fx.with_container({"securityContext": {"privileged": true}}), [{"op": "remove", "path": "/scan"}])
	d := sluice.decision with input as inp
	{[e.rule, e.gate] | some e in d.deny} == {["privileges/privileged", "policy"], ["scan-gate/missing-report", "scan"]}
}

test_a_package_gate_tags_its_entries if {
	d := sluice.decision with input as fx.k8s
		with data.sluice.policies.custom.deny as {"unsigned image"}
		with data.sluice.policies.custom.gate as "signature"
	d.deny == [{"rule": "custom", "message": "unsigned image", "gate": "signature"}]
}

test_an_entry_gate_wins_over_its_package_gate if {
	sluice._entry("scan_gate", {"rule": "r", "message": "m", "gate": "policy"}) == {"rule": "r", "message": "m", "gate": "policy"}
	sluice._entry("scan_gate", {"rule": "r", "message": "m"}) == {"rule": "r", "message": "m", "gate": "scan"}
	sluice._entry("scan_gate", "m") == {"rule": "scan_gate", "message": "m", "gate": "scan"}
}

# A gate that is not a gate's name is passed through: the engine's strict decoding denies it.
test_an_unknown_gate_is_passed_through_for_the_engine_to_refuse if {
	sluice._entry("custom", {"rule": "r", "message": "m", "gate": "scna"}) == {"rule": "r", "message": "m", "gate": "scna"}
	sluice._entry("custom", {"rule": "r", "message": "m", "gate": 7}) == {"rule": "r", "message": "m", "gate": 7}
}

test_built_in_policies_only_emit_documented_rule_ids if {
	inputs := [
		{},
		json.patch(fx.k8s, [{"op": "replace", "path": "/workload/containers/0", "value": {"name": "x", "image": "nginx", "securityContext": {"runAsUser": 0, "privileged": true, "allowPrivilegeEscalation": true, "capabilities": {"add": ["SYS_ADMIN"]}}, "resources": {"limits": {"cpu": "x", "memory": "9Gi"}, "requests": {"memory": "10Gi"}}}}]),
		fx.with_pod({"hostNetwork": true, "hostPID": true, "hostIPC": true, "volumes": [{"name": "v", "hostPath": {"path": "/etc"}}]}),
		json.patch(fx.k8s, [{"op": "replace", "path": "/scan", "value": {"SchemaVersion": 1}}]),
	]
	every inp in inputs {
		d := sluice.decision with input as inp with data.sluice.params as {"scan": {"exceptions": [{"id": "x", "expires": "2030-01-01"}], "severityThreshold": "none"}}
		every e in array.concat(d.deny, d.warn) {
			e.rule in sluice.rule_ids
		}
	}
}

# data.sluice.rule_ids is the documented list of ids (README's rule table).
test_rule_ids_are_the_documented_ids if {
	sluice.rule_ids == {
		"input/invalid", "params/invalid", "non-root",
		"resource-limits/missing", "resource-limits/invalid", "resource-limits/requests-exceed-limits", "resource-limits/maximum",
		"privileges/privileged", "privileges/allow-privilege-escalation", "privileges/capabilities",
		"privileges/host-network", "privileges/host-pid", "privileges/host-ipc", "privileges/host-path",
		"privileges/read-only-root-filesystem",
		"image-provenance/registry", "image-provenance/tag", "image-provenance/digest",
		"scan-gate/vulnerability", "scan-gate/missing-report", "scan-gate/invalid-report", "scan-gate/exception",
		"pod-security/no-pod-spec", "pod-security/hostNamespaces", "pod-security/privileged",
		"pod-security/capabilities_baseline", "pod-security/hostPathVolumes", "pod-security/hostPorts",
		"pod-security/appArmorProfile", "pod-security/seLinuxOptions", "pod-security/procMount",
		"pod-security/seccompProfile_baseline", "pod-security/sysctls", "pod-security/windowsHostProcess",
		"pod-security/hostProbesAndHostLifecycle", "pod-security/allowPrivilegeEscalation",
		"pod-security/capabilities_restricted", "pod-security/procMount_restricted", "pod-security/restrictedVolumes",
		"pod-security/runAsNonRoot", "pod-security/runAsUser", "pod-security/seccompProfile_restricted",
	}
}

# Entries are ordered by rule, then container (none first), then message.
test_entries_sort_by_rule_then_container_then_message if {
	entries := [
		{"rule": "r", "container": "b", "message": "a"},
		{"rule": "r", "container": "a", "message": "b"},
		{"rule": "r", "message": "z"},
	]
	d := sluice.decision with data.sluice.policies as {"t": {"deny": entries}}
	[[e.message, object.get(e, "container", null)] | some e in d.deny] == [["z", null], ["b", "a"], ["a", "b"]]
}
