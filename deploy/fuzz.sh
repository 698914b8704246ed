#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60), one after the other at
# the lowest CPU priority, and prints per target: executions, executions per second, crashes.
# Exits 1 if any target crashed; the input is in fuzz/artifacts/<target>/.
#   deploy/fuzz.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (cargo install cargo-fuzz --locked) and a C++ compiler (libFuzzer). cargo-fuzz
# passes -Z flags, which only nightly accepts: RUSTC_BOOTSTRAP=1 lets a stable toolchain take
# them (see docs/development.md). No AddressSanitizer (-s none): the code under test is safe
# Rust, where a memory error cannot happen outside `unsafe`, and the sanitizer would halve the
# executions; FUZZ_SANITIZER=address brings it back.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

nice -n 19 cargo fuzz build -s "$sanitizer"
# New inputs go to a scratch directory: the committed corpus stays the small one of the seeds
# (fold findings worth keeping in with `cargo fuzz cmin`).
scratch=$(mktemp -d)
# The gatekeeper target's audit trail: on a tmpfs where there is one (it syncs every record).
TMPDIR=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
export TMPDIR
trap 'rm -rf "$scratch" "$TMPDIR"' EXIT
failed=0
printf '%-14s %14s %10s %8s\n' target executions exec/s crashes
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "corpus/$target" "artifacts/$target"
  before=$(find "artifacts/$target" -type f | wc -l)
  status=0
  nice -n 19 cargo fuzz run -s "$sanitizer" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    >"$scratch/$target.log" 2>&1 || status=$?
  after=$(find "artifacts/$target" -type f | wc -l)
  executions=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$scratch/$target.log")
  per_second=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$scratch/$target.log")
  printf '%-14s %14s %10s %8s\n' "$target" "${executions:-?}" "${per_second:-?}" $((after - before))
  if [ "$status" -ne 0 ] || [ "$after" -ne "$before" ]; then
    failed=1
    grep -E 'panicked|ERROR|SUMMARY|artifact_prefix|Test unit written' "$scratch/$target.log" >&2 || tail -20 "$scratch/$target.log" >&2
  fi
done
exit "$failed"
