package sluice.policies.image_provenance_test

import data.sluice.policies.image_provenance as ip
import data.sluice.test.fixtures as fx

params := {"provenance": {"allowedRegistries": ["registry.sluice.dev/", "localhost:5000/", "registry.example.com"], "requireDigest": "deny"}}

with_image(image) := fx.with_container({"image": image})

test_pinned_image_from_allowed_registry_is_allowed if {
	count(ip.deny) == 0 with input as fx.k8s with data.sluice.params as params
	count(ip.warn) == 0 with input as fx.k8s with data.sluice.params as params
}

test_image_from_other_registry_denies if {
	inp := with_image(concat("", ["ghcr.io/evil/agent:1.0@", fx.digest]))
	d := ip.deny with input as inp with data.sluice.params as params
	d == {{"rule": "image-provenance/registry", "container": "agent", "message": concat("", ["container \"agent\" image \"ghcr.io/evil/agent:1.0@", fx.digest, "\" is not from an allowed registry (allowed: localhost:5000/, registry.example.com/, registry.sluice.dev/)"])}}
}

test_registry_entry_without_trailing_slash_does_not_match_longer_host if {
	inp := with_image(concat("", ["registry.example.com.evil.io/agent:1.0@", fx.digest]))
	fx.rules(ip.deny) == {"image-provenance/registry"} with input as inp with data.sluice.params as params
	ok := with_image(concat("", ["registry.example.com/agent:1.0@", fx.digest]))
	count(ip.deny) == 0 with input as ok with data.sluice.params as params
}

test_docker_hub_short_names_are_qualified_before_matching if {
	inp := with_image(concat("", ["nginx:1.27@", fx.digest]))
	fx.rules(ip.deny) == {"image-provenance/registry"} with input as inp with data.sluice.params as params
	hub := {"provenance": {"allowedRegistries": ["docker.io/library/"], "requireDigest": "deny"}}
	count(ip.deny) == 0 with input as inp with data.sluice.params as hub
	org := with_image(concat("", ["someorg/agent:1.0@", fx.digest]))
	fx.rules(ip.deny) == {"image-provenance/registry"} with input as org with data.sluice.params as hub
	count(ip.deny) == 0 with input as org with data.sluice.params as {"provenance": {"allowedRegistries": ["docker.io/someorg/"], "requireDigest": "deny"}}
}

test_localhost_without_port_is_a_registry if {
	inp := with_image(concat("", ["localhost/agent:1.0@", fx.digest]))
	count(ip.deny) == 0 with input as inp with data.sluice.params as {"provenance": {"allowedRegistries": ["localhost/"], "requireDigest": "deny"}}
}

test_latest_tag_denies if {
	inp := with_image(concat("", ["registry.sluice.dev/agent:latest@", fx.digest]))
	d := ip.deny with input as inp with data.sluice.params as params
	fx.messages(d, "image-provenance/tag") == {concat("", ["container \"agent\" image \"registry.sluice.dev/agent:latest@", fx.digest, "\" uses the \"latest\" tag"])}
}

test_missing_tag_denies if {
	d := ip.deny with input as with_image("registry.sluice.dev/agent") with data.sluice.params as {"provenance": {"allowedRegistries": ["registry.sluice.dev/"], "requireDigest": "off"}}
	d == {{"rule": "image-provenance/tag", "container": "agent", "message": "container \"agent\" image \"registry.sluice.dev/agent\" has no tag (pin a version tag or a digest)"}}
}

test_empty_tag_denies if {
	d := ip.deny with input as with_image("registry.sluice.dev/agent:") with data.sluice.params as params
	fx.rules(d) == {"image-provenance/tag", "image-provenance/digest"}
}

test_registry_port_is_not_a_tag if {
	d := ip.deny with input as with_image("localhost:5000/agent") with data.sluice.params as params
	fx.messages(d, "image-provenance/tag") == {"container \"agent\" image \"localhost:5000/agent\" has no tag (pin a version tag or a digest)"}
	tagged := with_image(concat("", ["localhost:5000/team/agent:2.0@", fx.digest]))
	count(ip.deny) == 0 with input as tagged with data.sluice.params as params
}

test_digest_only_reference_needs_no_tag if {
	inp := with_image(concat("", ["registry.sluice.dev/agent@", fx.digest]))
	count(ip.deny) == 0 with input as inp with data.sluice.params as params
}

test_unpinned_image_denies_when_digest_required if {
	d := ip.deny with input as with_image("registry.sluice.dev/agent:1.2.3") with data.sluice.params as params
	d == {{"rule": "image-provenance/digest", "container": "agent", "message": "container \"agent\" image \"registry.sluice.dev/agent:1.2.3\" is not pinned by digest (name:tag@sha256:...)"}}
}

test_unpinned_image_warns_when_digest_recommended if {
	warn_params := {"provenance": {"allowedRegistries": ["registry.sluice.dev/"], "requireDigest": "warn"}}
	inp := with_image("registry.sluice.dev/agent:1.2.3")
	count(ip.deny) == 0 with input as inp with data.sluice.params as warn_params
	fx.rules(ip.warn) == {"image-provenance/digest"} with input as inp with data.sluice.params as warn_params
}

test_unpinned_image_passes_when_digest_off if {
	off := {"provenance": {"allowedRegistries": ["registry.sluice.dev/"], "requireDigest": "off"}}
	inp := with_image("registry.sluice.dev/agent:1.2.3")
	count(ip.deny) == 0 with input as inp with data.sluice.params as off
	count(ip.warn) == 0 with input as inp with data.sluice.params as off
}

test_default_require_digest_is_warn if {
	inp := with_image("registry.sluice.dev/agent:1.2.3")
	fx.rules(ip.warn) == {"image-provenance/digest"} with input as inp with data.sluice.params as {"provenance": {"allowedRegistries": ["registry.sluice.dev/"]}}
}

test_malformed_digests_do_not_count_as_pinned if {
	every digest in ["sha256:abc", "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "md5:0123456789abcdef0123456789abcdef"] {
		inp := with_image(concat("", ["registry.sluice.dev/agent:1.0@", digest]))
		fx.rules(ip.deny) == {"image-provenance/digest"} with input as inp with data.sluice.params as params
	}
}

test_sha512_digest_counts_as_pinned if {
	d := concat("", ["sha512:", fx.digest_hex, fx.digest_hex])
	count(ip.deny) == 0 with input as with_image(concat("", ["registry.sluice.dev/agent:1.0@", d])) with data.sluice.params as params
}

test_init_and_ephemeral_images_are_checked if {
	inp := fx.with_containers([{}, {"name": "setup", "type": "init", "image": "busybox"}, {"name": "debug", "type": "ephemeral", "image": "busybox:latest"}])
	d := ip.deny with input as inp with data.sluice.params as params
	{[v.rule, v.container] | some v in d} == {
		["image-provenance/registry", "setup"], ["image-provenance/tag", "setup"], ["image-provenance/digest", "setup"],
		["image-provenance/registry", "debug"], ["image-provenance/tag", "debug"], ["image-provenance/digest", "debug"],
	}
}

test_missing_image_denies if {
	inp := json.patch(fx.k8s, [{"op": "remove", "path": "/workload/containers/0/image"}])
	fx.rules(ip.deny) == {"image-provenance/registry", "image-provenance/tag", "image-provenance/digest"} with input as inp with data.sluice.params as params
}

test_no_registries_configured_denies_every_image if {
	d := ip.deny with input as fx.k8s with data.sluice.params as {}
	fx.messages(d, "image-provenance/registry") == {concat("", ["container \"agent\" image \"", fx.image, "\" is not from an allowed registry (allowed: none configured)"])}
}

test_default_data_allows_local_registries if {
	# packages/policies/data/data.json
	every registry in ["localhost:5000/", "127.0.0.1:5000/", "registry.sluice.dev/"] {
		inp := with_image(concat("", [registry, "agent:1.0@", fx.digest]))
		count(ip.deny) == 0 with input as inp
	}
}

test_invalid_parameters_deny if {
	d := ip.deny with input as fx.k8s with data.sluice.params as {"provenance": {"allowedRegistries": "registry.sluice.dev/", "requireDigest": "always"}}
	fx.messages(d, "params/invalid") == {
		"parameter provenance.requireDigest must be \"deny\", \"warn\" or \"off\", got \"always\"",
		"parameter provenance.allowedRegistries must be an array of strings",
	}
}

test_a_non_string_image_reads_as_empty if {
	d := ip.deny with input as fx.with_container({"image": 5}) with data.sluice.params as params
	fx.messages(d, "image-provenance/tag") == {"container \"agent\" image \"\" has no tag (pin a version tag or a digest)"}
	fx.messages(d, "image-provenance/registry") == {"container \"agent\" image \"\" is not from an allowed registry (allowed: localhost:5000/, registry.example.com/, registry.sluice.dev/)"}
}

test_a_reference_with_two_colons_or_two_digests_is_neither_tagged_nor_pinned if {
	d := ip.deny with input as with_image("registry.sluice.dev/agent:1:2") with data.sluice.params as params
	fx.messages(d, "image-provenance/tag") == {"container \"agent\" image \"registry.sluice.dev/agent:1:2\" has no tag (pin a version tag or a digest)"}
	twice := concat("", ["registry.sluice.dev/agent:1@", fx.digest, "@", fx.digest])
	fx.rules(ip.deny) == {"image-provenance/digest"} with input as with_image(twice) with data.sluice.params as params
}

# A digest is its algorithm's prefix and exactly its number of lower-case hex digits.
test_digests_must_match_their_algorithm_and_length if {
	hex128 := concat("", [fx.digest_hex, fx.digest_hex])
	bad := [
		concat("", ["sha512:", fx.digest_hex]),
		concat("", ["sha256:", hex128]),
		concat("", ["sha256:g", substring(fx.digest_hex, 1, 63)]),
		concat("", ["sha512:g", substring(hex128, 1, 127)]),
		concat("", ["sha512:", hex128, "00"]),
		concat("", ["sha512:", substring(hex128, 0, 120), "zzzzzzzz"]),
	]
	every d in bad {
		fx.rules(ip.deny) == {"image-provenance/digest"} with input as with_image(concat("", ["registry.sluice.dev/agent:1@", d])) with data.sluice.params as params
	}
	count(ip.deny) == 0 with input as with_image(concat("", ["registry.sluice.dev/agent:1@sha512:", hex128])) with data.sluice.params as params
}

test_one_registry_and_empty_entries_in_the_message if {
	d := ip.deny with input as with_image(concat("", ["ghcr.io/a:1@", fx.digest])) with data.sluice.params as {"provenance": {"allowedRegistries": ["", "registry.sluice.dev"], "requireDigest": "deny"}}
	fx.messages(d, "image-provenance/registry") == {concat("", ["container \"agent\" image \"ghcr.io/a:1@", fx.digest, "\" is not from an allowed registry (allowed: registry.sluice.dev/)"])}
}

test_allowed_registries_must_be_an_array_of_strings if {
	every r in [{"a": "registry.sluice.dev/"}, ["registry.sluice.dev/", 5]] {
		fx.messages(ip.deny, "params/invalid") == {"parameter provenance.allowedRegistries must be an array of strings"} with input as fx.k8s with data.sluice.params as {"provenance": {"allowedRegistries": r, "requireDigest": "deny"}}
	}
}
