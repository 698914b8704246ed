#!/usr/bin/env bash
# deploy/gateway-ocserv.sh — an OpenConnect server (ocserv 1.1, the open AnyConnect-compatible
# server) whose radcli asks adgate, and the openconnect client to log in with.
#
# Why this file exists: ocserv is the open choice among TLS VPNs, and its RADIUS client (radcli)
# sends no Message-Authenticator: under adgate's default ("auto") it logs in unchanged, which
# this script and its tests show with the real thing.
#
# How a login travels: openconnect posts the username and password to ocserv over TLS; ocserv's
# sec-mod sends one PAP Access-Request to adgate through radcli; after the Access-Accept it
# sends Accounting-Start and the client's tun comes up (configured by vpnc-script). "tunnel up"
# means openconnect reported the connection established and a ping from the client to the
# server's tun address went through the tunnel. Accounting-Stop follows when the client leaves
# or is disconnected.
#
# Live sessions: ocserv has no RFC 5176 either. `occtl disconnect user NAME` on its control
# socket ($STATE/server/occtl.socket, also `disconnect` below) ends a user's sessions; adgate
# does that itself with `[clients.disconnect] kind = "ocserv_occtl"` and `socket` set to it
# (docs/appliances.md). `tunnel` tells whether the client's tunnel still passes traffic.
#
# Topology, all inside namespaces we create: the server runs in the lab namespace on $GW_ADDR
# (TCP 4443, no DTLS) and asks adgate on 127.0.0.1; the client runs in namespace
# "$ADGATE_LAB_NETNS-occ", joined by a veth pair (10.99.2.1 server, 10.99.2.2 client). Tunnel
# addresses are from $TUN_NET. Nothing has a route anywhere else. Nothing in /etc is read or
# changed except /etc/netns/NETNS-occ (hosts/resolv.conf for the client's namespace).
#
# Usage: deploy/gateway-ocserv.sh up|down|status|users|tunnel|login USER PASSWORD_FILE
#        |connect USER PASSWORD_FILE|disconnect USER
#   up       create or repair the namespace, certificates and the server (idempotent);
#            restarts the server if its settings changed
#   down     stop server and client, delete the client's namespace and the state dir
#   status   exit 0 only if the server answers occtl
#   login    log USER in from the client and ping through the tunnel; prints "USER: tunnel up"
#            (exit 0) or "USER: refused" (exit 1); exit 2 if no verdict (timeout, error). The
#            tunnel is closed again afterwards.
#   connect  as login, but the tunnel stays up
#   disconnect  end USER's sessions on the server (occtl)
#   users    the users connected to the server, one a line
#   tunnel   "tunnel up" if the client's openconnect (from connect) runs and a ping through its
#            tunnel to the server's tun address goes through, else "tunnel down"; exit 0 either way
#
# Environment: ADGATE_LAB_DIR, ADGATE_LAB_NETNS (the lab, as for deploy/lab.sh);
# ADGATE_OCSERV_DIR (state, default $ADGATE_LAB_DIR/gateway-ocserv);
# ADGATE_GATEWAY_RADIUS_PORT and ADGATE_GATEWAY_ACCT_PORT (adgate's ports on 127.0.0.1, default
# 1812/1813); ADGATE_GATEWAY_SECRET_FILE (RADIUS secret, default the lab's);
# ADGATE_OCSERV_NAS_ID (NAS-Identifier, default ocserv-gw); ADGATE_GATEWAY_TIMEOUT (seconds a
# login may take, default 30). The secret and passwords go into 0600 files under the state dir
# and are never printed.
set -euo pipefail

export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C

readonly PROGRAM=gateway-ocserv
readonly NETNS=${ADGATE_LAB_NETNS:-adgate-lab}
readonly RW_NETNS="$NETNS-occ"
readonly RW_NETNS_ETC="/etc/netns/$RW_NETNS"
readonly GW_IF=occ-gw RW_IF=occ-rw
readonly GW_ADDR=10.99.2.1 RW_ADDR=10.99.2.2 NET_PREFIX=24
readonly GW_ADDRS=("$GW_ADDR")
readonly GW_ID=vpn.corp.example.test
readonly TUN_NET=10.98.2.0/24 GW_TUN_ADDR=10.98.2.1 PORT=4443 # ocserv takes the first address
readonly OCSERV=/usr/sbin/ocserv OPENCONNECT=/usr/sbin/openconnect
readonly VPNC_SCRIPT=/usr/share/vpnc-scripts/vpnc-script

LAB=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
[[ $LAB == /* ]] || LAB="$PWD/$LAB"
LAB=${LAB%/}
STATE=${ADGATE_OCSERV_DIR:-$LAB/gateway-ocserv}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
readonly STATE=${STATE%/}
readonly PKI="$STATE/pki" GW="$STATE/server" RW="$STATE/client" MARKER="$STATE/.adgate-gateway"
readonly RADIUS_PORT=${ADGATE_GATEWAY_RADIUS_PORT:-1812}
readonly ACCT_PORT=${ADGATE_GATEWAY_ACCT_PORT:-1813}
readonly NAS_ID=${ADGATE_OCSERV_NAS_ID:-ocserv-gw}
readonly LOGIN_TIMEOUT=${ADGATE_GATEWAY_TIMEOUT:-30}
readonly START_TIMEOUT=10

# shellcheck source=deploy/gateway-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/gateway-common.sh"

check_settings() {
  [[ $STATE =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "ADGATE_OCSERV_DIR may only contain letters, digits and / . _ + -: '$STATE'"
  local port
  for port in RADIUS_PORT ACCT_PORT; do
    [[ ${!port} =~ ^[1-9][0-9]{0,4}$ ]] && ((${!port} <= 65535)) ||
      die "ADGATE_GATEWAY_${port} is not a port number: '${!port}'"
  done
  [[ $NAS_ID =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "ADGATE_OCSERV_NAS_ID may only contain letters, digits and . _ -: '$NAS_ID'"
  [[ $LOGIN_TIMEOUT =~ ^[0-9]+$ ]] || die "ADGATE_GATEWAY_TIMEOUT is not a number of seconds"
}

check_tools() {
  local tool
  for tool in "$OCSERV" occtl "$OPENCONNECT" openssl ip flock ping python3; do
    command -v "$tool" >/dev/null || die "$tool is missing: .ci/run installs ocserv and openconnect"
  done
  [[ -x $VPNC_SCRIPT ]] || die "$VPNC_SCRIPT is missing: .ci/run installs vpnc-scripts"
  [[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: ocserv needs TUN devices"
}

occtl_in() { occtl --socket-file "$GW/occtl.socket" "$@"; }

# --- the server ------------------------------------------------------------------------------
# radcli's files: the secret only in radius-servers (0600).
write_server_conf() { # sets GW_RESTART=1 if a file changed (the server must restart)
  GW_RESTART=0
  mkdir -p "$GW"
  chmod 0711 "$GW" # the workers (nobody) reach the sockets; the files stay root's
  local secret
  secret=$(tr -d '\n' <"${ADGATE_GATEWAY_SECRET_FILE:-$(lab_value RADIUS_SECRET_FILE)}")
  [[ -n $secret && $secret != *[[:space:]]* ]] ||
    die "the RADIUS secret is empty or has blanks, which radcli's servers file cannot carry"
  write_if_changed "$GW/radius-servers" 0600 <<<"127.0.0.1 $secret" && GW_RESTART=1
  # radcli sends no Message-Authenticator.
  write_if_changed "$GW/radiusclient.conf" 0600 <<CONF && GW_RESTART=1
# written by deploy/gateway-ocserv.sh
nas-identifier $NAS_ID
authserver 127.0.0.1:$RADIUS_PORT
acctserver 127.0.0.1:$ACCT_PORT
servers $GW/radius-servers
dictionary /etc/radcli/dictionary
radius_timeout 3
radius_retries 2
bindaddr *
CONF
  write_if_changed "$GW/ocserv.conf" 0600 <<CONF && GW_RESTART=1
# written by deploy/gateway-ocserv.sh
auth = "radius[config=$GW/radiusclient.conf,groupconfig=false]"
acct = "radius[config=$GW/radiusclient.conf]"
listen-host = $GW_ADDR
tcp-port = $PORT
run-as-user = nobody
run-as-group = nogroup
socket-file = $GW/ocserv.socket
occtl-socket-file = $GW/occtl.socket
use-occtl = true
pid-file = $GW/ocserv.pid
server-cert = $PKI/gw.pem
server-key = $PKI/gw.key
isolate-workers = false
max-clients = 16
max-same-clients = 4
keepalive = 30
dpd = 10
try-mtu-discovery = false
auth-timeout = 60
cookie-timeout = 60
deny-roaming = false
rekey-time = 172800
rekey-method = ssl
device = occ-vpns
predictable-ips = true
ipv4-network = $TUN_NET
ping-leases = false
cisco-client-compat = true
CONF
  return 0 # an unchanged last file is no failure (set -e would end `up` here)
}

server_pid() {
  local pid
  [[ -r $GW/ocserv.pid ]] || return 1
  pid=$(tr -dc 0-9 <"$GW/ocserv.pid")
  [[ -n $pid ]] || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$OCSERV"* ]] || return 1
  echo "$pid"
}

stop_server() {
  local pid
  pid=$(server_pid) || return 0
  stop_pid "$pid" "ocserv"
  rm -f "$GW/ocserv.pid"
}

server_answers() { occtl_in show status >/dev/null 2>&1; }

start_server() {
  if server_pid >/dev/null && server_answers; then
    return 0
  fi
  stop_server
  setsid ip netns exec "$NETNS" "$OCSERV" --foreground --config "$GW/ocserv.conf" \
    </dev/null >"$GW/ocserv.log" 2>&1 9>&- &
  local deadline=$((SECONDS + START_TIMEOUT))
  until server_answers; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$GW/ocserv.log" >&2 2>/dev/null || true
      die "ocserv did not answer occtl within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  say "ocserv running in namespace $NETNS (log $GW/ocserv.log)"
}

# --- the client ------------------------------------------------------------------------------
client_pid() {
  local pid
  [[ -r $RW/openconnect.pid ]] || return 1
  pid=$(tr -dc 0-9 <"$RW/openconnect.pid")
  [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$OPENCONNECT" ]] || return 1
  echo "$pid"
}

stop_client() {
  local pid
  if pid=$(client_pid); then
    kill -INT "$pid" 2>/dev/null || true # INT: log off, so the server ends the session at once
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$RW/openconnect.pid"
}

# Connects and waits for the verdict: 0 tunnel up (and a ping through it), 1 refused, 2 no
# verdict. The client keeps running on 0 (openconnect --background detaches once connected).
attempt_login() { # USER PASSWORD_FILE
  stop_client
  mkdir -p "$RW"
  chmod 0700 "$RW"
  local status=0
  head -n 1 "$2" | ip netns exec "$RW_NETNS" timeout "$LOGIN_TIMEOUT" "$OPENCONNECT" \
    --protocol=anyconnect --user="$1" --passwd-on-stdin --non-inter --no-dtls \
    --cafile="$PKI/ca.pem" --script="$VPNC_SCRIPT" --interface=occ-tun \
    --background --pid-file="$RW/openconnect.pid" "https://$GW_ID:$PORT" \
    >"$RW/openconnect.log" 2>&1 9>&- || status=$?
  if ((status != 0)); then
    grep -qi "login failed\|authentication failed" "$RW/openconnect.log" && return 1
    return 2
  fi
  # vpnc-script configures the tun device just after openconnect goes to the background.
  local deadline=$((SECONDS + 5))
  until ip netns exec "$RW_NETNS" ping -c 1 -W 1 "$GW_TUN_ADDR" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "$1: tunnel up but no ping through it to $GW_TUN_ADDR"
      stop_client
      return 2
    fi
    sleep 0.2
  done
}

cmd_login() { # USER PASSWORD_FILE KEEP(yes|no)
  server_answers || die "ocserv is not up: run deploy/gateway-ocserv.sh up" 2
  [[ -r $2 ]] || die "cannot read the password file $2" 2
  [[ $1 =~ ^[A-Za-z0-9._@-]+$ ]] || die "the user name has characters this script does not pass on" 2
  local verdict=0
  attempt_login "$1" "$2" || verdict=$?
  case $verdict in
    0)
      echo "$1: tunnel up"
      [[ $3 == yes ]] || stop_client
      ;;
    1) echo "$1: refused"; return 1 ;;
    *)
      tail -n 15 "$RW/openconnect.log" >&2 2>/dev/null || true
      die "$1: no verdict from ocserv within ${LOGIN_TIMEOUT}s" 2
      ;;
  esac
}

cmd_users() {
  server_answers || die "ocserv is not up: run deploy/gateway-ocserv.sh up" 2
  local answer
  answer=$(occtl_in --json show users) || die "occtl show users failed" 2
  python3 -c 'import json, sys; [print(u["Username"]) for u in json.load(sys.stdin)]' <<<"$answer"
}

cmd_tunnel() {
  if client_pid >/dev/null && ip netns exec "$RW_NETNS" ping -c 1 -W 1 "$GW_TUN_ADDR" >/dev/null 2>&1; then
    echo "tunnel up"
  else
    echo "tunnel down"
  fi
}

cmd_up() {
  mkdir -p "$STATE"
  chmod 0711 "$STATE"
  : >"$MARKER"
  ensure_network
  ensure_pki
  write_server_conf
  ((GW_RESTART == 0)) || stop_server
  start_server
  say "up: ocserv $GW_ADDR:$PORT/tcp ($GW_ID) in $NETNS asks RADIUS 127.0.0.1:$RADIUS_PORT (accounting :$ACCT_PORT) as $NAS_ID; client $RW_ADDR in $RW_NETNS"
}

cmd_down() {
  stop_client
  stop_server
  remove_network
  if [[ -d $STATE ]]; then
    [[ -e $MARKER ]] || die "$STATE has no $MARKER: not deleting a directory deploy/$PROGRAM.sh did not make"
    rm -rf "$STATE"
  fi
  say "down: ocserv stopped, namespace $RW_NETNS and $STATE removed"
}

cmd_status() {
  if server_pid >/dev/null && server_answers; then
    echo "server: running"
  else
    echo "server: not running"
    return 1
  fi
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | status | users | tunnel) (($# == 0)) || { usage >&2; exit 2; } ;;
    disconnect) (($# == 1)) || { usage >&2; exit 2; } ;;
    login | connect) (($# == 2)) || { usage >&2; exit 2; } ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  require_root
  check_settings
  check_tools
  take_lock
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    users) cmd_users ;;
    tunnel) cmd_tunnel ;;
    login) cmd_login "$@" no ;;
    connect) cmd_login "$@" yes ;;
    disconnect) occtl_in disconnect user "$1" ;;
  esac
}

main "$@"
