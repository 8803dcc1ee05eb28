# Helpers over the normalized input (see packages/policies/INPUT.md).
package sluice.lib.workload

import future.keywords.not

# The workload's containers (regular, init and ephemeral), as given. Non-objects (and a
# containers field that is not an array) are skipped here; input-validation denies them.
# An array, not a set: the policies only iterate it, and iterating a set of objects makes the
# Wasm runtime hash every container object twice per loop (the deny/warn sets still dedupe).
containers := [c |
	is_array(input.workload.containers)
	some c in input.workload.containers
	is_object(c)
]

platform := p if {
	p := input.workload.platform
	is_string(p)
} else := ""

is_docker if platform == "docker"

# type(c) is "container", "init" or "ephemeral"; an absent type counts as "container"
# (input-validation denies it separately).
type(c) := t if {
	t := c.type
	is_string(t)
} else := "container"

is_ephemeral(c) if type(c) == "ephemeral"

name(c) := n if {
	n := c.name
	is_string(n)
	n != ""
} else := "<unnamed>"

# obj(x) is x when it is an object, else {} (absent and null fields read as empty).
obj(x) := x if is_object(x)

else := {}

pod := obj(object.get(input, ["workload", "pod"], null))

security_context(c) := obj(object.get(c, "securityContext", null))

pod_security_context := obj(object.get(pod, "securityContext", null))

# q(s) quotes a string for messages: container "agent". Plain concatenation, not json.marshal:
# Go's json.marshal escapes <, > and & (\u003c) and the Wasm runtime's does not.
q(s) := concat("", ["\"", s, "\""])

# show(x) renders any value for messages: strings quoted, numbers, booleans and null as JSON,
# arrays and objects by type only (their JSON text differs between Go and Wasm).
show(x) := q(x) if {
	is_string(x)
} else := json.marshal(x) if {
	type_name(x) in {"number", "boolean", "null"}
} else := concat("", ["a value of type ", type_name(x)])

# violation builds a deny/warn entry that names a container.
violation(rule, c, parts) := {
	"rule": rule,
	"container": name(c),
	"message": concat("", array.concat(["container ", q(name(c)), " "], parts)),
}

# pod_violation builds a deny/warn entry that names no container.
pod_violation(rule, parts) := {
	"rule": rule,
	"message": concat("", parts),
}

# param(path, fallback) reads the parameter at path (an array of keys): input.params (the rollout
# spec's settings, which the engine passes with every evaluation so that the spec decides them
# whatever data the embedder loaded), else data.sluice.params, else fallback when both are absent
# or null. input_param and data_param read one source each (for parameters that combine both).
param(path, fallback) := v if {
	v := input_param(path, null)
	v != null
} else := data_param(path, fallback)

input_param(path, fallback) := v if {
	v := object.get(_input_params, path, null)
	v != null
} else := fallback

data_param(path, fallback) := v if {
	v := object.get(_params, path, null)
	v != null
} else := fallback

_input_params := p if {
	p := input.params
	is_object(p)
} else := {}

_params := p if {
	p := data.sluice.params
	is_object(p)
} else := {}
