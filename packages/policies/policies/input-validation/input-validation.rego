# input-validation: fail closed on inputs the other policies cannot judge. The other
# policies only look at what is there, so a missing workload or container list would
# otherwise pass them.
#
# Rule id: input/invalid
package sluice.policies.input_validation

import future.keywords.not

import data.sluice.lib.workload as wl

_platforms := {"kubernetes", "docker", "simulated"}

_types := {"container", "init", "ephemeral"}

deny contains wl.pod_violation("input/invalid", ["input.workload is missing or not an object"]) if {
	not is_object(input.workload)
}

deny contains wl.pod_violation("input/invalid", ["input.workload.platform must be one of docker, kubernetes, simulated, got ", wl.show(platform)]) if {
	is_object(input.workload)
	platform := object.get(input.workload, "platform", null)
	not platform in _platforms
}

deny contains wl.pod_violation("input/invalid", ["input.workload.containers must be a non-empty array"]) if {
	is_object(input.workload)
	not _has_containers
}

_has_containers if {
	is_array(input.workload.containers)
	count(input.workload.containers) > 0
}

deny contains wl.pod_violation("input/invalid", ["input.workload.containers[", format_int(i, 10), "] is not an object"]) if {
	some i, c in input.workload.containers
	not is_object(c)
}

deny contains wl.pod_violation("input/invalid", ["input.workload.containers[", format_int(i, 10), "] has no name"]) if {
	some i, c in input.workload.containers
	is_object(c)
	wl.name(c) == "<unnamed>"
}

deny contains wl.violation("input/invalid", c, ["has no image"]) if {
	some c in wl.containers
	not _non_empty_string(c.image)
}

deny contains wl.violation("input/invalid", c, ["has type ", wl.show(type), ", expected one of container, init, ephemeral"]) if {
	some c in wl.containers
	type := object.get(c, "type", null)
	not type in _types
}

deny contains wl.pod_violation("input/invalid", ["input.workload.pod must be an object"]) if {
	is_object(input.workload)
	not is_object(input.workload.pod)
}

_non_empty_string(s) if {
	is_string(s)
	s != ""
}
