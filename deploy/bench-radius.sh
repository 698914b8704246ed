#!/usr/bin/env bash
# Benchmark (not a test): what adgate's RADIUS layer answers without AD. Prints requests/s and
# p50/p99 latency for Status-Server probes (RFC 5997) and for retransmissions answered from the
# response cache (RFC 5080 §2.2.2), and adgate's CPU time per request, so later work can compare.
#   deploy/bench-radius.sh [CONCURRENCY] [REQUESTS]        (defaults: 8 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-8}
requests=${2:-20000}
BENCH_PORT=18121
source deploy/bench-server.sh

for kind in status-server retransmission; do
  before=$(cpu_ticks "$server")
  ip netns exec "$netns" "$adgate" nas bench --kind "$kind" --server 127.0.0.1:18121 \
    --secret-file "$(value RADIUS_SECRET_FILE)" --password-file "$(value FIXTURE_PASSWORD_FILE)" \
    --concurrency "$concurrency" --requests "$requests" alice | tee "$work/bench.txt"
  after=$(cpu_ticks "$server")
  awk -v t=$((after - before)) -v n="$(awk '/^requests /{print $2}' "$work/bench.txt")" \
      -v hz="$ticks" 'BEGIN { printf "adgate_cpu_us_per_request  %.1f\n\n", t * 1e6 / hz / n }'
done
