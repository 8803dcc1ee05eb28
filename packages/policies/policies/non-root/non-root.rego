# non-root: every container (init and ephemeral containers included) must run as non-root.
#
# Kubernetes (and simulated) workloads: a container's securityContext field overrides the
# pod's. Denied when the effective runAsUser is 0, when the effective runAsNonRoot is false
# (so runAsNonRoot: false on a container beats true on the pod), and when nothing proves
# non-root (neither runAsNonRoot: true nor a runAsUser > 0).
#
# Docker workloads: the container's user (Config.User, or the image's Config.User when the
# container sets none) must not be empty, "root" or UID 0, with or without a group.
#
# Rule id: non-root
package sluice.policies.non_root

import future.keywords.not

import data.sluice.lib.workload as wl

# --- Kubernetes / simulated -------------------------------------------------------------

deny contains wl.violation("non-root", c, ["runs as UID 0 (runAsUser: 0 in the ", _source(c, "runAsUser"), " securityContext)"]) if {
	not wl.is_docker
	some c in wl.containers
	_effective(c, "runAsUser") == 0
}

deny contains wl.violation("non-root", c, ["sets runAsNonRoot: false (in the ", _source(c, "runAsNonRoot"), " securityContext)"]) if {
	not wl.is_docker
	some c in wl.containers
	_effective(c, "runAsNonRoot") == false
}

deny contains wl.violation("non-root", c, ["does not prove it runs as non-root: set securityContext.runAsNonRoot: true or a runAsUser other than 0"]) if {
	not wl.is_docker
	some c in wl.containers
	not _effective(c, "runAsUser") == 0
	not _effective(c, "runAsNonRoot") == false
	not _proven_non_root(c)
}

# The container's value for key if set (not null), else the pod's.
_effective(c, key) := v if {
	v := wl.security_context(c)[key]
	v != null
} else := v if {
	v := wl.pod_security_context[key]
	v != null
}

_source(c, key) := "container" if {
	wl.security_context(c)[key] != null
} else := "pod"

_proven_non_root(c) if _effective(c, "runAsNonRoot") == true

_proven_non_root(c) if {
	uid := _effective(c, "runAsUser")
	is_number(uid)
	uid > 0
	floor(uid) == uid
}

# --- Docker -------------------------------------------------------------------------------

deny contains wl.violation("non-root", c, ["has no user set, so it runs as root (set USER in the image or --user)"]) if {
	wl.is_docker
	some c in wl.containers
	_docker_user(c) == ""
}

deny contains wl.violation("non-root", c, ["runs as root (user ", wl.q(user), ")"]) if {
	wl.is_docker
	some c in wl.containers
	user := _docker_user(c)
	user != ""
	_root_user(user)
}

# The container's user, or the image's default user when the container sets none (the
# normalizer already applies this fallback; repeated here for raw inputs).
_docker_user(c) := u if {
	u := c.user
	is_string(u)
	u != ""
} else := u if {
	u := input.docker.image.Config.User
	is_string(u)
} else := ""

# "root", "0", "00", "+0", "root:<group>", "0:<group>", ":<group>"
_root_user(user) if {
	uid := split(user, ":")[0]
	uid in {"", "root"}
}

# A numeric UID is parsed like Go's strconv.Atoi (as runc does): one optional sign, digits.
_root_user(user) if {
	uid := _unsigned(split(user, ":")[0])
	uid != ""
	trim(uid, "0123456789") == ""
	to_number(uid) == 0
}

_unsigned(uid) := substring(uid, 1, count(uid) - 1) if {
	substring(uid, 0, 1) in {"+", "-"}
} else := uid
