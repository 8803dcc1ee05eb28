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
	d.deny == [{"rule": "privileges/privileged", "container": "agent", "message": "container \"agent\" is privileged (securityContext.privileged: true)"}]
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
	d.deny == [{"rule": "privileges/host-pid", "message": "workload uses the host PID namespace (hostPID)"}]
}

test_user_data_overrides_default_parameters if {
	inp := fx.with_container({"image": "registry.sluice.dev/agent:1.2.3"})
	d := sluice.decision with input as inp with data.sluice.params.provenance.requireDigest as "deny"
	d.allow == false
	[e.rule | some e in d.deny] == ["image-provenance/digest"]
}

# Entries from packages a policy author adds under data.sluice.policies are normalized.
test_entry_normalizes_strings_and_partial_objects if {
	sluice._entry("custom", "plain message") == {"rule": "custom", "message": "plain message"}
	sluice._entry("custom", {"rule": "x", "message": "m", "container": "c"}) == {"rule": "x", "message": "m", "container": "c"}
	sluice._entry("custom", {"message": "m", "container": "c"}) == {"rule": "custom", "message": "m", "container": "c"}
	sluice._entry("custom", {"msg": "m"}) == {"rule": "custom", "message": "policy custom reported a violation without a message", "msg": "m"}
	sluice._entry("custom", {"rule": 1, "message": 2}) == {"rule": "custom", "message": "policy custom reported a violation without a message"}
	sluice._entry("custom", 42) == {"rule": "custom", "message": "policy custom reported a violation without a message"}
}

test_custom_policy_package_is_collected if {
	d := sluice.decision with input as fx.k8s with data.sluice.policies.custom.deny as {"team rule violated"}
	d.deny == [{"rule": "custom", "message": "team rule violated"}]
	w := sluice.decision with input as fx.k8s with data.sluice.policies.custom.warn as ["heads up"]
	w.warn == [{"rule": "custom", "message": "heads up"}]
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
