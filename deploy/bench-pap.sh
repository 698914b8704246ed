#!/usr/bin/env bash
# Benchmark (not a test): PAP logins through adgate against the lab AD at a given concurrency.
# Prints logins/s and p50/p99 latency as the simulated NAS measured them, and the CPU time the
# DC (all samba processes) and adgate spent per login, read from /proc before and after.
#   deploy/bench-pap.sh [CONCURRENCY] [REQUESTS]        (defaults: 8 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-8}
requests=${2:-2000}
BENCH_PORT=18120
source deploy/bench-server.sh
# The DC is every process of Samba's binaries in the namespace: the LDAP server runs in forked
# workers (named ldap[...]) of /usr/sbin/samba.
samba_pids() { ip netns pids "$netns" | while read -r pid; do
  case $(readlink "/proc/$pid/exe" 2>/dev/null) in
    /usr/sbin/samba | /usr/sbin/smbd | /usr/sbin/winbindd) echo "$pid" ;;
  esac
done; }

# Warm up the connections, then measure.
ip netns exec "$netns" "$adgate" nas bench --server 127.0.0.1:18120 \
  --secret-file "$(value RADIUS_SECRET_FILE)" --password-file "$(value FIXTURE_PASSWORD_FILE)" \
  --concurrency 2 --requests 20 alice >/dev/null
dc_before=$(cpu_ticks $(samba_pids)); adgate_before=$(cpu_ticks "$server")
ip netns exec "$netns" "$adgate" nas bench --server 127.0.0.1:18120 \
  --secret-file "$(value RADIUS_SECRET_FILE)" --password-file "$(value FIXTURE_PASSWORD_FILE)" \
  --concurrency "$concurrency" --requests "$requests" alice | tee "$work/bench.txt"
dc_after=$(cpu_ticks $(samba_pids)); adgate_after=$(cpu_ticks "$server")
done_requests=$(awk '/^requests / {print $2}' "$work/bench.txt")
awk -v dc=$((dc_after - dc_before)) -v ag=$((adgate_after - adgate_before)) \
    -v n="$done_requests" -v hz="$ticks" 'BEGIN {
  printf "dc_cpu_ms_per_login      %.2f\n", dc * 1000 / hz / n
  printf "adgate_cpu_ms_per_login  %.2f\n", ag * 1000 / hz / n
}'
