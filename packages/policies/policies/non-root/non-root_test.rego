package sluice.policies.non_root_test

import data.sluice.policies.non_root
import data.sluice.test.fixtures as fx

# --- Kubernetes ---------------------------------------------------------------------------

test_compliant_kubernetes_container_is_allowed if {
	count(non_root.deny) == 0 with input as fx.k8s
}

test_pod_run_as_non_root_true_proves_non_root if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsNonRoot": true}}])
	count(non_root.deny) == 0 with input as inp
}

test_container_run_as_user_non_zero_proves_non_root if {
	count(non_root.deny) == 0 with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": 1000}})
}

test_pod_run_as_user_non_zero_proves_non_root if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsUser": 65534}}])
	count(non_root.deny) == 0 with input as inp
}

test_nothing_set_denies_with_message_naming_container if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": null}})
	d == {{
		"rule": "non-root",
		"container": "agent",
		"message": "container \"agent\" does not prove it runs as non-root: set securityContext.runAsNonRoot: true or a runAsUser other than 0",
	}}
}

test_missing_security_contexts_deny if {
	inp := json.patch(fx.k8s, [
		{"op": "remove", "path": "/workload/containers/0/securityContext"},
		{"op": "remove", "path": "/workload/pod/securityContext"},
	])
	fx.rules(non_root.deny) == {"non-root"} with input as inp
}

test_null_security_contexts_deny if {
	inp := json.patch(fx.k8s, [
		{"op": "replace", "path": "/workload/containers/0/securityContext", "value": null},
		{"op": "replace", "path": "/workload/pod/securityContext", "value": null},
	])
	fx.rules(non_root.deny) == {"non-root"} with input as inp
}

test_container_run_as_user_zero_denies if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsUser": 0}})
	fx.messages(d, "non-root") == {"container \"agent\" runs as UID 0 (runAsUser: 0 in the container securityContext)"}
}

test_pod_run_as_user_zero_denies_and_names_pod_source if {
	inp := json.patch(fx.k8s, [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsUser": 0}}])
	d := non_root.deny with input as inp
	fx.messages(d, "non-root") == {"container \"agent\" runs as UID 0 (runAsUser: 0 in the pod securityContext)"}
}

test_container_run_as_user_overrides_pod_run_as_user_zero if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": 1000}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsUser": 0}}])
	count(non_root.deny) == 0 with input as inp
}

test_container_run_as_non_root_false_beats_pod_true if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": false}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsNonRoot": true}}])
	d := non_root.deny with input as inp
	fx.messages(d, "non-root") == {"container \"agent\" sets runAsNonRoot: false (in the container securityContext)"}
}

test_run_as_non_root_false_denies_even_with_non_zero_user if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": false, "runAsUser": 1000}})
	fx.rules(d) == {"non-root"}
}

test_pod_run_as_non_root_false_denies if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsNonRoot": false}}])
	d := non_root.deny with input as inp
	fx.messages(d, "non-root") == {"container \"agent\" sets runAsNonRoot: false (in the pod securityContext)"}
}

test_run_as_non_root_true_with_user_zero_still_denies if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": true, "runAsUser": 0}})
	count(d) == 1
	some v in d
	contains(v.message, "UID 0")
}

test_string_run_as_user_does_not_prove_non_root if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": "1000"}})
	fx.rules(d) == {"non-root"}
}

test_fractional_run_as_user_does_not_prove_non_root if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": 0.5}})
	fx.rules(d) == {"non-root"}
}

test_negative_run_as_user_does_not_prove_non_root if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": -1}})
	fx.rules(d) == {"non-root"}
}

test_init_and_ephemeral_containers_are_checked if {
	d := non_root.deny with input as fx.with_containers([
		{},
		{"name": "setup", "type": "init", "securityContext": {"runAsNonRoot": null}},
		{"name": "debug", "type": "ephemeral", "securityContext": {"runAsUser": 0}},
	])
	{v.container | some v in d} == {"setup", "debug"}
}

test_simulated_platform_uses_kubernetes_rules if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null}}), [{"op": "replace", "path": "/workload/platform", "value": "simulated"}])
	fx.rules(non_root.deny) == {"non-root"} with input as inp
}

# --- Docker -------------------------------------------------------------------------------

test_docker_numeric_user_is_allowed if {
	count(non_root.deny) == 0 with input as fx.docker
}

test_docker_named_user_is_allowed if {
	count(non_root.deny) == 0 with input as fx.docker_with_container({"user": "agent:agent"})
}

test_docker_non_numeric_user_names_are_not_uid_zero if {
	# runc looks these up as user names (strconv.Atoi fails), so they are not UID 0.
	every user in ["0x0", "0.0", "1e0", "+-0", "rootless"] {
		count(non_root.deny) == 0 with input as fx.docker_with_container({"user": user})
	}
}

test_docker_ignores_kubernetes_security_context if {
	# runAsNonRoot does not exist on Docker; only the user counts.
	count(non_root.deny) == 0 with input as fx.docker_with_container({"securityContext": {"runAsNonRoot": false}})
}

test_docker_root_users_deny if {
	every user in ["root", "0", "00", "+0", "-0", "0:0", "0:1000", "root:root", "root:wheel", ":1000"] {
		d := non_root.deny with input as fx.docker_with_container({"user": user})
		fx.messages(d, "non-root") == {concat("", ["container \"agent\" runs as root (user ", json.marshal(user), ")"])}
	}
}

test_docker_empty_user_denies if {
	d := non_root.deny with input as fx.docker_with_container({"user": ""})
	fx.messages(d, "non-root") == {"container \"agent\" has no user set, so it runs as root (set USER in the image or --user)"}
}

test_docker_absent_user_denies if {
	inp := json.patch(fx.docker, [{"op": "remove", "path": "/workload/containers/0/user"}])
	fx.rules(non_root.deny) == {"non-root"} with input as inp
}

test_docker_falls_back_to_image_user if {
	inp := json.patch(fx.docker, [
		{"op": "remove", "path": "/workload/containers/0/user"},
		{"op": "replace", "path": "/docker/image/Config/User", "value": "nobody"},
	])
	count(non_root.deny) == 0 with input as inp
}

test_docker_root_image_user_denies if {
	inp := json.patch(fx.docker, [
		{"op": "replace", "path": "/workload/containers/0/user", "value": ""},
		{"op": "replace", "path": "/docker/image/Config/User", "value": "0"},
	])
	fx.messages(non_root.deny, "non-root") == {"container \"agent\" runs as root (user \"0\")"} with input as inp
}

test_docker_container_user_wins_over_image_user if {
	inp := json.patch(fx.docker, [{"op": "replace", "path": "/docker/image/Config/User", "value": "root"}])
	count(non_root.deny) == 0 with input as inp
}

test_docker_ignores_kubernetes_run_as_user_zero if {
	count(non_root.deny) == 0 with input as fx.docker_with_container({"securityContext": {"runAsUser": 0}})
}

test_docker_ignores_kubernetes_run_as_non_root_false if {
	count(non_root.deny) == 0 with input as fx.docker_with_container({"securityContext": {"runAsNonRoot": false}})
}

test_kubernetes_ignores_a_docker_user_field if {
	count(non_root.deny) == 0 with input as fx.with_container({"user": "root"})
}

test_run_as_user_zero_is_one_violation if {
	d := non_root.deny with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": 0}})
	fx.messages(d, "non-root") == {"container \"agent\" runs as UID 0 (runAsUser: 0 in the container securityContext)"}
}

test_run_as_user_1_proves_non_root if {
	count(non_root.deny) == 0 with input as fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": 1}})
}

test_a_null_container_run_as_user_falls_back_to_the_pod if {
	inp := json.patch(fx.with_container({"securityContext": {"runAsNonRoot": null, "runAsUser": null}}), [{"op": "replace", "path": "/workload/pod/securityContext", "value": {"runAsUser": 1000}}])
	count(non_root.deny) == 0 with input as inp
}

test_docker_non_string_users_read_as_no_user if {
	no_user := {"container \"agent\" has no user set, so it runs as root (set USER in the image or --user)"}
	fx.messages(non_root.deny, "non-root") == no_user with input as fx.docker_with_container({"user": 5})
	inp := json.patch(fx.docker_with_container({"user": ""}), [{"op": "replace", "path": "/docker/image/Config/User", "value": 5}])
	fx.messages(non_root.deny, "non-root") == no_user with input as inp
	fx.messages(non_root.deny, "non-root") == no_user with input as object.remove(fx.docker_with_container({"user": ""}), ["docker"])
}
