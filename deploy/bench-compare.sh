#!/usr/bin/env bash
# Benchmark (not a test): adgate next to FreeRADIUS 3.2 (Debian package `freeradius`, rlm_ldap)
# on the same lab AD, driven by the same load generator (`adgate nas bench`), in alternating
# rounds so that the noise of a shared machine hits both alike. FreeRADIUS is configured as a
# careful admin would: LDAPS to the DC with the CA checked, a connection pool, the user found by
# sAMAccountName, the telework group checked in-chain (LDAP_MATCHING_RULE_IN_CHAIN) before the
# password, PAP by an LDAP bind as the user, the reply group checked the same way as adgate's
# [[policy.reply]] (Filter-Id), EAP-TLS with the account looked up by the certificate's UPN.
#
# For each path (PAP with many logins in flight from one NAS, Status-Server, EAP-TLS 1.2 full
# handshakes with RSA-2048 certificates) it prints, per server and round: requests/s, p50/p99
# latency, requests not accepted (no retransmission: lost or refused), the server's CPU per
# request, the kernel's part of it (system time: sockets, the trail's sync, thread switches),
# and the DC's CPU (each the whole process tree, from /proc), then the medians over the rounds
# and adgate / FreeRADIUS ratios, and the servers' RSS idle and after the load.
#
#   deploy/bench-compare.sh [ROUNDS] [PAP_IN_FLIGHT] [PAP_REQUESTS]   (defaults: 3 50 2000)
#   deploy/bench-compare.sh --smoke      a few requests of each kind through both servers, to
#                                        prove the setup works (~seconds after the build);
#                                        exits non-zero unless every request was accepted
#
# Everything generated (FreeRADIUS's config, certificates, adgate's config and trail, logs) lives
# under $ADGATE_LAB_DIR/bench-compare; both servers run inside the lab's network namespace.
# ADGATE_BIN=PATH measures that adgate binary instead of building the release one, and leaves
# bringing the lab up to the caller (the test suite's smoke run does both).
# ADGATE_BEFORE_BIN=PATH adds a third server to the same rounds, "adgate-before" (e.g. the build
# of an earlier commit), and a column of adgate / adgate-before ratios: before and after measured
# side by side, under the same load.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

smoke=false
if [[ ${1:-} == --smoke ]]; then smoke=true; shift; fi
rounds=${1:-3}
pap_in_flight=${2:-50}
pap_requests=${3:-2000}
status_requests=30000
eap_in_flight=4
eap_requests=300
if $smoke; then rounds=1 pap_in_flight=4 pap_requests=20 status_requests=200 eap_in_flight=2 eap_requests=4; fi
readonly ADGATE_PORT=18150 FREERADIUS_PORT=18160 BEFORE_PORT=18170 USER=alice
readonly SERVER_NAME=radius.corp.example.test UPN_OID=1.3.6.1.4.1.311.20.2.3

lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
if [[ -n ${ADGATE_BIN:-} ]]; then
  adgate=$ADGATE_BIN
else
  deploy/lab.sh up >/dev/null
  cargo build --release --locked --quiet
  adgate=$PWD/target/release/adgate
fi
value() { sed -n "s/^$1=//p" "$lab_dir/lab.env"; }
netns=$(value NETNS)
freeradius=$(command -v freeradius) || { echo "bench-compare: install the freeradius package" >&2; exit 1; }

dir=$lab_dir/bench-compare
rm -rf "$dir/run" "$dir/adgate" "$dir/freeradius"
install -d -m 0700 "$dir" "$dir/pki" "$dir/run" "$dir/adgate" "$dir/freeradius"

# --- RSA-2048 certificates for EAP-TLS, the same for both servers ----------------------------
pki=$dir/pki
issue() { # NAME SUBJECT EXTENSION...
  local name=$1 subject=$2; shift 2
  [[ -s $pki/$name.pem ]] && return 0
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/$name.key" 2>/dev/null
  printf '%s\n' "$@" >"$pki/$name.ext"
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 825 -extfile "$pki/$name.ext" -out "$pki/$name.pem" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}
if [[ ! -s $pki/ca.pem ]]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -days 3650 -subj "/CN=adgate bench-compare CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/ca.pem" 2>/dev/null
fi
issue server "/CN=$SERVER_NAME" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:$SERVER_NAME"
issue "$USER" "/CN=$USER" "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=clientAuth" "subjectAltName=otherName:$UPN_OID;UTF8:$USER@$(value DNS_DOMAIN)"
chmod 0600 "$pki"/*.key

# --- adgate: the lab config on its own port, EAP-TLS on, the trail on disk --------------------
sed -e "s/127.0.0.1:1812/127.0.0.1:$ADGATE_PORT/" -e "s/127.0.0.1:1813/127.0.0.1:$((ADGATE_PORT + 1))/" \
  -e "s|^dir = .*|dir = \"$dir/adgate/audit\"|" "$lab_dir/adgate.toml" >"$dir/adgate/adgate.toml"
cat >>"$dir/adgate/adgate.toml" <<EOF

[sessions]
control_socket = "$dir/run/adgate.sock"

[eap_tls]
certificate_file = "$pki/server.pem"
private_key_file = "$pki/server.key"
ca_file = "$pki/ca.pem"
EOF

if [[ -n ${ADGATE_BEFORE_BIN:-} ]]; then
  install -d -m 0700 "$dir/adgate-before"
  sed -e "s/127.0.0.1:$ADGATE_PORT/127.0.0.1:$BEFORE_PORT/" -e "s/127.0.0.1:$((ADGATE_PORT + 1))/127.0.0.1:$((BEFORE_PORT + 1))/" \
    -e "s|$dir/adgate/audit|$dir/adgate-before/audit|" -e "s|$dir/run/adgate.sock|$dir/run/adgate-before.sock|" \
    "$dir/adgate/adgate.toml" >"$dir/adgate-before/adgate.toml"
fi

# --- FreeRADIUS: its own config dir, nothing from /etc/freeradius -----------------------------
fr=$dir/freeradius
secret=$(cat "$(value RADIUS_SECRET_FILE)")
bind_password=$(cat "$(value BIND_PASSWORD_FILE)")
base_dn=$(value BASE_DN)
telework_group=$(value TELEWORK_GROUP)
reply_group=$(value REPLY_GROUP)
dc_host=$(value DC_FQDN)
install -d -m 0700 "$fr/log" "$fr/run" "$fr/tmp"
cat >"$fr/radiusd.conf" <<EOF
# Generated by deploy/bench-compare.sh: FreeRADIUS as a careful admin would put it in front of AD.
prefix = /usr
exec_prefix = /usr
sysconfdir = $fr
localstatedir = $fr
sbindir = /usr/sbin
logdir = $fr/log
raddbdir = $fr
radacctdir = $fr/log
name = radiusd
confdir = $fr
modconfdir = $fr
run_dir = $fr/run
db_dir = $fr
libdir = /usr/lib/freeradius
pidfile = $fr/run/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {
  destination = files
  file = $fr/log/radius.log
  stripped_names = no
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 1
  status_server = yes
}
proxy_requests = no
thread pool {
  start_servers = 8
  max_servers = 32
  min_spare_servers = 4
  max_spare_servers = 16
  max_requests_per_server = 0
  max_queue_size = 65536
  auto_limit_acct = no
}
client nas {
  ipaddr = 127.0.0.0/8
  secret = "$secret"
  require_message_authenticator = yes
  limit_proxy_state = yes
}
modules {
  always reject {
    rcode = reject
  }
  always ok {
    rcode = ok
  }
  ldap {
    server = "ldaps://$dc_host"
    port = 636
    identity = "$(value BIND_DN)"
    password = "$bind_password"
    base_dn = "$base_dn"
    user_dn = "LDAP-UserDn"
    update {
    }
    user {
      base_dn = "$base_dn"
      filter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%{%{Stripped-User-Name}:-%{User-Name}}))"
      scope = sub
    }
    group {
      base_dn = "$base_dn"
      filter = "(objectClass=group)"
      scope = sub
      name_attribute = cn
      membership_filter = "(member:1.2.840.113556.1.4.1941:=%{control:LDAP-UserDn})"
      cacheable_name = no
      cacheable_dn = no
    }
    options {
      chase_referrals = no
      rebind = no
      res_timeout = 10
      srv_timelimit = 3
      net_timeout = 3
      idle = 60
      probes = 3
      interval = 3
      ldap_debug = 0x0000
    }
    tls {
      ca_file = "$lab_dir/ad-ca.pem"
      require_cert = demand
    }
    pool {
      start = 8
      min = 8
      max = 32
      spare = 16
      uses = 0
      retry_delay = 30
      lifetime = 0
      idle_timeout = 0
    }
  }
  # The same directory, the account found by the UPN a client certificate carries.
  ldap ldap_upn {
    server = "ldaps://$dc_host"
    port = 636
    identity = "$(value BIND_DN)"
    password = "$bind_password"
    base_dn = "$base_dn"
    user_dn = "LDAP-UserDn"
    update {
    }
    user {
      base_dn = "$base_dn"
      filter = "(&(objectCategory=person)(objectClass=user)(userPrincipalName=%{TLS-Client-Cert-Subject-Alt-Name-Upn}))"
      scope = sub
    }
    group {
      base_dn = "$base_dn"
      filter = "(objectClass=group)"
      scope = sub
      membership_filter = "(member:1.2.840.113556.1.4.1941:=%{control:LDAP-UserDn})"
      cacheable_name = no
      cacheable_dn = no
    }
    options {
      chase_referrals = no
      rebind = no
      net_timeout = 3
    }
    tls {
      ca_file = "$lab_dir/ad-ca.pem"
      require_cert = demand
    }
    pool {
      start = 4
      min = 4
      max = 16
      spare = 8
      uses = 0
      retry_delay = 30
      lifetime = 0
      idle_timeout = 0
    }
  }
  eap {
    default_eap_type = tls
    timer_expire = 60
    ignore_unknown_eap_types = no
    cisco_accounting_username_bug = no
    max_sessions = 16384
    tls-config tls-common {
      private_key_file = $pki/server.key
      certificate_file = $pki/server.pem
      ca_file = $pki/ca.pem
      ca_path = $fr/tmp
      fragment_size = 1024
      include_length = yes
      tls_min_version = "1.2"
      tls_max_version = "1.2"
      cipher_list = "DEFAULT"
      ecdh_curve = "prime256v1"
      cache {
        enable = no
      }
      verify {
      }
      ocsp {
        enable = no
      }
    }
    tls {
      tls = tls-common
    }
  }
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $FREERADIUS_PORT
  }
  authorize {
    # FreeRADIUS 3.2.1 signs only EAP answers; after BlastRADIUS (CVE-2024-3596) an admin
    # makes it sign every answer, as 3.2.5 does and as the NAS simulator requires.
    update reply {
      &Message-Authenticator := 0x00
    }
    Autz-Type Status-Server {
      update reply {
        &Message-Authenticator := 0x00
      }
      ok
    }
    if (EAP-Message) {
      eap {
        ok = return
      }
    }
    else {
      ldap
      if (!ok && !updated) {
        reject
      }
      if (!(LDAP-Group == "$telework_group")) {
        reject
      }
      update control {
        &Auth-Type := LDAP
      }
    }
  }
  authenticate {
    Auth-Type LDAP {
      ldap
    }
    eap
  }
  post-auth {
    if (EAP-Message) {
      ldap_upn.authorize
      if (!ok && !updated) {
        reject
      }
      if (!(LDAP-Group == "$telework_group")) {
        reject
      }
    }
    if (LDAP-Group == "$reply_group") {
      update reply {
        &Filter-Id := "vpn-engineering"
        &Session-Timeout := 28800
      }
    }
    Post-Auth-Type REJECT {
      eap
    }
  }
}
EOF
chmod 0600 "$fr/radiusd.conf"

# --- the servers, inside the namespace ---------------------------------------------------------
servers=(adgate freeradius)
[[ -z ${ADGATE_BEFORE_BIN:-} ]] || servers+=(adgate-before)
declare -A pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
ip netns exec "$netns" "$freeradius" -C -d "$fr" -n radiusd >"$fr/log/check.log" 2>&1 ||
  { cat "$fr/log/check.log" >&2; exit 1; }
ip netns exec "$netns" "$freeradius" -f -d "$fr" -n radiusd >"$fr/log/stdout.log" 2>&1 &
pids[freeradius]=$!
start_adgate() { # NAME BINARY
  ip netns exec "$netns" env ADGATE_LOG=info "$2" serve --config "$dir/$1/adgate.toml" 2>"$dir/$1/adgate.log" &
  pids[$1]=$!
  for _ in $(seq 100); do grep -q "adgate serving" "$dir/$1/adgate.log" && break; sleep 0.1; done
  grep -q "adgate serving" "$dir/$1/adgate.log" || { cat "$dir/$1/adgate.log" >&2; exit 1; }
}
start_adgate adgate "$adgate"
[[ -z ${ADGATE_BEFORE_BIN:-} ]] || start_adgate adgate-before "$ADGATE_BEFORE_BIN"
for _ in $(seq 100); do grep -q "Ready to process requests" "$fr/log/radius.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Ready to process requests" "$fr/log/radius.log" || { cat "$fr/log/stdout.log" "$fr/log/radius.log" >&2; exit 1; }

# --- measuring from /proc -----------------------------------------------------------------------
ticks=$(getconf CLK_TCK)
tree() { # ROOT_PID → it and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '{ parent[$1] = $2 } END {
    for (pid in parent) { p = pid; while (p != "" && p != 0 && p != root) p = parent[p]; if (p == root) print pid } }'
}
cpu_ticks() { # PIDS... → "user kernel": utime and stime, each plus that of reaped children
  local pid user=0 kernel=0 u k
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    read -r u k < <(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $14, $13 + $15}')
    user=$((user + u)) kernel=$((kernel + k))
  done
  echo "$user $kernel"
}
rss_kib() { # PIDS... → summed VmRSS
  local pid total=0
  for pid in "$@"; do total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0))); done
  echo "$total"
}
samba_root=$(cat "$lab_dir/samba.pid")
server_port() { case $1 in adgate) echo "$ADGATE_PORT" ;; freeradius) echo "$FREERADIUS_PORT" ;; adgate-before) echo "$BEFORE_PORT" ;; esac; }

load() { # SERVER KIND IN_FLIGHT REQUESTS → nas bench output
  local port; port=$(server_port "$1")
  local target=(--server "127.0.0.1:$port" --secret-file "$(value RADIUS_SECRET_FILE)" --timeout-s 5 --retries 0)
  case $2 in
    pap | status-server)
      ip netns exec "$netns" "$adgate" nas bench --kind "$2" "${target[@]}" \
        --password-file "$(value FIXTURE_PASSWORD_FILE)" --concurrency "$3" --requests "$4" "$USER" ;;
    eap-tls)
      ip netns exec "$netns" "$adgate" nas bench-eap-tls "${target[@]}" --ca-file "$pki/ca.pem" \
        --certificate-file "$pki/$USER.pem" --key-file "$pki/$USER.key" --server-name "$SERVER_NAME" \
        --tls-version 1.2 --concurrency "$3" --requests "$4" "$USER@$(value DNS_DOMAIN)" ;;
  esac
}

results=$dir/results.txt
: >"$results"
measure() { # ROUND SERVER KIND IN_FLIGHT REQUESTS → one line in $results
  local round=$1 server=$2 kind=$3 root server_pids dc_pids
  root=${pids[$server]}
  mapfile -t server_pids < <(tree "$root")
  mapfile -t dc_pids < <(tree "$samba_root")
  local su0 sk0 du0 dk0 su1 sk1 du1 dk1
  read -r su0 sk0 < <(cpu_ticks "${server_pids[@]}"); read -r du0 dk0 < <(cpu_ticks "${dc_pids[@]}")
  load "$server" "$kind" "$4" "$5" >"$dir/run/bench.txt"
  read -r su1 sk1 < <(cpu_ticks "${server_pids[@]}"); read -r du1 dk1 < <(cpu_ticks "${dc_pids[@]}")
  awk -v round="$round" -v server="$server" -v kind="$kind" -v hz="$ticks" \
    -v s=$((su1 - su0 + sk1 - sk0)) -v k=$((sk1 - sk0)) -v d=$((du1 - du0 + dk1 - dk0)) '
    $1 == "requests" {n = $2} $1 == "ok" {ok = $2} $1 == "per_second" {rate = $2}
    $1 == "p50_ms" {p50 = $2} $1 == "p99_ms" {p99 = $2}
    END { printf "%s %s %s %.1f %.2f %.2f %d %.1f %.1f %.1f\n", round, server, kind, rate, p50, p99,
      n - ok, s * 1e6 / hz / n, k * 1e6 / hz / n, d * 1e6 / hz / n }' "$dir/run/bench.txt" | tee -a "$results"
}

declare -A rss_idle=()
for server in "${servers[@]}"; do rss_idle[$server]=$(rss_kib $(tree "${pids[$server]}")); done
# Warm up: every pooled LDAP connection open, code paged in.
for server in "${servers[@]}"; do
  load "$server" pap 8 40 >/dev/null; load "$server" eap-tls 2 4 >/dev/null
done

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the first round"
echo "columns: round server path requests/s p50_ms p99_ms not_accepted server_cpu_us/req server_kernel_us/req dc_cpu_us/req"
for round in $(seq "$rounds"); do
  # ABBA: who goes first alternates, so a trend in the machine's load favours neither.
  order=("${servers[@]}")
  if ((round % 2 == 0)); then for i in "${!servers[@]}"; do order[i]=${servers[${#servers[@]} - 1 - i]}; done; fi
  for server in "${order[@]}"; do
    measure "$round" "$server" pap "$pap_in_flight" "$pap_requests"
    measure "$round" "$server" status-server 8 "$status_requests"
    measure "$round" "$server" eap-tls "$eap_in_flight" "$eap_requests"
  done
done
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) after the last round"

echo
echo "== medians over $rounds rounds (PAP: $pap_in_flight in flight from one NAS, $pap_requests logins; EAP-TLS 1.2, RSA-2048, full handshakes) =="
awk -v before="${ADGATE_BEFORE_BIN:+1}" '
  function median(key,   n, i, j, t, a) {
    n = split(values[key], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
  { for (c = 4; c <= 10; c++) values[$2 "," $3 "," c] = values[$2 "," $3 "," c] " " $c; paths[$3] = 1 }
  END {
    split("requests/s p50_ms p99_ms not_accepted server_cpu_us server_kernel_us dc_cpu_us", names, " ")
    printf "%-14s %-14s %10s %10s %8s", "path", "figure", "adgate", "freeradius", "ag/fr"
    if (before) printf " %10s %9s", "ag-before", "ag/before"
    printf "\n"
    for (path in paths) for (c = 4; c <= 10; c++) {
      a = median("adgate," path "," c); f = median("freeradius," path "," c)
      printf "%-14s %-14s %10.2f %10.2f %8s", path, names[c - 3], a, f, ratio(a, f)
      if (before) { b = median("adgate-before," path "," c); printf " %10.2f %9s", b, ratio(a, b) }
      printf "\n"
    }
  }' "$results"
for when in idle after_load; do
  printf '%-14s %-14s' rss "${when}_MiB"
  for server in "${servers[@]}"; do
    kib=${rss_idle[$server]}
    [[ $when == idle ]] || kib=$(rss_kib $(tree "${pids[$server]}"))
    printf ' %s=%s' "$server" "$((kib / 1024))"
  done
  echo
done

if $smoke; then
  awk '$7 != 0 { bad = 1; print "bench-compare smoke: " $2 " " $3 ": " $7 " requests not accepted" > "/dev/stderr" }
    END { exit bad }' "$results"
  echo "bench-compare smoke: every server accepted every request"
fi
