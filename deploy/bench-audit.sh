#!/usr/bin/env bash
# Benchmark (not a test): what making every decision durable costs. Runs the same load of
# logins twice through adgate (release build) against the lab AD: once with the audit
# directory on the real disk (each batch of records written and fdatasync'ed: group commit),
# once on tmpfs, where fdatasync is a no-op (as if there were no fsync). Prints decisions/s
# and p50/p99 latency for both, and what durability adds.
#   deploy/bench-audit.sh [CONCURRENCY] [REQUESTS] [USER]      (defaults: 16 3000 frank)
# frank is rejected `telework_off` after one LDAP search (no bind), so the DC costs little and
# the audit trail's share of each decision shows; the reject delay is off, or every answer
# would take server.reject_delay_ms.
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-16}
requests=${2:-3000}
user=${3:-frank}
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}

deploy/lab.sh up >/dev/null
cargo build --release --locked --quiet
adgate=$PWD/target/release/adgate
value() { sed -n "s/^$1=//p" "$lab_dir/lab.env"; }
netns=$(value NETNS)
disk_dir=$(mktemp -d /var/tmp/adgate-bench-audit.XXXXXX)
tmpfs_dir=$(mktemp -d /dev/shm/adgate-bench-audit.XXXXXX)
server=""
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; fi
  rm -rf "$disk_dir" "$tmpfs_dir"
}
trap cleanup EXIT

# run DIR: serve with the trail in DIR/audit, warm up, then drive the load; prints nas bench.
run() {
  local dir=$1
  sed -e 's/127.0.0.1:1812/127.0.0.1:18121/' -e 's/127.0.0.1:1813/127.0.0.1:18131/' -e "s|^dir = .*|dir = \"$dir/audit\"|" \
    -e 's/^\[server\]$/[server]\nreject_delay_ms = 0/' \
    "$lab_dir/adgate.toml" >"$dir/adgate.toml"
  ip netns exec "$netns" "$adgate" serve --config "$dir/adgate.toml" 2>"$dir/adgate.log" &
  server=$!
  for _ in $(seq 100); do grep -q "adgate serving" "$dir/adgate.log" && break; sleep 0.1; done
  local nas=(ip netns exec "$netns" "$adgate" nas bench --server 127.0.0.1:18121
    --secret-file "$(value RADIUS_SECRET_FILE)" --password-file "$(value FIXTURE_PASSWORD_FILE)")
  "${nas[@]}" --concurrency 2 --requests 50 "$user" >/dev/null
  "${nas[@]}" --concurrency "$concurrency" --requests "$requests" "$user" >"$dir/bench.txt"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

run "$disk_dir"
run "$tmpfs_dir"
echo "decisions: $requests as $user, concurrency $concurrency"
line() { # LABEL DIR
  printf '%-30s %8s decisions/s  p50 %6s ms  p99 %6s ms\n' "$1" \
    "$(field per_second "$2/bench.txt")" "$(field p50_ms "$2/bench.txt")" "$(field p99_ms "$2/bench.txt")"
}
line "fsync, group commit (disk)" "$disk_dir"
line "no fsync (tmpfs)" "$tmpfs_dir"
awk -v a="$(field p99_ms "$disk_dir/bench.txt")" -v b="$(field p99_ms "$tmpfs_dir/bench.txt")" \
  'BEGIN { printf "p99 added by durable records   %+.2f ms\n", a - b }'
