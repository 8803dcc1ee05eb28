package sluice.policies.input_validation_test

import data.sluice.policies.input_validation as iv
import data.sluice.test.fixtures as fx

test_valid_inputs_pass if {
	count(iv.deny) == 0 with input as fx.k8s
	count(iv.deny) == 0 with input as fx.docker
}

test_missing_workload_denies if {
	iv.deny == {{"rule": "input/invalid", "message": "input.workload is missing or not an object"}} with input as {"now": fx.now}
}

test_non_object_workload_denies if {
	fx.messages(iv.deny, "input/invalid") == {"input.workload is missing or not an object"} with input as {"workload": []}
}

test_unknown_platform_denies if {
	inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/platform", "value": "nomad"}])
	iv.deny == {{"rule": "input/invalid", "message": "input.workload.platform must be one of docker, kubernetes, simulated, got \"nomad\""}} with input as inp
}

test_missing_platform_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/platform"}])
	fx.messages(iv.deny, "input/invalid") == {"input.workload.platform must be one of docker, kubernetes, simulated, got null"} with input as inp
}

test_missing_or_empty_containers_deny if {
	every containers in [[], {"agent": {}}, null] {
		inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/containers", "value": containers}])
		fx.messages(iv.deny, "input/invalid") == {"input.workload.containers must be a non-empty array"} with input as inp
	}
	absent := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers"}])
	fx.messages(iv.deny, "input/invalid") == {"input.workload.containers must be a non-empty array"} with input as absent
}

test_non_object_container_denies if {
	inp := json.patch(fx.k8s, [{"op": "add", "path": "/workload/containers/-", "value": "sidecar"}])
	iv.deny == {{"rule": "input/invalid", "message": "input.workload.containers[1] is not an object"}} with input as inp
}

test_container_without_name_denies if {
	inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/containers/0/name", "value": ""}])
	iv.deny == {{"rule": "input/invalid", "message": "input.workload.containers[0] has no name"}} with input as inp
}

test_container_without_image_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/image"}])
	iv.deny == {{"rule": "input/invalid", "container": "agent", "message": "container \"agent\" has no image"}} with input as inp
	empty := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/containers/0/image", "value": ""}])
	fx.rules(iv.deny) == {"input/invalid"} with input as empty
}

test_container_with_unknown_or_missing_type_denies if {
	inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/containers/0/type", "value": "sidecar"}])
	fx.messages(iv.deny, "input/invalid") == {"container \"agent\" has type \"sidecar\", expected one of container, init, ephemeral"} with input as inp
	absent := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/type"}])
	fx.messages(iv.deny, "input/invalid") == {"container \"agent\" has type null, expected one of container, init, ephemeral"} with input as absent
}

test_missing_pod_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/pod"}])
	iv.deny == {{"rule": "input/invalid", "message": "input.workload.pod must be an object"}} with input as inp
}

test_simulated_platform_and_init_containers_are_valid if {
	inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/platform", "value": "simulated"}, {"op": "replace", "path": "/workload/containers/0/type", "value": "init"}])
	count(iv.deny) == 0 with input as inp
}

test_a_non_string_image_is_no_image if {
	fx.messages(iv.deny, "input/invalid") == {"container \"agent\" has no image"} with input as fx.with_container({"image": 5})
}
