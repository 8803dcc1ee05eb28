package sluice.policies.scan_gate_test

import data.sluice.policies.scan_gate as sg
import data.sluice.test.fixtures as fx

params := {"scan": {"severityThreshold": "HIGH", "ignoreUnfixed": false, "exceptions": [], "waiveMissingReport": false}}

vuln(id, severity, fixed) := {
	"VulnerabilityID": id,
	"PkgName": "openssl",
	"InstalledVersion": "3.0.1-r0",
	"FixedVersion": fixed,
	"Severity": severity,
	"Title": "something bad",
}

report(vulns) := {
	"SchemaVersion": 2,
	"ArtifactName": fx.image,
	"ArtifactType": "container_image",
	"Results": [
		{"Target": "agent (alpine 3.20.3)", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": vulns},
		{"Target": "usr/bin/agent", "Class": "lang-pkgs", "Type": "gobinary"},
	],
}

with_scan(scan) := json.patch(fx.k8s, [{"op": "replace", "path": "/scan", "value": scan}])

with_params(patch) := object.union(params, {"scan": patch})

test_clean_report_is_allowed if {
	count(sg.deny) == 0 with input as fx.k8s with data.sluice.params as params
	count(sg.warn) == 0 with input as fx.k8s with data.sluice.params as params
}

test_report_without_results_is_allowed if {
	count(sg.deny) == 0 with input as with_scan({"SchemaVersion": 2, "ArtifactName": "x"}) with data.sluice.params as params
	count(sg.deny) == 0 with input as with_scan({"SchemaVersion": 2, "Results": null}) with data.sluice.params as params
}

test_vulnerability_at_threshold_denies if {
	d := sg.deny with input as with_scan(report([vuln("CVE-2024-0001", "HIGH", "3.0.2-r0")])) with data.sluice.params as params
	d == {{"rule": "scan-gate/vulnerability", "message": "CVE-2024-0001 (HIGH) in openssl 3.0.1-r0 (fixed in 3.0.2-r0), target \"agent (alpine 3.20.3)\""}}
}

test_vulnerability_above_threshold_denies if {
	d := sg.deny with input as with_scan(report([vuln("CVE-2024-0002", "CRITICAL", "")])) with data.sluice.params as params
	fx.messages(d, "scan-gate/vulnerability") == {"CVE-2024-0002 (CRITICAL) in openssl 3.0.1-r0 (no fix available), target \"agent (alpine 3.20.3)\""}
}

test_vulnerability_below_threshold_is_allowed if {
	inp := with_scan(report([vuln("CVE-1", "MEDIUM", "1"), vuln("CVE-2", "LOW", "1"), vuln("CVE-3", "UNKNOWN", "")]))
	count(sg.deny) == 0 with input as inp with data.sluice.params as params
}

test_threshold_is_configurable_and_case_insensitive if {
	inp := with_scan(report([vuln("CVE-1", "MEDIUM", "1"), vuln("CVE-2", "LOW", "1")]))
	d := sg.deny with input as inp with data.sluice.params as with_params({"severityThreshold": "medium"})
	count(d) == 1
	fx.rules(d) == {"scan-gate/vulnerability"}
}

test_unknown_threshold_denies_everything_with_a_severity if {
	inp := with_scan(report([vuln("CVE-1", "UNKNOWN", "1")]))
	fx.rules(sg.deny) == {"scan-gate/vulnerability"} with input as inp with data.sluice.params as with_params({"severityThreshold": "UNKNOWN"})
}

test_missing_or_odd_severity_ranks_as_unknown if {
	inp := with_scan(report([object.remove(vuln("CVE-1", "x", "1"), ["Severity"]), vuln("CVE-2", "NEGLIGIBLE", "1")]))
	count(sg.deny) == 0 with input as inp with data.sluice.params as params
	d := sg.deny with input as inp with data.sluice.params as with_params({"severityThreshold": "UNKNOWN"})
	fx.messages(d, "scan-gate/vulnerability") == {
		"CVE-1 (UNKNOWN) in openssl 3.0.1-r0 (fixed in 1), target \"agent (alpine 3.20.3)\"",
		"CVE-2 (NEGLIGIBLE) in openssl 3.0.1-r0 (fixed in 1), target \"agent (alpine 3.20.3)\"",
	}
}

test_lower_case_severity_is_ranked if {
	inp := with_scan(report([vuln("CVE-1", "critical", "1")]))
	fx.rules(sg.deny) == {"scan-gate/vulnerability"} with input as inp with data.sluice.params as params
}

test_ignore_unfixed_skips_vulnerabilities_without_fix if {
	inp := with_scan(report([vuln("CVE-1", "CRITICAL", ""), object.remove(vuln("CVE-2", "CRITICAL", ""), ["FixedVersion"]), vuln("CVE-3", "HIGH", "3.0.2")]))
	d := sg.deny with input as inp with data.sluice.params as with_params({"ignoreUnfixed": true})
	fx.messages(d, "scan-gate/vulnerability") == {"CVE-3 (HIGH) in openssl 3.0.1-r0 (fixed in 3.0.2), target \"agent (alpine 3.20.3)\""}
	count(sg.deny) == 3 with input as inp with data.sluice.params as params
}

test_active_exception_turns_deny_into_warning if {
	inp := with_scan(report([vuln("CVE-2024-0001", "CRITICAL", "3.0.2")]))
	p := with_params({"exceptions": [{"id": "CVE-2024-0001", "expires": "2027-01-31"}]})
	count(sg.deny) == 0 with input as inp with data.sluice.params as p
	sg.warn == {{"rule": "scan-gate/exception", "message": "CVE-2024-0001 (CRITICAL) in openssl 3.0.1-r0 (fixed in 3.0.2), target \"agent (alpine 3.20.3)\" allowed by exception until 2027-01-31"}} with input as inp with data.sluice.params as p
}

test_exception_is_valid_through_its_expiry_date if {
	inp := with_scan(report([vuln("CVE-1", "HIGH", "2")]))
	p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2026-11-21"}]})
	count(sg.deny) == 0 with input as inp with data.sluice.params as p
}

test_expired_exception_denies_and_says_so if {
	inp := with_scan(report([vuln("CVE-1", "HIGH", "2")]))
	p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2026-11-20"}]})
	d := sg.deny with input as inp with data.sluice.params as p
	d == {{"rule": "scan-gate/vulnerability", "message": "CVE-1 (HIGH) in openssl 3.0.1-r0 (fixed in 2), target \"agent (alpine 3.20.3)\"; its exception expired on 2026-11-20"}}
}

test_exception_for_other_cve_does_not_apply if {
	inp := with_scan(report([vuln("CVE-1", "HIGH", "2")]))
	p := with_params({"exceptions": [{"id": "CVE-2", "expires": "2099-01-01"}]})
	fx.rules(sg.deny) == {"scan-gate/vulnerability"} with input as inp with data.sluice.params as p
}

test_latest_of_several_exceptions_is_reported if {
	inp := with_scan(report([vuln("CVE-1", "HIGH", "2")]))
	p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2026-12-01"}, {"id": "CVE-1", "expires": "2027-06-30"}, {"id": "CVE-1", "expires": "2020-01-01"}]})
	fx.messages(sg.warn, "scan-gate/exception") == {"CVE-1 (HIGH) in openssl 3.0.1-r0 (fixed in 2), target \"agent (alpine 3.20.3)\" allowed by exception until 2027-06-30"} with input as inp with data.sluice.params as p
}

test_exceptions_are_not_applied_without_now if {
	inp := json.patch(with_scan(report([vuln("CVE-1", "HIGH", "2")])), [{"op": "remove", "path": "/now"}])
	p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2099-01-01"}]})
	d := sg.deny with input as inp with data.sluice.params as p
	fx.messages(d, "scan-gate/vulnerability") == {"CVE-1 (HIGH) in openssl 3.0.1-r0 (fixed in 2), target \"agent (alpine 3.20.3)\""}
	fx.messages(sg.warn, "scan-gate/exception") == {"input.now is missing or not an RFC3339 time; scan exceptions were not applied"} with input as inp with data.sluice.params as p
}

test_malformed_now_is_treated_as_missing if {
	every now in ["2026-11-21", "21/11/2026T00:00:00Z", "2026-11-21 00:00:00Z", 1763683200] {
		inp := json.patch(with_scan(report([vuln("CVE-1", "HIGH", "2")])), [{"op": "replace", "path": "/now", "value": now}])
		p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2099-01-01"}]})
		fx.rules(sg.deny) == {"scan-gate/vulnerability"} with input as inp with data.sluice.params as p
	}
}

test_now_with_offset_uses_its_date_part if {
	inp := json.patch(with_scan(report([vuln("CVE-1", "HIGH", "2")])), [{"op": "replace", "path": "/now", "value": "2027-01-31T23:59:59+02:00"}])
	p := with_params({"exceptions": [{"id": "CVE-1", "expires": "2027-01-31"}]})
	count(sg.deny) == 0 with input as inp with data.sluice.params as p
}

test_missing_report_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/scan"}])
	d := sg.deny with input as inp with data.sluice.params as params
	d == {{"rule": "scan-gate/missing-report", "message": "no vulnerability scan report for the image (set scan.waiveMissingReport to allow this)"}}
}

test_null_report_counts_as_missing if {
	fx.rules(sg.deny) == {"scan-gate/missing-report"} with input as with_scan(null) with data.sluice.params as params
}

test_waived_missing_report_warns if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/scan"}])
	p := with_params({"waiveMissingReport": true})
	count(sg.deny) == 0 with input as inp with data.sluice.params as p
	fx.rules(sg.warn) == {"scan-gate/missing-report"} with input as inp with data.sluice.params as p
}

# The spec's waiver arrives as input.params.scan and wins over the data's, either way.
test_spec_waiver_in_input_params_overrides_data if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/scan"}, {"op": "add", "path": "/params", "value": {"scan": {"waiveMissingReport": true}}}])
	count(sg.deny) == 0 with input as inp with data.sluice.params as params
	fx.rules(sg.warn) == {"scan-gate/missing-report"} with input as inp with data.sluice.params as params
	strict := json.patch(inp, [{"op": "replace", "path": "/params/scan/waiveMissingReport", "value": false}])
	fx.rules(sg.deny) == {"scan-gate/missing-report"} with input as strict with data.sluice.params as with_params({"waiveMissingReport": true})
}

test_missing_report_denies_with_default_data if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/scan"}])
	fx.rules(sg.deny) == {"scan-gate/missing-report"} with input as inp
}

test_wrong_schema_version_denies if {
	d := sg.deny with input as with_scan({"SchemaVersion": 1, "Results": []}) with data.sluice.params as params
	d == {{"rule": "scan-gate/invalid-report", "message": "scan report is not a Trivy JSON report with SchemaVersion 2 (got SchemaVersion 1)"}}
}

test_non_object_report_denies if {
	fx.messages(sg.deny, "scan-gate/invalid-report") == {"scan report is not a Trivy JSON report with SchemaVersion 2 (got SchemaVersion null)"} with input as with_scan("clean!") with data.sluice.params as params
}

test_non_array_results_denies if {
	fx.messages(sg.deny, "scan-gate/invalid-report") == {"scan report Results must be an array"} with input as with_scan({"SchemaVersion": 2, "Results": {"Target": "x"}}) with data.sluice.params as params
}

test_every_result_and_vulnerability_is_checked if {
	scan := {"SchemaVersion": 2, "Results": [
		{"Target": "os", "Vulnerabilities": [vuln("CVE-1", "HIGH", "2"), vuln("CVE-2", "LOW", "")]},
		{"Target": "jar", "Vulnerabilities": [vuln("CVE-3", "CRITICAL", "9")]},
		{"Target": "empty", "Vulnerabilities": null},
		"garbage",
	]}
	d := sg.deny with input as with_scan(scan) with data.sluice.params as params
	count(d) == 2
	fx.rules(d) == {"scan-gate/vulnerability"}
}

test_sparse_vulnerability_entries_still_deny if {
	scan := {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"Severity": "CRITICAL"}]}]}
	fx.messages(sg.deny, "scan-gate/vulnerability") == {"<no id> (CRITICAL) in <unknown package>  (no fix available), target \"\""} with input as with_scan(scan) with data.sluice.params as params
}

test_invalid_parameters_deny if {
	p := {"scan": {"severityThreshold": "SEVERE", "exceptions": [{"id": "CVE-1"}, {"id": "CVE-2", "expires": "31.01.2027"}, {"id": "CVE-3", "expires": "2027-01-31"}]}}
	d := sg.deny with input as fx.k8s with data.sluice.params as p
	fx.messages(d, "params/invalid") == {
		"parameter scan.severityThreshold must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL, got \"SEVERE\"",
		"parameter scan.exceptions[0] must be {\"id\": string, \"expires\": \"YYYY-MM-DD\"}",
		"parameter scan.exceptions[1] must be {\"id\": string, \"expires\": \"YYYY-MM-DD\"}",
	}
}

test_non_string_threshold_and_non_array_exceptions_deny if {
	d := sg.deny with input as fx.k8s with data.sluice.params as {"scan": {"severityThreshold": 3, "exceptions": {"CVE-1": "2027-01-01"}}}
	fx.messages(d, "params/invalid") == {
		"parameter scan.severityThreshold must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL, got 3",
		"parameter scan.exceptions must be an array",
	}
}

test_critical_threshold_lets_high_through if {
	count(sg.deny) == 0 with input as with_scan(report([vuln("CVE-2024-0002", "HIGH", "3.0.2")])) with data.sluice.params as with_params({"severityThreshold": "CRITICAL"})
}

test_a_missing_severity_is_below_low if {
	v := object.remove(vuln("CVE-2024-0003", "LOW", "3.0.2"), ["Severity"])
	count(sg.deny) == 0 with input as with_scan(report([v])) with data.sluice.params as with_params({"severityThreshold": "LOW"})
}

# Absent parameters take their documented defaults: threshold HIGH, unfixed findings count, no waiver.
test_absent_scan_parameters_take_the_defaults if {
	unfixed := with_scan(report([vuln("CVE-2024-0004", "HIGH", ""), vuln("CVE-2024-0005", "MEDIUM", "1")]))
	d := sg.deny with input as unfixed with data.sluice.params as {}
	fx.rules(d) == {"scan-gate/vulnerability"}
	count(d) == 1
	missing := object.remove(fx.k8s, ["scan"])
	fx.rules(sg.deny) == {"scan-gate/missing-report"} with input as missing with data.sluice.params as {}
	count(sg.warn) == 0 with input as missing with data.sluice.params as {}
}

test_a_waiver_is_silent_when_the_report_is_there if {
	count(sg.warn) == 0 with input as fx.k8s with data.sluice.params as with_params({"waiveMissingReport": true})
	count(sg.warn) == 0 with input as object.remove(fx.k8s, ["scan"]) with data.sluice.params as params
}

test_no_exceptions_no_warning_about_now if {
	count(sg.warn) == 0 with input as object.remove(fx.k8s, ["now"]) with data.sluice.params as params
}

test_non_string_finding_fields_are_shown if {
	v := object.union(vuln("x", "HIGH", "3.0.2"), {"VulnerabilityID": 5})
	fx.messages(sg.deny, "scan-gate/vulnerability") == {"5 (HIGH) in openssl 3.0.1-r0 (fixed in 3.0.2), target \"agent (alpine 3.20.3)\""} with input as with_scan(report([v])) with data.sluice.params as params
}

test_an_exception_needs_a_string_id_and_a_date if {
	v := object.union(vuln("x", "HIGH", "3.0.2"), {"VulnerabilityID": 5})
	p := with_params({"exceptions": [{"id": 5, "expires": "2099-01-01"}, {"id": "CVE-2024-0001"}]})
	d := sg.deny with input as with_scan(report([v])) with data.sluice.params as p
	fx.rules(d) == {"scan-gate/vulnerability", "params/invalid"}
	count(sg.warn) == 0 with input as object.remove(fx.k8s, ["now"]) with data.sluice.params as with_params({"exceptions": [{"id": "CVE-2024-0001"}]})
}

test_malformed_expiry_dates_are_invalid if {
	every expires in ["2026-11-2-1", "202-611-21", "2026-112-1", "2026-11-2x", "2026-11---"] {
		fx.messages(sg.deny, "params/invalid") == {"parameter scan.exceptions[0] must be {\"id\": string, \"expires\": \"YYYY-MM-DD\"}"} with input as fx.k8s with data.sluice.params as with_params({"exceptions": [{"id": "CVE-2024-0001", "expires": expires}]})
	}
}

test_now_must_be_a_full_rfc3339_time if {
	p := with_params({"exceptions": [{"id": "CVE-2024-0001", "expires": "2099-01-01"}]})
	inp := with_scan(report([vuln("CVE-2024-0001", "CRITICAL", "3.0.2")]))
	every now in ["2026-11-21T", "2026-1x-21T00:00:00Z"] {
		fx.messages(sg.warn, "scan-gate/exception") == {"input.now is missing or not an RFC3339 time; scan exceptions were not applied"} with input as object.union(inp, {"now": now}) with data.sluice.params as p
	}
	count(sg.deny) == 0 with input as object.union(inp, {"now": "2026-11-21t00:00:00z"}) with data.sluice.params as p
}
