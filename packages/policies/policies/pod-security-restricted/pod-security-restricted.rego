# pod-security/restricted: the checks the Pod Security Standards' restricted level adds to the
# baseline ones, as Kubernetes v1.36 enforces them (k8s.io/pod-security-admission v0.36.3), off
# unless selected (data.sluice.params.podSecurity.profiles, see lib/pod_security.rego). With
# restricted selected, the baseline package runs its checks too, except the four replaced here:
# capabilities_baseline, seccompProfile_baseline, hostPathVolumes (by restrictedVolumes) and
# procMount (by procMount_restricted).
#
# Each check denies once per workload with rule pod-security/<check id> and the apiserver's own
# words: "<reason> (<detail>)", e.g.
#   pod-security/runAsNonRoot  runAsNonRoot != true (pod or container "agent" must set securityContext.runAsNonRoot=true)
#
# Rule ids: pod-security/allowPrivilegeEscalation, pod-security/capabilities_restricted,
#           pod-security/procMount_restricted, pod-security/restrictedVolumes,
#           pod-security/runAsNonRoot, pod-security/runAsUser,
#           pod-security/seccompProfile_restricted
package sluice.policies.pod_security_restricted

import future.keywords.not

import data.sluice.lib.pod_security as ps
import data.sluice.policies.pod_security_baseline as baseline

# No check needs a ps.has_pod_spec guard: without a pod spec, ps.pod_sc, ps.containers and
# ps.volumes are empty, so none finds anything (the baseline package denies no-pod-spec instead).

# Windows pods are exempt from allowPrivilegeEscalation, capabilities and seccompProfile (v1.25+).
_linux_on if not ps.windows

# Pods in a user namespace (hostUsers: false) are exempt from runAsNonRoot and runAsUser (v1.35+).
_host_users_on if not ps.user_namespace

# --- restrictedVolumes: spec.volumes[*] other than the inline types allowed --------------------

_allowed_volume_types := [
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
]

_restricted_volume_types := [
	"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
	"rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
	"azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
]

_allowed_volume(v) if {
	some t in _allowed_volume_types
	ps.has(v, t)
}

_bad_volumes := [v | some v in ps.volumes; not _allowed_volume(v)]

# The first restricted type the volume sets, in the apiserver's order; "unknown" if none.
_volume_type(v) := t if {
	ts := [t | some t in _restricted_volume_types; ps.has(v, t)]
	t := ts[0]
} else := "unknown"

results contains ps.result("restrictedVolumes", "restricted volume types", concat(" ", [
	ps.plural("volume", "volumes", count(_bad_volumes)),
	ps.join_quote([ps.name(v) | some v in _bad_volumes]),
	ps.plural("uses", "use", count(_bad_volumes)),
	ps.plural("restricted volume type", "restricted volume types", count(_types)),
	ps.join_quote(_types),
])) if {
	count(_bad_volumes) > 0
	_types := sort({_volume_type(v) | some v in _bad_volumes})
}

# --- allowPrivilegeEscalation: securityContext.allowPrivilegeEscalation must be false ----------

_escalation := [ps.name(c) | some c in ps.containers; _escalates(c)]

_escalates(c) if not ps.has(ps.sc(c), "allowPrivilegeEscalation")

_escalates(c) if ps.sc(c).allowPrivilegeEscalation != false

results contains ps.result("allowPrivilegeEscalation", "allowPrivilegeEscalation != false", concat(" ", [
	ps.containers_phrase(_escalation),
	"must set securityContext.allowPrivilegeEscalation=false",
])) if {
	_linux_on
	count(_escalation) > 0
}

# --- runAsNonRoot: pod or every container must set runAsNonRoot: true ---------------------------

_pod_non_root if ps.pod_sc.runAsNonRoot == true

_non_root_false := [ps.name(c) | some c in ps.containers; ps.sc(c).runAsNonRoot == false]

_non_root_unset := [ps.name(c) |
	some c in ps.containers
	not ps.has(ps.sc(c), "runAsNonRoot")
	not _pod_non_root
]

_non_root_setters := array.concat(
	["pod" | ps.pod_sc.runAsNonRoot == false],
	[ps.containers_phrase(_non_root_false) | count(_non_root_false) > 0],
)

_non_root_detail := concat("", [concat(" and ", _non_root_setters), " must not set securityContext.runAsNonRoot=false"]) if {
	count(_non_root_setters) > 0
} else := concat("", ["pod or ", ps.containers_phrase(_non_root_unset), " must set securityContext.runAsNonRoot=true"]) if {
	count(_non_root_unset) > 0
}

results contains ps.result("runAsNonRoot", "runAsNonRoot != true", _non_root_detail) if _host_users_on

# --- runAsUser: no runAsUser: 0, pod or container -----------------------------------------------

_root_users := [ps.name(c) | some c in ps.containers; ps.sc(c).runAsUser == 0]

_root_setters := array.concat(
	["pod" | ps.pod_sc.runAsUser == 0],
	[ps.containers_phrase(_root_users) | count(_root_users) > 0],
)

results contains ps.result("runAsUser", "runAsUser=0", concat("", [concat(" and ", _root_setters), " must not set runAsUser=0"])) if {
	_host_users_on
	count(_root_setters) > 0
}

# --- seccompProfile_restricted: pod or every container sets RuntimeDefault or Localhost ----------

_pod_seccomp_set if {
	p := ps.pod_sc.seccompProfile
	p != null
	not baseline.pod_seccomp_bad
}

_seccomp_unset := [ps.name(c) |
	some c in ps.containers
	not ps.has(ps.sc(c), "seccompProfile")
	not _pod_seccomp_set
]

_seccomp_detail := baseline.seccomp_explicit_detail if {
	baseline.seccomp_explicit_detail
} else := concat("", [
	"pod or ", ps.containers_phrase(_seccomp_unset),
	" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
]) if {
	count(_seccomp_unset) > 0
}

results contains ps.result("seccompProfile_restricted", "seccompProfile", _seccomp_detail) if _linux_on

# --- capabilities_restricted: drop ALL, add nothing but NET_BIND_SERVICE -----------------------

_drops_all(c) if "ALL" in object.get(ps.sc(c), ["capabilities", "drop"], [])

_missing_drop_all := [ps.name(c) | some c in ps.containers; not _drops_all(c)]

_forbidden_added(c) := [a |
	some a in object.get(ps.sc(c), ["capabilities", "add"], [])
	a != "NET_BIND_SERVICE"
]

_adding := [ps.name(c) | some c in ps.containers; count(_forbidden_added(c)) > 0]

_capability_details := array.concat(
	[concat("", [ps.containers_phrase(_missing_drop_all), " must set securityContext.capabilities.drop=[\"ALL\"]"]) |
		count(_missing_drop_all) > 0
	],
	[concat(" ", [
		ps.containers_phrase(_adding),
		"must not include",
		ps.join_quote(sort({a | some c in ps.containers; some a in _forbidden_added(c)})),
		"in securityContext.capabilities.add",
	]) |
		count(_adding) > 0
	],
)

results contains ps.result("capabilities_restricted", "unrestricted capabilities", concat("; ", _capability_details)) if {
	_linux_on
	count(_capability_details) > 0
}

# --- procMount_restricted: securityContext.procMount, no user-namespace exemption ---------------

results contains ps.result("procMount_restricted", "procMount", baseline.proc_mount_detail)
