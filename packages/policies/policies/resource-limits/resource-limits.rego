# resource-limits: every container except ephemeral ones (which Kubernetes does not let carry
# resources) sets cpu and memory limits, requests do not exceed limits, and limits do not
# exceed the maxima in data.sluice.params.limits ({"maxCpu": "2", "maxMemory": "2Gi"}; an
# absent maximum means no maximum). Quantities are Kubernetes quantities ("512Mi", "1G",
# "0.5", "500m"); Docker's HostConfig Memory/NanoCpus/CpuQuota arrive normalized as plain
# byte counts and decimal cores.
#
# Rule ids: resource-limits/missing, resource-limits/invalid, resource-limits/requests-exceed-limits,
#           resource-limits/maximum, params/invalid
package sluice.policies.resource_limits

import future.keywords.not

import data.sluice.lib.quantity
import data.sluice.lib.workload as wl

_resources := ["cpu", "memory"]

_max_params := {"cpu": "maxCpu", "memory": "maxMemory"}

deny contains wl.violation("resource-limits/missing", c, ["has no ", r, " limit"]) if {
	some c in _limited
	some r in _resources
	not _value(c, "limits", r)
}

deny contains wl.violation("resource-limits/invalid", c, ["has an invalid ", r, " ", _singular[kind], " ", wl.q(v)]) if {
	some c in _limited
	some kind in ["limits", "requests"]
	some r in _resources
	v := _value(c, kind, r)
	not _milli(v)
}

deny contains wl.violation("resource-limits/requests-exceed-limits", c, ["requests more ", r, " (", _text(request), ") than its limit (", _text(limit), ")"]) if {
	some c in _limited
	some r in _resources
	request := _value(c, "requests", r)
	limit := _value(c, "limits", r)
	_milli(request) > _milli(limit)
}

deny contains wl.violation("resource-limits/maximum", c, [r, " limit ", _text(limit), " exceeds the maximum ", _text(max)]) if {
	some c in _limited
	some r in _resources
	limit := _value(c, "limits", r)
	max := _max(r)
	_milli(limit) > _milli(max)
}

deny contains wl.pod_violation("params/invalid", ["parameter limits.", _max_params[r], " ", wl.show(max), " is not a valid quantity"]) if {
	some r in _resources
	max := _max(r)
	not _milli(max)
}

# An array, like wl.containers (cheap to iterate in Wasm).
_limited := [c |
	some c in wl.containers
	not wl.is_ephemeral(c)
]

_singular := {"limits": "limit", "requests": "request"}

# A set resource value: not absent, null or "". (A plain reference: object.get would build a
# path array on every call.)
_value(c, kind, r) := v if {
	v := c.resources[kind][r]
	v != null
	v != ""
}

# The configured maximum for r; undefined when not configured.
_max(r) := _maxima[r]

_maxima[r] := v if {
	some r, name in _max_params
	v := wl.param(["limits", name], null)
	v != null
}

# _milli(v) is quantity.milli(v), each distinct string parsed once per evaluation: parsing is
# this policy's main cost and the rules above look at every value several times.
_milli(v) := _parsed[v] if is_string(v)

_milli(v) := quantity.milli(v) if not is_string(v)

_parsed := {v: m |
	some v in _quantity_strings
	m := quantity.milli(v)
}

_quantity_strings contains v if {
	some c in _limited
	some kind in ["limits", "requests"]
	some r in _resources
	v := _value(c, kind, r)
	is_string(v)
}

_quantity_strings contains v if {
	some v in _maxima
	is_string(v)
}

_text(v) := v if is_string(v)

else := wl.show(v)
