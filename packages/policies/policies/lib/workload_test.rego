package sluice.lib.workload_test

import data.sluice.lib.workload as wl
import data.sluice.test.fixtures as fx

test_containers_skips_non_objects if {
	inp := json.patch(fx.k8s, [{"op": "add", "path": "/workload/containers/-", "value": 42}])
	count(wl.containers) == 1 with input as inp
}

test_platform_defaults_to_empty_string if {
	wl.platform == "" with input as {"workload": {"platform": 1}}
	wl.platform == "kubernetes" with input as fx.k8s
	wl.is_docker with input as fx.docker
}

test_type_defaults_to_container if {
	wl.type({}) == "container"
	wl.type({"type": "init"}) == "init"
	wl.is_ephemeral({"type": "ephemeral"})
	not wl.is_ephemeral({})
}

test_name_falls_back_for_missing_or_empty_names if {
	wl.name({}) == "<unnamed>"
	wl.name({"name": ""}) == "<unnamed>"
	wl.name({"name": 3}) == "<unnamed>"
	wl.name({"name": "agent"}) == "agent"
}

test_pod_and_security_contexts_read_null_as_empty if {
	wl.pod == {} with input as {"workload": {"pod": null}}
	wl.pod == {} with input as {}
	wl.pod_security_context == {} with input as {"workload": {"pod": {"securityContext": null}}}
	wl.security_context({"securityContext": null}) == {}
	wl.security_context({}) == {}
}

test_violation_names_the_container if {
	wl.violation("r", {"name": "<agent>"}, ["has ", "x"]) == {"rule": "r", "container": "<agent>", "message": "container \"<agent>\" has x"}
	wl.pod_violation("r", ["a", "b"]) == {"rule": "r", "message": "ab"}
}

test_param_reads_data_with_fallback if {
	wl.param(["scan", "severityThreshold"], "HIGH") == "LOW" with data.sluice.params as {"scan": {"severityThreshold": "LOW"}}
	wl.param(["scan", "severityThreshold"], "HIGH") == "HIGH" with data.sluice.params as {"scan": {"severityThreshold": null}}
	wl.param(["scan", "severityThreshold"], "HIGH") == "HIGH" with data.sluice.params as {}
	wl.param(["scan", "severityThreshold"], "HIGH") == "HIGH" with data.sluice.params as "garbage"
}

test_show_renders_values_the_same_in_go_and_wasm if {
	wl.show("a<b>&c") == "\"a<b>&c\""
	wl.show(1) == "1"
	wl.show(true) == "true"
	wl.show(null) == "null"
	wl.show([1]) == "a value of type array"
	wl.show({"a": 1}) == "a value of type object"
}

test_a_non_string_type_counts_as_container if {
	wl.type({"type": 5}) == "container"
}
