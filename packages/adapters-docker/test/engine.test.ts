/**
 * The Docker adapter against a real Docker Engine (never a fake). One file, so the suites run one
 * after the other: the last one restarts dockerd, which must not hit the others mid-test.
 *
 * Provision: bash scripts/docker/provision.sh && bash scripts/docker/build-test-images.sh && bash scripts/docker/registry.sh
 * (and bash scripts/docker/build-trivy.sh, bash scripts/docker/build-cosign.sh for the digest and signature suites; openssl for the keyless one)
 * Without an engine these fail when CI=true and are skipped (loudly) otherwise.
 */
import "./suites/rollout.suite.js"
import "./suites/lifecycle.suite.js"
import "./suites/health.suite.js"
import "./suites/crash.suite.js"
import "./suites/registry.suite.js"
import "./suites/cli.suite.js"
import "./suites/digest.suite.js"
import "./suites/signature.suite.js"
import "./suites/keyless.suite.js"
// Last: it restarts dockerd.
import "./suites/dockerd-restart.suite.js"
