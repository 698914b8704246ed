#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: brings the lab AD up (installing what it
# needs), builds everything, then runs unit tests and the integration tests against the lab.
# Integration tests talk to the DC only inside the lab's network namespace, so the test run is
# started there; everything is compiled before, outside it, where crates.io is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/lab.sh up
cargo build --workspace --all-targets --locked
source_env() { sed -n "s/^$1=//p" "${ADGATE_LAB_DIR:-/var/lib/adgate-lab}/lab.env"; }
netns=$(source_env NETNS)
# --include-ignored: the tests that need the lab AD (tests/*.rs, authz/tests/lab.rs) are
# #[ignore] so that `cargo test` without a lab stays green and runs every other test; here the
# lab is up, so they run too.
exec ip netns exec "$netns" cargo test --workspace --locked --offline --no-fail-fast -- --include-ignored "$@"
