# shellcheck shell=bash disable=SC2034  # sourced: sets variables for the script that sources it
# Sourced by the benchmark scripts: brings the lab up, builds adgate (release), and starts it in
# the lab's network namespace with the lab config moved to port $BENCH_PORT (accounting to
# $BENCH_PORT + 100), $BENCH_EXTRA_CONFIG appended if set, a throwaway audit directory and log
# in $work, and a trap that stops it. Leaves $adgate, $netns, $server (pid),
# $work and `value KEY` (a lab.env value) for the script.
deploy/lab.sh up >/dev/null
# ADGATE_BENCH_BINARY: an adgate already built (e.g. a debug build, for a quick look) instead.
if [ -n "${ADGATE_BENCH_BINARY:-}" ]; then
  adgate=$ADGATE_BENCH_BINARY
else
  cargo build --release --locked --quiet
  adgate=$PWD/target/release/adgate
fi
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
value() { sed -n "s/^$1=//p" "$lab_dir/lab.env"; }
netns=$(value NETNS)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

sed -e "s/127.0.0.1:1812/127.0.0.1:$BENCH_PORT/" -e "s/127.0.0.1:1813/127.0.0.1:$((BENCH_PORT + 100))/" -e "s|^dir = .*|dir = \"$work/audit\"|" \
  "$lab_dir/adgate.toml" >"$work/adgate.toml"
# Its own control socket (`adgate sessions`), beside the throwaway trail.
printf '\n[sessions]\ncontrol_socket = "%s"\n' "$work/control.sock" >>"$work/adgate.toml"
[ -z "${BENCH_EXTRA_CONFIG:-}" ] || cat "$BENCH_EXTRA_CONFIG" >>"$work/adgate.toml"
ip netns exec "$netns" env ADGATE_LOG=info "$adgate" serve --config "$work/adgate.toml" \
  2>"$work/adgate.log" &
server=$!
for _ in $(seq 100); do grep -q "adgate serving" "$work/adgate.log" && break; sleep 0.1; done
ticks=$(getconf CLK_TCK)
cpu_ticks() { # PIDS... → summed utime+stime, plus that of their reaped children
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")))
  done
  echo "$total"
}
