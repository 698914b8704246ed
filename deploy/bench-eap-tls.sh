#!/usr/bin/env bash
# Benchmark (not a test): full EAP-TLS certificate logins through adgate against the lab AD,
# with the simulated NAS's own EAP-TLS peer (rustls), for TLS 1.2 and TLS 1.3. Every login is
# a full handshake (adgate offers no resumption), an AD lookup and a durable audit record.
# Prints handshakes (logins) per second, p50/p99 latency and adgate's CPU time per login.
#   deploy/bench-eap-tls.sh [CONCURRENCY] [REQUESTS]        (defaults: 4 500)
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-4}
requests=${2:-500}
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
pki=$lab_dir/pki

# The lab's user certificates and the [eap_tls] section that turns certificate logins on.
deploy/lab.sh up >/dev/null
deploy/lab-certs.sh >/dev/null
BENCH_PORT=18121
BENCH_EXTRA_CONFIG=$pki/eap_tls.toml
source deploy/bench-server.sh

bench() { # TLS_VERSION CONCURRENCY REQUESTS
  ip netns exec "$netns" "$adgate" nas bench-eap-tls --server 127.0.0.1:18121 \
    --secret-file "$(value RADIUS_SECRET_FILE)" --ca-file "$pki/ca.pem" \
    --certificate-file "$pki/alice.pem" --key-file "$pki/alice.key" \
    --server-name radius.corp.example.test --tls-version "$1" \
    --concurrency "$2" --requests "$3" alice@corp.example.test
}

bench 1.3 2 20 >/dev/null   # warm up the AD connections
for version in 1.2 1.3; do
  echo "== EAP-TLS, TLS $version =="
  before=$(cpu_ticks "$server")
  bench "$version" "$concurrency" "$requests" | tee "$work/bench.txt"
  after=$(cpu_ticks "$server")
  awk -v ag=$((after - before)) -v hz="$ticks" '/^requests / {n = $2} END {
    printf "adgate_cpu_ms_per_login  %.2f\n", ag * 1000 / hz / n }' "$work/bench.txt"
done
