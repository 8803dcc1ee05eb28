# scan-gate: the image's Trivy report (input.scan, SchemaVersion 2, as produced by
# `trivy image --format json`) has no vulnerability at or above
# data.sluice.params.scan.severityThreshold (UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL;
# default HIGH), except
#   - vulnerabilities without a FixedVersion when ignoreUnfixed is true, and
#   - vulnerabilities whose VulnerabilityID has an exception {"id", "expires": "YYYY-MM-DD"}
#     that has not expired: it applies while the date part of input.now (RFC3339, supplied by
#     the engine in UTC) is on or before "expires".
# A missing report (input.scan absent or null) denies unless waiveMissingReport is true (then
# it warns). A report that is not SchemaVersion 2 denies.
#
# Rule ids: scan-gate/vulnerability, scan-gate/missing-report, scan-gate/invalid-report,
#           scan-gate/exception (warn: a finding let through by an exception, or exceptions
#           ignored because input.now is missing), params/invalid
package sluice.policies.scan_gate

import future.keywords.not

import data.sluice.lib.workload as wl

# Every entry of this package belongs to the scan gate (decision.rego tags it so).
gate := "scan"

_severities := {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

# --- report presence ----------------------------------------------------------------------

_report := r if {
	r := input.scan
	r != null
}

deny contains wl.pod_violation("scan-gate/missing-report", ["no vulnerability scan report for the image (set scan.waiveMissingReport to allow this)"]) if {
	not _report
	not _waive_missing
}

warn contains wl.pod_violation("scan-gate/missing-report", ["no vulnerability scan report for the image; allowed because scan.waiveMissingReport is true"]) if {
	not _report
	_waive_missing
}

deny contains wl.pod_violation("scan-gate/invalid-report", ["scan report is not a Trivy JSON report with SchemaVersion 2 (got SchemaVersion ", wl.show(version), ")"]) if {
	_report
	version := object.get(_as_object(_report), "SchemaVersion", null)
	version != 2
}

deny contains wl.pod_violation("scan-gate/invalid-report", ["scan report Results must be an array"]) if {
	not is_array(_results)
}

# Trivy omits Results when nothing was scanned; null counts as empty too.
_results := r if {
	r := _as_object(_report).Results
	r != null
} else := []

_as_object(x) := x if is_object(x)

else := {}

_waive_missing if wl.param(["scan", "waiveMissingReport"], false) == true

# --- findings -----------------------------------------------------------------------------

# Every finding in the report: [vulnerability, target]. Arrays, not sets: they are only
# iterated, and a set of objects costs the Wasm runtime a deep hash per element and loop.
_findings := [[v, target] |
	some result in _results
	is_object(result)
	target := _string(object.get(result, "Target", ""))
	some v in object.get(result, "Vulnerabilities", [])
	is_object(v)
]

# Findings at or above the threshold, before exceptions.
_gated := [[v, target] |
	some [v, target] in _findings
	_rank(object.get(v, "Severity", null)) >= _severities[_threshold]
	not _ignored_unfixed(v)
]

deny contains wl.pod_violation("scan-gate/vulnerability", [_describe(v, target), _expired_note(v)]) if {
	some [v, target] in _gated
	not _excepted(v)
}

warn contains wl.pod_violation("scan-gate/exception", [_describe(v, target), " allowed by exception until ", _exception_expiry(v)]) if {
	some [v, target] in _gated
	_excepted(v)
}

warn contains wl.pod_violation("scan-gate/exception", ["input.now is missing or not an RFC3339 time; scan exceptions were not applied"]) if {
	count(_exceptions) > 0
	not _today
}

# Unknown or missing severities rank as UNKNOWN.
_rank(s) := _severities[upper(s)] if is_string(s)

else := 0

_ignored_unfixed(v) if {
	wl.param(["scan", "ignoreUnfixed"], false) == true
	_string(object.get(v, "FixedVersion", "")) == ""
}

# CVE-2024-0001 (CRITICAL) in openssl 3.0.1 (fixed in 3.0.2), target "img (alpine 3.18)"
_describe(v, target) := concat("", [
	_string(object.get(v, "VulnerabilityID", "<no id>")),
	" (", _string(object.get(v, "Severity", "UNKNOWN")), ") in ",
	_string(object.get(v, "PkgName", "<unknown package>")), " ",
	_string(object.get(v, "InstalledVersion", "")),
	_fixed_text(v),
	", target ", wl.q(target),
])

_fixed_text(v) := concat("", [" (fixed in ", fixed, ")"]) if {
	fixed := _string(object.get(v, "FixedVersion", ""))
	fixed != ""
} else := " (no fix available)"

_string(x) := x if is_string(x)

else := wl.show(x)

# --- exceptions ---------------------------------------------------------------------------

_exceptions_param := wl.param(["scan", "exceptions"], [])

_exceptions contains e if {
	some e in _exceptions_param
	_valid_exception(e)
}

_valid_exception(e) if {
	is_object(e)
	is_string(e.id)
	_is_date(e.expires)
}

# The date part of input.now ("2026-11-21T00:00:00Z" -> "2026-11-21").
_today := d if {
	is_string(input.now)
	count(input.now) >= 20
	d := substring(input.now, 0, 10)
	_is_date(d)
	substring(input.now, 10, 1) in {"T", "t"}
}

# YYYY-MM-DD; such strings order lexicographically like dates.
_is_date(s) if {
	is_string(s)
	count(s) == 10
	substring(s, 4, 1) == "-"
	substring(s, 7, 1) == "-"
	trim(replace(s, "-", ""), "0123456789") == ""
	count(replace(s, "-", "")) == 8
}

# id -> the latest expiry among its exceptions, built in one pass over the sorted [id, expires]
# pairs (the last pair of each id holds its latest date), so checking a finding is a lookup
# rather than a scan of every exception (reports can hold thousands of findings).
_latest_expiry := {pair[0]: pair[1] |
	some i, pair in _exception_pairs
	not _exception_pairs[i + 1][0] == pair[0]
}

_exception_pairs := sort([[e.id, e.expires] | some e in _exceptions])

# An exception applies while its expiry date is on or after today's date.
_excepted(v) if _today <= _latest_expiry[v.VulnerabilityID]

_exception_expiry(v) := _latest_expiry[v.VulnerabilityID]

_expired_note(v) := concat("", ["; its exception expired on ", _latest_expiry[v.VulnerabilityID]]) if {
	_today
} else := ""

# --- parameters ---------------------------------------------------------------------------

_threshold := upper(t) if {
	t := wl.param(["scan", "severityThreshold"], "HIGH")
	is_string(t)
} else := "<invalid>"

deny contains wl.pod_violation("params/invalid", ["parameter scan.severityThreshold must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL, got ", wl.show(wl.param(["scan", "severityThreshold"], "HIGH"))]) if {
	not _severities[_threshold]
}

deny contains wl.pod_violation("params/invalid", ["parameter scan.exceptions[", format_int(i, 10), "] must be {\"id\": string, \"expires\": \"YYYY-MM-DD\"}"]) if {
	is_array(_exceptions_param)
	some i, e in _exceptions_param
	not _valid_exception(e)
}

deny contains wl.pod_violation("params/invalid", ["parameter scan.exceptions must be an array"]) if {
	not is_array(_exceptions_param)
}
