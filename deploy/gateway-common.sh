# deploy/gateway-common.sh — the plumbing every lab VPN gateway shares, sourced by
# deploy/gateway.sh (strongSwan) and deploy/gateway-openvpn.sh.
#
# Why this file exists: each gateway runs in the lab namespace (where adgate listens on
# 127.0.0.1) and its client — the road warrior — in a namespace of its own joined to it by a
# veth pair; each needs a throwaway CA and a gateway certificate, a lock, and the lab's values.
# One copy of that, so the gateways differ only in the VPN server they run.
#
# The sourcing script sets, before sourcing: PROGRAM (for messages and the lock), NETNS,
# RW_NETNS, RW_NETNS_ETC, GW_IF, RW_IF, GW_ADDR, GW_ADDRS (every gateway address on GW_IF),
# RW_ADDR, NET_PREFIX, GW_ID, LAB, PKI. Each gateway kind has its own namespace, veth pair and
# subnet, so their tests can run at once.

say() { printf '%s: %s\n' "$PROGRAM" "$*"; }
die() { printf '%s: ERROR: %s\n' "$PROGRAM" "$1" >&2; exit "${2:-1}"; } # MESSAGE [EXIT_CODE]

# The running script's own header, from "Usage:" up to "Environment".
usage() {
  sed -n 's/^# \{0,1\}//; /^Usage:/,/^Environment/p' "$0" | sed '$d'
}

require_root() { [[ $(id -u) == 0 ]] || die "must run as root (network namespaces, VPN daemons)"; }

# One run of a gateway script at a time per lab and gateway kind: they rewrite the same files.
take_lock() {
  mkdir -p /run/lock
  local lock="/run/lock/$NETNS-$PROGRAM.lock"
  exec 9>"$lock" || die "cannot open $lock"
  flock -w 120 9 || die "another deploy/$PROGRAM.sh is still running (lock $lock)"
}

lab_value() { # KEY — from the lab's lab.env
  local value
  value=$(sed -n "s/^$1=//p" "$LAB/lab.env" 2>/dev/null) || true
  [[ -n $value ]] || die "$LAB/lab.env has no $1: run deploy/lab.sh up first"
  printf '%s' "$value"
}

write_if_changed() { # PATH MODE (content on stdin); returns 0 if the file changed
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "$path.XXXXXX")
  chmod "$mode" "$tmp"
  cat >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$path"
}

# --- network -------------------------------------------------------------------------------
# Ends process PID: TERM, up to 5 s to go, then KILL, saying so on stderr (WHAT names it).
stop_pid() { # PID WHAT
  local pid=$1 what=$2
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  say "$what (pid $pid) did not stop within 5s: killed" >&2
}

netns_alive() { [[ -e /run/netns/$1 ]] && ip netns exec "$1" true 2>/dev/null; }

ensure_network() {
  netns_alive "$NETNS" || die "lab namespace $NETNS is missing: run deploy/lab.sh up first"
  mkdir -p "$RW_NETNS_ETC"
  # ip netns exec bind-mounts these: nothing in the road warrior's namespace resolves names
  # anywhere but loopback (it has no route off the veth anyway).
  write_if_changed "$RW_NETNS_ETC/resolv.conf" 0644 <<<"nameserver 127.0.0.1" || true
  write_if_changed "$RW_NETNS_ETC/hosts" 0644 <<EOT || true
# written by deploy/$PROGRAM.sh: the road warrior's namespace
127.0.0.1	localhost
$GW_ADDR	$GW_ID
EOT
  if ! netns_alive "$RW_NETNS"; then
    ip netns delete "$RW_NETNS" 2>/dev/null || true
    ip netns add "$RW_NETNS" || die "cannot create network namespace $RW_NETNS"
  fi
  ip -n "$RW_NETNS" link set lo up
  if ! ip -n "$NETNS" link show "$GW_IF" >/dev/null 2>&1 ||
    ! ip -n "$RW_NETNS" link show "$RW_IF" >/dev/null 2>&1; then
    ip -n "$NETNS" link delete "$GW_IF" 2>/dev/null || true
    ip -n "$NETNS" link add "$GW_IF" type veth peer name "$RW_IF" netns "$RW_NETNS" ||
      die "cannot create veth pair $GW_IF/$RW_IF between $NETNS and $RW_NETNS"
  fi
  local address
  for address in "${GW_ADDRS[@]}"; do
    ip -n "$NETNS" addr replace "$address/$NET_PREFIX" dev "$GW_IF"
  done
  ip -n "$RW_NETNS" addr replace "$RW_ADDR/$NET_PREFIX" dev "$RW_IF"
  ip -n "$NETNS" link set "$GW_IF" up
  ip -n "$RW_NETNS" link set "$RW_IF" up
}

remove_network() {
  ip -n "$NETNS" link delete "$GW_IF" 2>/dev/null || true
  if [[ -e /run/netns/$RW_NETNS ]]; then
    ip netns delete "$RW_NETNS" || die "cannot delete namespace $RW_NETNS"
  fi
  rm -rf "$RW_NETNS_ETC"
}

# --- certificates: a throwaway CA for the gateway's certificate -----------------------------
ensure_pki() {
  [[ -s $PKI/ca.pem && -s $PKI/gw.pem && -s $PKI/gw.key ]] && return 0
  mkdir -p "$PKI"
  chmod 0700 "$PKI"
  local out
  if ! out=$({
    set -e
    cd "$PKI"
    openssl req -x509 -newkey rsa:3072 -nodes -keyout ca.key -out ca.pem -days 3650 \
      -subj "/O=adgate lab/CN=adgate lab VPN CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:3072 -nodes -keyout gw.key -out gw.csr -subj "/O=adgate lab/CN=$GW_ID"
    openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out gw.pem \
      -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$GW_ID")
    rm -f gw.csr
  } 2>&1); then
    printf '%s\n' "$out" | tail -n 15 >&2
    die "openssl could not make the gateway's certificate in $PKI"
  fi
  chmod 0600 "$PKI/ca.key" "$PKI/gw.key"
  say "certificates: throwaway CA $PKI/ca.pem, gateway certificate for $GW_ID"
}
