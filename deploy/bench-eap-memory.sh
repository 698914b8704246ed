#!/usr/bin/env bash
# Benchmark (not a test): adgate's memory with many EAP-TLS conversations in progress at once.
# `adgate nas hold-eap-tls` starts CONVERSATIONS certificate logins (TLS 1.2, RSA-2048, the lab's
# alice), pauses each after its second round trip — adgate has computed its first flight
# (ServerHello to ServerHelloDone, with the RSA signature) and sent one fragment: the most a
# conversation holds — keeps them all open for HOLD_S seconds, then finishes them (AD lookup,
# durable record). Prints adgate's RSS idle, with the conversations held, and after; the
# difference over the number of conversations; and VmHWM, the peak.
#   deploy/bench-eap-memory.sh [CONVERSATIONS] [HOLD_S] [TLS_VERSION]   (defaults: 10000 10 1.2)
# adgate runs with eap_tls.max_conversations = CONVERSATIONS (the table's bound; beyond it the
# least recently active conversation is dropped) and the longest conversation_timeout_s (600),
# so that none is dropped while the others start. The certificates are the lab's
# (deploy/lab-certs.sh: ECDSA P-256, with a CRL); ADGATE_BENCH_PKI=$ADGATE_LAB_DIR/bench-compare/pki
# takes bench-compare's RSA-2048 ones instead (run bench-compare once to make them).
set -euo pipefail
cd "$(dirname "$0")/.."
conversations=${1:-10000}
hold_s=${2:-10}
tls_version=${3:-1.2}
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
pki=${ADGATE_BENCH_PKI:-$lab_dir/pki}

deploy/lab.sh up >/dev/null
deploy/lab-certs.sh >/dev/null
BENCH_EXTRA_CONFIG=$lab_dir/bench-eap-memory.toml
cat >"$BENCH_EXTRA_CONFIG" <<TOML

[eap_tls]
certificate_file = "$pki/server.pem"
private_key_file = "$pki/server.key"
ca_file = "$pki/ca.pem"
max_conversations = $conversations
conversation_timeout_s = 600
TOML
[[ ! -e $pki/ca.crl ]] || echo "crl_files = [\"$pki/ca.crl\"]" >>"$BENCH_EXTRA_CONFIG"
BENCH_PORT=18141
source deploy/bench-server.sh

status() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$server/status"; }
mib() { awk -v kib="$1" 'BEGIN {printf "%.1f", kib / 1024}'; }
idle=$(status VmRSS)
echo "rss_idle_MiB                 $(mib "$idle")"

: >"$work/hold.txt"
ip netns exec "$netns" "$adgate" nas hold-eap-tls --server "127.0.0.1:$BENCH_PORT" \
  --secret-file "$(value RADIUS_SECRET_FILE)" --ca-file "$pki/ca.pem" \
  --certificate-file "$pki/alice.pem" --key-file "$pki/alice.key" \
  --server-name radius.corp.example.test --tls-version "$tls_version" \
  --conversations "$conversations" --hold-s "$hold_s" alice@corp.example.test \
  >"$work/hold.txt" 2>&1 &
driver=$!
until grep -q '^holding' "$work/hold.txt"; do
  kill -0 "$driver" 2>/dev/null || { cat "$work/hold.txt" >&2; exit 1; }
  sleep 0.5
done
sleep 1
held=$(status VmRSS)
grep '^holding' "$work/hold.txt"
echo "rss_held_MiB                 $(mib "$held")"
awk -v d=$((held - idle)) -v n="$conversations" \
  'BEGIN {printf "kib_per_conversation         %.1f\n", d / n}'
status_ok=0
wait "$driver" || status_ok=$?
grep '^finished' "$work/hold.txt" || cat "$work/hold.txt" >&2
echo "rss_after_MiB                $(mib "$(status VmRSS)")"
echo "rss_peak_MiB                 $(mib "$(status VmHWM)")"
crowded=$(grep -c 'conversation table full' "$work/adgate.log" || true)
echo "table_full_warnings          $crowded"
exit "$status_ok"
