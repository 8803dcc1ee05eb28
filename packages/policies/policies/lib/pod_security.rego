# Shared by the pod-security-baseline and pod-security-restricted profiles: which level is
# selected, the pod spec the checks read, and the message helpers of Kubernetes' Pod Security
# admission (k8s.io/pod-security-admission v0.36.3, policy/*.go; Kubernetes v1.36).
#
# Level: input.params.podSecurity.profiles (the spec's) and data.sluice.params.podSecurity.profiles,
# lists of "pod-security/baseline" and "pod-security/restricted" (absent, null or [] = no profile;
# the strictest listed in either wins), and the
# target namespace's pod-security.kubernetes.io/* labels when the input carries them.
#
# The pod spec is the Kubernetes object's (input.kubernetes.object): a Pod's spec, a workload's
# spec.template, a CronJob's spec.jobTemplate.spec.template. It is read as the apiserver will
# see the pods the controllers create from it, so two things the apiserver does to a pod before
# Pod Security admission runs are applied here too:
#   - defaulting: with hostNetwork, a (init) container port's hostPort defaults to its containerPort;
#   - the pod strategy's AppArmor sync (v1.30+, not on Windows pods): a container without an
#     appArmorProfile gets the one its container.apparmor.security.beta.kubernetes.io/<name>
#     annotation names, unless that equals the pod's profile.
package sluice.lib.pod_security

import future.keywords.not

import data.sluice.lib.workload as wl

profile_levels := {"pod-security/baseline": 1, "pod-security/restricted": 2}

# The spec's selection (input.params) and the policy data's add up: the strictest level either
# names wins, so a spec cannot weaken a profile the operator's data requires.
_selections := [wl.input_param(["podSecurity", "profiles"], []), wl.data_param(["podSecurity", "profiles"], [])]

# A malformed selection (reported by the baseline package as params/invalid).
profiles_invalid := concat("", ["podSecurity.profiles must be a list of ", _names, ", got ", wl.show(ps)]) if {
	some ps in _selections
	not is_array(ps)
} else := concat("", ["podSecurity.profiles: unknown profile ", wl.show(p), " (known: ", _names, ")"]) if {
	some ps in _selections
	is_array(ps)
	some p in ps
	not profile_levels[p]
}

_names := "\"pod-security/baseline\", \"pod-security/restricted\""

# 0: no profile, 1: baseline, 2: restricted. A malformed selection counts as restricted (fail
# closed: it also denies with params/invalid).
spec_level := 2 if {
	profiles_invalid
} else := max(ls) if {
	ls := [profile_levels[p] | some ps in _selections; is_array(ps); some p in ps]
	count(ls) > 0
} else := 0

# --- the target namespace's Pod Security labels ------------------------------------------------
#
# input.kubernetes.namespace = {"name", "labels"}: the namespace the pods will run in, as the
# adapter read it before the rollout. Its pod-security.kubernetes.io/enforce level denies like a
# selected profile (an unknown value counts as restricted, as the apiserver does); its warn and
# audit levels warn (an unknown value there counts as privileged, as the apiserver does; warn
# defaults to the enforce level). The checks are v1.36's whatever *-version pins.

_ns_labels := l if {
	l := input.kubernetes.namespace.labels
	is_object(l)
} else := {}

namespace := n if {
	n := input.kubernetes.namespace.name
	is_string(n)
} else := n if {
	n := input.kubernetes.object.metadata.namespace
	is_string(n)
} else := ""

_label_levels := {"privileged": 0, "baseline": 1, "restricted": 2}

_enforce := _ns_labels["pod-security.kubernetes.io/enforce"]

_ns_enforce := object.get(_label_levels, _enforce, 2) if _enforce

else := 0

_ns_level(mode) := object.get(_label_levels, v, 0) if v := _ns_labels[concat("", ["pod-security.kubernetes.io/", mode])]

_ns_warn := l if l := _ns_level("warn")

else := _ns_enforce

_ns_audit := l if l := _ns_level("audit")

else := 0

# The level that denies: the strictest of the profiles selected and the namespace's enforce label.
level := max([spec_level, _ns_enforce])

# The level that warns (checks it adds to `level`'s).
warn_level := max([_ns_warn, _ns_audit])

_label(mode, lvl) := concat("", ["namespace ", wl.q(namespace), " (pod-security.kubernetes.io/", mode, "=", lvl, "): "])

# Where a deny comes from: "" for a selected profile, the namespace and its label otherwise.
deny_source := "" if spec_level >= _ns_enforce

else := _label("enforce", _enforce)

warn_source := _label("warn", _ns_labels["pod-security.kubernetes.io/warn"]) if _ns_warn >= _ns_audit

else := _label("audit", _ns_labels["pod-security.kubernetes.io/audit"]) if _ns_labels["pod-security.kubernetes.io/audit"]

else := _label("enforce", _enforce)

level_name := "restricted" if level == 2

else := "baseline"

baseline_checks := {
	"hostNamespaces", "privileged", "capabilities_baseline", "hostPathVolumes", "hostPorts",
	"appArmorProfile", "seLinuxOptions", "procMount", "seccompProfile_baseline", "sysctls",
	"windowsHostProcess", "hostProbesAndHostLifecycle",
}

restricted_checks := {
	"allowPrivilegeEscalation", "capabilities_restricted", "procMount_restricted",
	"restrictedVolumes", "runAsNonRoot", "runAsUser", "seccompProfile_restricted",
}

# The checks each level runs: restricted replaces four baseline checks with its own.
level_checks := {
	0: set(),
	1: baseline_checks,
	2: ((baseline_checks - {"capabilities_baseline", "seccompProfile_baseline", "hostPathVolumes", "procMount"}) | restricted_checks),
}

# --- the pod spec ----------------------------------------------------------------------------

_object := o if {
	o := input.kubernetes.object
	is_object(o)
}

_template := t if {
	t := _object.spec.template
	is_object(t)
} else := t if {
	t := _object.spec.jobTemplate.spec.template
	is_object(t)
} else := _object if {
	_object.kind == "Pod"
}

has_pod_spec if is_object(_template.spec)

spec := wl.obj(object.get(_template, "spec", null))

meta := wl.obj(object.get(_template, "metadata", null))

annotations := wl.obj(object.get(meta, "annotations", null))

pod_sc := wl.obj(object.get(spec, "securityContext", null))

_list(field) := [wl.obj(x) | some x in object.get(spec, field, [])] if is_array(object.get(spec, field, []))

else := []

# Init, regular, then ephemeral containers: the order Pod Security admission visits them in.
containers := array.concat(array.concat(_init, _regular), _ephemeral)

_init := [_defaulted(c) | some c in _list("initContainers")]

_regular := [_defaulted(c) | some c in _list("containers")]

_ephemeral := _list("ephemeralContainers")

volumes := _list("volumes")

windows if spec.os.name == "windows"

user_namespace if spec.hostUsers == false

name(c) := n if {
	n := c.name
	is_string(n)
} else := ""

sc(c) := wl.obj(object.get(c, "securityContext", null))

has(o, key) if object.get(o, key, null) != null

# hostNetwork: the apiserver defaults a (init) container port's hostPort to its containerPort.
_defaulted(c) := object.union(c, {"ports": [_default_port(p) | some p in c.ports]}) if {
	spec.hostNetwork == true
	is_array(c.ports)
} else := c

_default_port(p) := object.union(p, {"hostPort": p.containerPort}) if {
	is_object(p)
	object.get(p, "hostPort", 0) == 0
} else := p

# The AppArmor profile a container ends up with (see the top of this file); undefined if none.
apparmor(c) := p if {
	p := sc(c).appArmorProfile
	p != null
} else := p if {
	not windows
	a := annotations[concat("", ["container.apparmor.security.beta.kubernetes.io/", name(c)])]
	p := _apparmor_field(a)
	p != object.get(pod_sc, "appArmorProfile", null)
}

_apparmor_field("runtime/default") := {"type": "RuntimeDefault"}

_apparmor_field("unconfined") := {"type": "Unconfined"}

_apparmor_field(a) := {"type": "Localhost", "localhostProfile": p} if {
	startswith(a, "localhost/")
	p := substring(a, 10, -1)
	p != ""
}

# --- messages ----------------------------------------------------------------------------------

join_quote(items) := "" if count(items) == 0

else := concat("", ["\"", concat("\", \"", items), "\""])

plural(one, _, n) := one if n == 1

plural(_, many, n) := many if n != 1

# "containers \"a\", \"b\"" (pod security's pluralize + joinQuote)
containers_phrase(names) := concat(" ", [plural("container", "containers", count(names)), join_quote(names)])

# A check's finding: its id and the apiserver's reason and detail.
result(id, reason, detail) := {"id": id, "reason": reason, "detail": detail}

# A violation as Pod Security admission words it: rule pod-security/<check id>, message
# "<reason> (<detail>)", the same text the apiserver puts between commas in its error, after
# `source` (which namespace label it comes from, or "" for a selected profile).
violation(id, reason, detail, source) := {
	"rule": concat("", ["pod-security/", id]),
	"message": concat("", [source, reason, " (", detail, ")"]),
}
