package sluice.policies.resource_limits_test

import data.sluice.policies.resource_limits as rl
import data.sluice.test.fixtures as fx

params := {"limits": {"maxCpu": "2", "maxMemory": "2Gi"}}

test_compliant_container_is_allowed if {
	count(rl.deny) == 0 with input as fx.k8s with data.sluice.params as params
}

test_missing_memory_limit_denies_naming_container if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/resources/limits/memory"}])
	d := rl.deny with input as inp with data.sluice.params as params
	d == {{"rule": "resource-limits/missing", "container": "agent", "message": "container \"agent\" has no memory limit"}}
}

test_missing_cpu_limit_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/resources/limits/cpu"}])
	d := rl.deny with input as inp with data.sluice.params as params
	fx.messages(d, "resource-limits/missing") == {"container \"agent\" has no cpu limit"}
}

test_missing_resources_denies_both_limits if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/resources"}])
	d := rl.deny with input as inp with data.sluice.params as params
	fx.messages(d, "resource-limits/missing") == {"container \"agent\" has no cpu limit", "container \"agent\" has no memory limit"}
}

test_null_and_empty_limits_count_as_missing if {
	inp := fx.with_container({"resources": {"limits": {"cpu": null, "memory": ""}}})
	d := rl.deny with input as inp with data.sluice.params as params
	fx.rules(d) == {"resource-limits/missing"}
	count(d) == 2
}

test_init_containers_need_limits if {
	inp := fx.with_containers([{}, {"name": "setup", "type": "init", "resources": {"limits": {"cpu": null, "memory": null}}}])
	d := rl.deny with input as inp with data.sluice.params as params
	{v.container | some v in d} == {"setup"}
}

test_ephemeral_containers_are_exempt if {
	inp := fx.with_containers([{}, {"name": "debug", "type": "ephemeral", "resources": {"limits": {"cpu": null, "memory": null}}}])
	count(rl.deny) == 0 with input as inp with data.sluice.params as params
}

test_request_above_limit_denies if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "1Gi"}}})
	d := rl.deny with input as inp with data.sluice.params as params
	d == {{"rule": "resource-limits/requests-exceed-limits", "container": "agent", "message": "container \"agent\" requests more memory (1Gi) than its limit (512Mi)"}}
}

test_cpu_request_above_limit_across_units_denies if {
	# 0.6 cores > 500m
	inp := fx.with_container({"resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "0.6", "memory": "128Mi"}}})
	d := rl.deny with input as inp with data.sluice.params as params
	fx.messages(d, "resource-limits/requests-exceed-limits") == {"container \"agent\" requests more cpu (0.6) than its limit (500m)"}
}

test_request_equal_to_limit_in_other_units_is_allowed if {
	# 0.1 == 100m and 1G == 1000M and 1Mi == 1048576
	every pair in [["100m", "0.1"], ["0.5", "500m"], ["1G", "1000M"], ["1048576", "1Mi"], ["1Gi", "1024Mi"]] {
		inp := fx.with_container({"resources": {"limits": {"cpu": pair[0], "memory": "1Gi"}, "requests": {"cpu": pair[1], "memory": "1Gi"}}})
		count(rl.deny) == 0 with input as inp with data.sluice.params as {"limits": {}}
	}
}

test_decimal_gigabyte_is_less_than_gibibyte if {
	# 1G (10^9) < 1Gi (2^30): request 1G fits under limit 1Gi, the reverse does not.
	ok := fx.with_container({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1G"}}})
	count(rl.deny) == 0 with input as ok with data.sluice.params as params
	bad := fx.with_container({"resources": {"limits": {"cpu": "1", "memory": "1G"}, "requests": {"cpu": "1", "memory": "1Gi"}}})
	fx.rules(rl.deny) == {"resource-limits/requests-exceed-limits"} with input as bad with data.sluice.params as params
}

test_limit_above_maximum_denies if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "2500m", "memory": "4Gi"}, "requests": {}}})
	d := rl.deny with input as inp with data.sluice.params as params
	fx.messages(d, "resource-limits/maximum") == {
		"container \"agent\" cpu limit 2500m exceeds the maximum 2",
		"container \"agent\" memory limit 4Gi exceeds the maximum 2Gi",
	}
}

test_limit_equal_to_maximum_is_allowed if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "2000m", "memory": "2048Mi"}, "requests": {}}})
	count(rl.deny) == 0 with input as inp with data.sluice.params as params
}

test_no_maximum_configured_means_no_maximum if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "64", "memory": "1Ti"}, "requests": {}}})
	count(rl.deny) == 0 with input as inp with data.sluice.params as {}
}

test_numeric_maximum_is_accepted if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "3", "memory": "512Mi"}, "requests": {}}})
	fx.messages(rl.deny, "resource-limits/maximum") == {"container \"agent\" cpu limit 3 exceeds the maximum 2"} with input as inp with data.sluice.params as {"limits": {"maxCpu": 2}}
}

test_invalid_limit_quantity_denies if {
	inp := fx.with_container({"resources": {"limits": {"cpu": "lots", "memory": "-1Gi"}, "requests": {"cpu": "1x"}}})
	d := rl.deny with input as inp with data.sluice.params as params
	fx.messages(d, "resource-limits/invalid") == {
		"container \"agent\" has an invalid cpu limit \"lots\"",
		"container \"agent\" has an invalid memory limit \"-1Gi\"",
		"container \"agent\" has an invalid cpu request \"1x\"",
	}
}

test_invalid_maximum_parameter_denies if {
	d := rl.deny with input as fx.k8s with data.sluice.params as {"limits": {"maxCpu": "two", "maxMemory": "2Gi"}}
	d == {{"rule": "params/invalid", "message": "parameter limits.maxCpu \"two\" is not a valid quantity"}}
}

test_docker_byte_and_core_limits_are_understood if {
	count(rl.deny) == 0 with input as fx.docker with data.sluice.params as params
	big := fx.docker_with_container({"resources": {"limits": {"cpu": "2.5", "memory": "4294967296"}, "requests": {}}})
	fx.messages(rl.deny, "resource-limits/maximum") == {
		"container \"agent\" cpu limit 2.5 exceeds the maximum 2",
		"container \"agent\" memory limit 4294967296 exceeds the maximum 2Gi",
	} with input as big with data.sluice.params as params
}

test_docker_unset_memory_denies if {
	inp := json.patch(fx.docker, [{"op": "replace", "path": "/workload/containers/0/resources/limits", "value": {"cpu": "0.5"}}])
	fx.messages(rl.deny, "resource-limits/missing") == {"container \"agent\" has no memory limit"} with input as inp with data.sluice.params as params
}

test_default_data_maxima_apply if {
	# packages/policies/data/data.json: maxCpu 2, maxMemory 2Gi
	inp := fx.with_container({"resources": {"limits": {"cpu": "4", "memory": "512Mi"}, "requests": {}}})
	fx.rules(rl.deny) == {"resource-limits/maximum"} with input as inp
}
