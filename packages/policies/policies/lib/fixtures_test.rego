# Shared fixtures for the policy tests: a compliant Kubernetes input and a compliant Docker
# input, plus helpers to patch them. Not part of the built bundle (*_test.rego).
package sluice.test.fixtures

digest_hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

digest := concat("", ["sha256:", digest_hex])

image := concat("", ["registry.sluice.dev/agent:1.2.3@", digest])

now := "2026-11-21T00:00:00Z"

container := {
	"name": "agent",
	"type": "container",
	"image": image,
	"securityContext": {
		"runAsNonRoot": true,
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"capabilities": {"add": [], "drop": ["ALL"]},
	},
	"resources": {
		"limits": {"cpu": "500m", "memory": "512Mi"},
		"requests": {"cpu": "100m", "memory": "128Mi"},
	},
	"volumeMounts": [],
}

pod := {
	"securityContext": {},
	"hostNetwork": false,
	"hostPID": false,
	"hostIPC": false,
	"volumes": [],
}

clean_scan := {
	"SchemaVersion": 2,
	"ArtifactName": image,
	"ArtifactType": "container_image",
	"Results": [{"Target": "registry.sluice.dev/agent:1.2.3 (alpine 3.20.3)", "Class": "os-pkgs", "Type": "alpine"}],
}

workload(containers) := {
	"platform": "kubernetes",
	"kind": "Deployment",
	"name": "agent",
	"namespace": "sluice",
	"labels": {"app": "agent"},
	"annotations": {},
	"pod": pod,
	"containers": containers,
}

# A compliant Kubernetes input.
k8s := {"workload": workload([container]), "scan": clean_scan, "now": now}

# k8s with the container patched (deep merge).
with_container(patch) := json.patch(k8s, [{"op": "replace", "path": "/workload/containers/0", "value": object.union(container, patch)}])

# k8s with these containers (each patched from the compliant container).
with_containers(patches) := json.patch(k8s, [{"op": "replace", "path": "/workload/containers", "value": [object.union(container, p) | some p in patches]}])

# k8s with the pod patched (deep merge).
with_pod(patch) := json.patch(k8s, [{"op": "replace", "path": "/workload/pod", "value": object.union(pod, patch)}])

# A compliant Docker input (as the Docker normalizer produces it).
docker := {
	"workload": {
		"platform": "docker",
		"kind": "Container",
		"name": "agent",
		"labels": {},
		"annotations": {},
		"pod": {"securityContext": {}, "hostNetwork": false, "hostPID": false, "hostIPC": false, "volumes": []},
		"containers": [{
			"name": "agent",
			"type": "container",
			"image": image,
			"user": "1000:1000",
			"securityContext": {
				"privileged": false,
				"allowPrivilegeEscalation": false,
				"readOnlyRootFilesystem": true,
				"capabilities": {"add": [], "drop": ["ALL"]},
			},
			"resources": {"limits": {"cpu": "0.5", "memory": "536870912"}, "requests": {}},
			"volumeMounts": [],
		}],
	},
	"docker": {
		"container": {"Name": "/agent", "Config": {"User": "1000:1000", "Image": image}, "HostConfig": {"NetworkMode": "bridge", "PidMode": "", "IpcMode": "private", "Privileged": false, "Memory": 536870912, "NanoCpus": 500000000}},
		"image": {"Config": {"User": ""}},
	},
	"scan": clean_scan,
	"now": now,
}

# docker with the container patched (deep merge).
docker_with_container(patch) := json.patch(docker, [{"op": "replace", "path": "/workload/containers/0", "value": object.union(docker.workload.containers[0], patch)}])

# The rule ids in a deny or warn set.
rules(entries) := {e.rule | some e in entries}

# The entries of a set with this rule.
with_rule(entries, rule) := {e | some e in entries; e.rule == rule}

# The messages of a set with this rule.
messages(entries, rule) := {e.message | some e in entries; e.rule == rule}
