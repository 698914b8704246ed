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

deploy/lab.sh up >/dev/null
deploy/lab-certs.sh >/dev/null
cargo build --release --locked --quiet
adgate=$PWD/target/release/adgate
value() { sed -n "s/^$1=//p" "$lab_dir/lab.env"; }
netns=$(value NETNS)
pki=$lab_dir/pki
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# The lab config on another port, a throwaway audit directory, certificate logins on.
sed -e 's/127.0.0.1:1812/127.0.0.1:18121/' -e 's/127.0.0.1:1813/127.0.0.1:18131/' -e "s|^dir = .*|dir = \"$work/audit\"|" \
  "$lab_dir/adgate.toml" >"$work/adgate.toml"
cat "$pki/eap_tls.toml" >>"$work/adgate.toml"
ip netns exec "$netns" "$adgate" serve --config "$work/adgate.toml" 2>"$work/adgate.log" &
server=$!
for _ in $(seq 100); do grep -q "adgate serving" "$work/adgate.log" && break; sleep 0.1; done

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
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
  awk -v ag=$((after - before)) -v hz="$ticks" '/^requests/ {n = $2} END {
    printf "adgate_cpu_ms_per_login  %.2f\n", ag * 1000 / hz / n }' "$work/bench.txt"
done
