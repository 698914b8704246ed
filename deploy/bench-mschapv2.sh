#!/usr/bin/env bash
# Benchmark (not a test): RADIUS MS-CHAPv2 logins through adgate, checked by the lab DC through
# the lab's domain member (winbindd), at a given concurrency. Prints logins/s and p50/p99 latency
# as the simulated NAS measured them (every accept's S= and MPPE keys verified), and the CPU time
# per login of the DC (its samba session), the member's winbindd (its session), adgate's
# ntlm_auth helpers and adgate itself, read from /proc before and after.
#   deploy/bench-mschapv2.sh [CONCURRENCY] [REQUESTS]        (defaults: 1 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-1}
requests=${2:-2000}
BENCH_PORT=18140
source deploy/bench-server.sh
# A process "belongs" to a daemon when it is in its session: samba and winbindd run setsid.
session_pids() { # PIDFILE
  local leader
  leader=$(tr -dc 0-9 <"$1")
  ps -e -o pid=,sid= | awk -v s="$leader" '$2 == s { print $1 }'
}
helper_pids() { ps -e -o pid=,ppid= | awk -v p="$server" '$2 == p { print $1 }'; }
measure() {
  echo "$(cpu_ticks $(session_pids "$lab_dir/samba.pid")) $(cpu_ticks $(session_pids "$lab_dir/member/winbindd.pid")) $(cpu_ticks $(helper_pids)) $(cpu_ticks "$server")"
}
bench() { # CONCURRENCY REQUESTS
  ip netns exec "$netns" "$adgate" nas bench --kind ms-chapv2 --server "127.0.0.1:$BENCH_PORT" \
    --secret-file "$(value RADIUS_SECRET_FILE)" --password-file "$(value FIXTURE_PASSWORD_FILE)" \
    --concurrency "$1" --requests "$2" alice
}

# Warm up: the ntlm_auth helpers start, winbindd opens its NETLOGON connection.
bench "$concurrency" 20 >/dev/null
read -r dc_before wb_before helpers_before adgate_before <<<"$(measure)"
bench "$concurrency" "$requests" | tee "$work/bench.txt"
read -r dc_after wb_after helpers_after adgate_after <<<"$(measure)"
done_requests=$(awk '/^requests / {print $2}' "$work/bench.txt")
awk -v dc=$((dc_after - dc_before)) -v wb=$((wb_after - wb_before)) \
    -v helpers=$((helpers_after - helpers_before)) -v ag=$((adgate_after - adgate_before)) \
    -v n="$done_requests" -v hz="$ticks" 'BEGIN {
  printf "dc_cpu_ms_per_login         %.2f\n", dc * 1000 / hz / n
  printf "winbindd_cpu_ms_per_login   %.2f\n", wb * 1000 / hz / n
  printf "ntlm_auth_cpu_ms_per_login  %.2f\n", helpers * 1000 / hz / n
  printf "adgate_cpu_ms_per_login     %.2f\n", ag * 1000 / hz / n
}'
