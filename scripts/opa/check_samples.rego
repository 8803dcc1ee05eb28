# Used by scripts/opa/check-samples.sh (not part of the bundle): evaluates data.sluice.decision
# for every sample and compares the allow flag and the deny/warn rule ids with the expected ones.
# input = {"<policy>/<sample>": {"description", "params"?, "input", "expected"}}
package sluice_samples

import data.sluice

results contains result if {
	some key, sample in input
	decision := sluice.decision with input as sample.input with data.sluice.params as _params(sample)
	got := {
		"allow": decision.allow,
		"deny": sort({e.rule | some e in decision.deny}),
		"warn": sort({e.rule | some e in decision.warn}),
	}
	want := {
		"allow": sample.expected.allow,
		"deny": sort({r | some r in sample.expected.deny}),
		"warn": sort({r | some r in sample.expected.warn}),
	}
	result := {"sample": key, "ok": got == want, "got": got, "want": want, "decision": decision}
}

_params(sample) := sample.params if sample.params

else := data.sluice.params

# Rule ids that are not in data.sluice.rule_ids (the documented list).
unknown_rules contains rule if {
	some result in results
	some e in array.concat(result.decision.deny, result.decision.warn)
	rule := e.rule
	not rule in sluice.rule_ids
}
