# The single decision document the PolicyEngine reads (Wasm entrypoint "sluice/decision"):
#
#   data.sluice.decision = {
#     "allow": bool,                                          # true iff deny is empty
#     "deny":  [{"rule", "message", "gate", "container"?}],   # sorted by rule, container, message
#     "warn":  [{"rule", "message", "gate", "container"?}],
#   }
#
# It collects the deny and warn sets of every package under data.sluice.policies (the built-in
# policies and any a policy author adds there). Entries may be objects as above or plain
# strings; a string, or an object without a string rule, gets the package name as its rule.
#
# "gate" is the gate the entry belongs to: "policy", "scan" or "signature". Sluice applies an
# entry only when the rollout's spec turns its gate on. An entry's own "gate" wins; otherwise its
# package's `gate` (e.g. `gate := "scan"` in the package), otherwise "policy". The value is passed
# through as it is: the engine decodes it strictly, so anything but a gate's name denies.
package sluice

import future.keywords.not

decision := {
	"allow": count(_deny) == 0,
	"deny": _sorted(_deny),
	"warn": _sorted(_warn),
}

# The rule ids the built-in policies emit (documented in packages/policies/policies/README.md;
# scripts/opa/check-samples.sh fails on any other id coming from a built-in policy).
rule_ids := {
	"input/invalid",
	"params/invalid",
	"non-root",
	"resource-limits/missing",
	"resource-limits/invalid",
	"resource-limits/requests-exceed-limits",
	"resource-limits/maximum",
	"privileges/privileged",
	"privileges/allow-privilege-escalation",
	"privileges/capabilities",
	"privileges/host-network",
	"privileges/host-pid",
	"privileges/host-ipc",
	"privileges/host-path",
	"privileges/read-only-root-filesystem",
	"image-provenance/registry",
	"image-provenance/tag",
	"image-provenance/digest",
	"scan-gate/vulnerability",
	"scan-gate/missing-report",
	"scan-gate/invalid-report",
	"scan-gate/exception",
	"pod-security/no-pod-spec",
	"pod-security/hostNamespaces",
	"pod-security/privileged",
	"pod-security/capabilities_baseline",
	"pod-security/hostPathVolumes",
	"pod-security/hostPorts",
	"pod-security/appArmorProfile",
	"pod-security/seLinuxOptions",
	"pod-security/procMount",
	"pod-security/seccompProfile_baseline",
	"pod-security/sysctls",
	"pod-security/windowsHostProcess",
	"pod-security/hostProbesAndHostLifecycle",
	"pod-security/allowPrivilegeEscalation",
	"pod-security/capabilities_restricted",
	"pod-security/procMount_restricted",
	"pod-security/restrictedVolumes",
	"pod-security/runAsNonRoot",
	"pod-security/runAsUser",
	"pod-security/seccompProfile_restricted",
}

_deny contains _entry(pkg, v) if {
	some pkg
	some v in data.sluice.policies[pkg].deny
}

_warn contains _entry(pkg, v) if {
	some pkg
	some v in data.sluice.policies[pkg].warn
}

_entry(pkg, v) := {"rule": pkg, "message": v, "gate": _package_gate(pkg)} if is_string(v)

_entry(pkg, v) := object.union(v, {"rule": _rule(pkg, v), "message": _message(pkg, v), "gate": _gate(pkg, v)}) if is_object(v)

_entry(pkg, v) := {"rule": pkg, "message": _message(pkg, v), "gate": _package_gate(pkg)} if {
	not is_string(v)
	not is_object(v)
}

_gate(pkg, v) := v.gate if "gate" in object.keys(v)

else := _package_gate(pkg)

_package_gate(pkg) := g if {
	g := data.sluice.policies[pkg].gate
} else := "policy"

_rule(pkg, v) := v.rule if is_string(v.rule)

else := pkg

# Not json.marshal(v): its output differs between Go and Wasm.
_message(pkg, v) := v.message if {
	is_string(v.message)
} else := concat("", ["policy ", pkg, " reported a violation without a message"])

# Sets are ordered differently by the Go evaluator and the Wasm runtime; sort explicitly.
_sorted(entries) := [e |
	some t in sort([[e.rule, object.get(e, "container", ""), e.message, e] | some e in entries])
	e := t[3]
]
