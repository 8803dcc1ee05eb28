# image-provenance: every container image (init and ephemeral containers included) comes
# from an allowed registry, carries an explicit tag other than "latest" (a digest-only
# reference such as "registry.sluice.dev/agent@sha256:..." needs no tag), and is pinned by
# digest (deny, warn or off, per data.sluice.params.provenance.requireDigest).
#
# Registry allowlist: data.sluice.params.provenance.allowedRegistries, prefix match on the
# fully qualified reference ("nginx:1.27" is "docker.io/library/nginx:1.27"); every entry is
# treated as ending with "/", so "registry.example.com" does not admit
# "registry.example.com.evil.io/...". A registry port is not a tag ("localhost:5000/agent").
#
# Rule ids: image-provenance/registry, image-provenance/tag, image-provenance/digest,
#           params/invalid
package sluice.policies.image_provenance

import future.keywords.not

import data.sluice.lib.workload as wl

deny contains wl.violation("image-provenance/registry", c, ["image ", wl.q(image), " is not from an allowed registry (allowed: ", _allowed_text, ")"]) if {
	some c in wl.containers
	image := _image(c)
	not _allowed(image)
}

deny contains wl.violation("image-provenance/tag", c, ["image ", wl.q(image), " uses the \"latest\" tag"]) if {
	some c in wl.containers
	image := _image(c)
	_tags[image] == "latest"
}

deny contains wl.violation("image-provenance/tag", c, ["image ", wl.q(image), " has no tag (pin a version tag or a digest)"]) if {
	some c in wl.containers
	image := _image(c)
	not _has_tag(image)
	not _pinned(image)
}

deny contains _digest_violation(c) if {
	_require_digest == "deny"
	some c in _unpinned
}

warn contains _digest_violation(c) if {
	_require_digest == "warn"
	some c in _unpinned
}

deny contains wl.pod_violation("params/invalid", ["parameter provenance.requireDigest must be \"deny\", \"warn\" or \"off\", got ", wl.show(_require_digest)]) if {
	not _require_digest in {"deny", "warn", "off"}
}

deny contains wl.pod_violation("params/invalid", ["parameter provenance.allowedRegistries must be an array of strings"]) if {
	not _registries_valid
}

# An array, like wl.containers (cheap to iterate in Wasm).
_unpinned := [c |
	some c in wl.containers
	not _pinned(_image(c))
]

_digest_violation(c) := wl.violation("image-provenance/digest", c, ["image ", wl.q(_image(c)), " is not pinned by digest (name:tag@sha256:...)"])

_image(c) := i if {
	i := c.image
	is_string(i)
} else := ""

# --- reference parsing --------------------------------------------------------------------

# The reference without its digest.
_name(image) := split(image, "@")[0]

# The tag: the part after ":" in the last path segment (so a registry port is not a tag).
_tag(image) := parts[1] if {
	segments := split(_name(image), "/")
	parts := split(segments[count(segments) - 1], ":")
	count(parts) == 2
}

_has_tag(image) if _tags[image] != ""

# image -> its tag (when it has one), for every container's image: parsed once per image.
_tags := {image: tag |
	some c in wl.containers
	image := _image(c)
	tag := _tag(image)
}

_pinned(image) if {
	parts := split(image, "@")
	count(parts) == 2
	_valid_digests[parts[1]]
}

# The valid digests among the containers' images: each distinct digest is checked once (the hex
# check is the expensive part, and a pod's images often share a digest or repeat).
_valid_digests contains digest if {
	some digest in _digests
	_valid_digest(digest)
}

_digests contains parts[1] if {
	some c in wl.containers
	parts := split(_image(c), "@")
	count(parts) == 2
}

_valid_digest(d) if {
	startswith(d, "sha256:")
	count(d) == 71
	_hex(substring(d, 7, 64))
}

_valid_digest(d) if {
	startswith(d, "sha512:")
	count(d) == 135
	_hex(substring(d, 7, 128))
}

_hex(s) if trim(s, "0123456789abcdef") == ""

# Fully qualified reference: Docker Hub images get "docker.io/" (and "library/" for
# single-segment names), as the Docker daemon and containerd resolve them.
_qualified(image) := image if {
	segments := split(image, "/")
	count(segments) > 1
	_is_registry_host(segments[0])
} else := concat("", ["docker.io/", image]) if {
	contains(image, "/")
} else := concat("", ["docker.io/library/", image])

_is_registry_host(h) if contains(h, ".")

_is_registry_host(h) if contains(h, ":")

_is_registry_host("localhost")

# --- parameters ---------------------------------------------------------------------------

_registries_param := wl.param(["provenance", "allowedRegistries"], [])

_registries contains r if {
	some entry in _registries_param
	is_string(entry)
	entry != ""
	r := _with_slash(entry)
}

_with_slash(entry) := entry if endswith(entry, "/")

else := concat("", [entry, "/"])

_allowed(image) if {
	qualified := _qualified(image) # once, not once per registry
	some r in _registries
	startswith(qualified, r)
}

_allowed_text := concat(", ", sort(_registries)) if count(_registries) > 0

else := "none configured"

_registries_valid if {
	is_array(_registries_param)
	every entry in _registries_param {
		is_string(entry)
	}
}

_require_digest := wl.param(["provenance", "requireDigest"], "warn")
