#!/usr/bin/env bash
# deploy/gateway-openvpn.sh — an OpenVPN 2.6 server whose radiusplugin asks adgate, and an
# OpenVPN client to log in with.
#
# Why this file exists: OpenVPN is what many small companies run, and its RADIUS client
# (Debian's openvpn-auth-radius, radiusplugin 2.1) has quirks that decide whether adgate works
# at all: it sends no Message-Authenticator, keeps only the first four digits of its ports
# (21812 becomes 2181), and refuses the connection when Accounting-Start goes unanswered. This
# script runs the real thing, so the demo and the integration tests show those quirks handled.
#
# How a login travels: the client sends its username and password over the TLS control channel
# (`auth-user-pass`); the server's radiusplugin sends one PAP Access-Request to adgate; after
# the Access-Accept it sends Accounting-Start (with Framed-IP-Address and the Class adgate
# gave) and the client's tun comes up; "tunnel up" means the client reported "Initialization
# Sequence Completed" and a ping from the client to the server's tun address went through the
# tunnel. Accounting-Stop follows when the client leaves or is killed.
#
# Live sessions: OpenVPN has no RFC 5176. Its management interface (127.0.0.1:$MGMT_PORT in the
# lab namespace, password in $STATE/server/management.pass) takes `kill <common name>`;
# adgate's `[clients.disconnect] kind = "openvpn_management"` uses it. With `username-as-common-name` the common name is the login
# name the client sent, which is also the User-Name adgate decided.
#
# Topology, all inside namespaces we create: the server runs in the lab namespace on $GW_ADDR
# (UDP 1194) and asks adgate on 127.0.0.1; the client runs in namespace "$ADGATE_LAB_NETNS-ovpn",
# joined by a veth pair (10.99.1.1 server, 10.99.1.2 client). Tunnel addresses are from
# $TUN_NET. Nothing has a route anywhere else. Nothing in /etc is read or changed except
# /etc/netns/NETNS-ovpn (hosts/resolv.conf on loopback for the client's namespace).
#
# Usage: deploy/gateway-openvpn.sh up|down|status|clients|login USER PASSWORD_FILE
#        |connect USER PASSWORD_FILE|disconnect
#   up       create or repair the namespace, certificates and the server (idempotent);
#            restarts the server if its settings changed
#   down     stop server and client, delete the client's namespace and the state dir
#   status   exit 0 only if the server answers on its management interface
#   login    log USER in from the client and ping through the tunnel; prints "USER: tunnel up"
#            (exit 0) or "USER: refused" (exit 1); exit 2 if no verdict (timeout, error). The
#            tunnel is closed again afterwards.
#   connect  as login, but the tunnel stays up (a live session, for adgate to cut)
#   disconnect  stop the client started by connect (its Accounting-Stop follows)
#   clients  the common names of the clients connected to the server, one a line
#
# Environment: ADGATE_LAB_DIR, ADGATE_LAB_NETNS (the lab, as for deploy/lab.sh);
# ADGATE_OPENVPN_DIR (state, default $ADGATE_LAB_DIR/gateway-openvpn);
# ADGATE_GATEWAY_RADIUS_PORT and ADGATE_GATEWAY_ACCT_PORT (adgate's ports on 127.0.0.1, default
# 1812/1813; at most four digits: radiusplugin cuts longer ones); ADGATE_GATEWAY_SECRET_FILE
# (RADIUS secret, default the lab's); ADGATE_OPENVPN_NAS_ID (NAS-Identifier, default
# openvpn-gw); ADGATE_OPENVPN_MANAGEMENT_PORT (default 7505) and
# ADGATE_OPENVPN_MANAGEMENT_PASSWORD_FILE (its password, first line; default a random one in
# $STATE/server/management.pass); ADGATE_GATEWAY_TIMEOUT (seconds a
# login may take, default 30). The secret and passwords go into 0600 files under the state dir
# and are never printed.
set -euo pipefail

export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C

readonly PROGRAM=gateway-openvpn
readonly NETNS=${ADGATE_LAB_NETNS:-adgate-lab}
readonly RW_NETNS="$NETNS-ovpn"
readonly RW_NETNS_ETC="/etc/netns/$RW_NETNS"
readonly GW_IF=ovpn-gw RW_IF=ovpn-rw
readonly GW_ADDR=10.99.1.1 RW_ADDR=10.99.1.2 NET_PREFIX=24
readonly GW_ADDRS=("$GW_ADDR")
readonly GW_ID=vpn.corp.example.test
readonly TUN_NET=10.98.1.0 TUN_MASK=255.255.255.0 GW_TUN_ADDR=10.98.1.1
readonly OPENVPN=/usr/sbin/openvpn RADIUSPLUGIN=/usr/lib/openvpn/radiusplugin.so

LAB=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
[[ $LAB == /* ]] || LAB="$PWD/$LAB"
LAB=${LAB%/}
STATE=${ADGATE_OPENVPN_DIR:-$LAB/gateway-openvpn}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
readonly STATE=${STATE%/}
readonly PKI="$STATE/pki" GW="$STATE/server" RW="$STATE/client" MARKER="$STATE/.adgate-gateway"
readonly RADIUS_PORT=${ADGATE_GATEWAY_RADIUS_PORT:-1812}
readonly ACCT_PORT=${ADGATE_GATEWAY_ACCT_PORT:-1813}
readonly NAS_ID=${ADGATE_OPENVPN_NAS_ID:-openvpn-gw}
readonly MGMT_PORT=${ADGATE_OPENVPN_MANAGEMENT_PORT:-7505}
readonly MGMT_PASSWORD_FILE=${ADGATE_OPENVPN_MANAGEMENT_PASSWORD_FILE:-}
readonly LOGIN_TIMEOUT=${ADGATE_GATEWAY_TIMEOUT:-30}
readonly START_TIMEOUT=10

# shellcheck source=deploy/gateway-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/gateway-common.sh"

check_settings() {
  [[ $STATE =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "ADGATE_OPENVPN_DIR may only contain letters, digits and / . _ + -: '$STATE'"
  local port
  for port in RADIUS_PORT ACCT_PORT; do
    # radiusplugin 2.1 keeps the first four characters of authport/acctport.
    [[ ${!port} =~ ^[1-9][0-9]{0,3}$ ]] ||
      die "ADGATE_GATEWAY_${port} must be a port of at most four digits (radiusplugin cuts longer ones): '${!port}'"
  done
  [[ $MGMT_PORT =~ ^[1-9][0-9]{0,4}$ ]] && ((MGMT_PORT <= 65535)) ||
    die "ADGATE_OPENVPN_MANAGEMENT_PORT is not a port number: '$MGMT_PORT'"
  [[ -z $MGMT_PASSWORD_FILE || -r $MGMT_PASSWORD_FILE ]] ||
    die "cannot read ADGATE_OPENVPN_MANAGEMENT_PASSWORD_FILE '$MGMT_PASSWORD_FILE'"
  [[ $NAS_ID =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "ADGATE_OPENVPN_NAS_ID may only contain letters, digits and . _ -: '$NAS_ID'"
  [[ $LOGIN_TIMEOUT =~ ^[0-9]+$ ]] || die "ADGATE_GATEWAY_TIMEOUT is not a number of seconds"
}

check_tools() {
  local tool
  for tool in "$OPENVPN" openssl ip flock ping; do
    command -v "$tool" >/dev/null || die "$tool is missing: .ci/run installs openvpn"
  done
  [[ -e $RADIUSPLUGIN ]] || die "$RADIUSPLUGIN is missing: .ci/run installs openvpn-auth-radius"
  [[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: OpenVPN needs TUN devices"
}

# --- the server ------------------------------------------------------------------------------
# radiusplugin.cnf: the secret is read from the lab's file into this 0600 file only.
write_server_conf() { # sets GW_RESTART=1 if a file changed (the server must restart)
  GW_RESTART=0
  mkdir -p "$GW/ccd"
  chmod 0700 "$GW"
  local secret
  secret=$(tr -d '\n' <"${ADGATE_GATEWAY_SECRET_FILE:-$(lab_value RADIUS_SECRET_FILE)}")
  [[ -n $secret && $secret != *[[:space:]#]* ]] ||
    die "the RADIUS secret is empty or has blanks or '#', which radiusplugin.cnf cannot carry"
  # radiusplugin sends no Message-Authenticator; it needs Accounting-Start answered.
  write_if_changed "$GW/radiusplugin.cnf" 0600 <<EOF && GW_RESTART=1
# written by deploy/gateway-openvpn.sh
NAS-Identifier=$NAS_ID
Service-Type=5
Framed-Protocol=1
NAS-Port-Type=5
NAS-IP-Address=127.0.0.1
OpenVPNConfig=$GW/server.conf
subnet=$TUN_MASK
overwriteccfiles=true
nonfatalaccounting=false
server
{
	acctport=$ACCT_PORT
	authport=$RADIUS_PORT
	name=127.0.0.1
	retry=2
	wait=3
	sharedsecret=$secret
}
EOF
  # The management interface ends tunnels: a password of its own (adgate's password_file).
  if [[ -n $MGMT_PASSWORD_FILE ]]; then
    head -n 1 "$MGMT_PASSWORD_FILE" | write_if_changed "$GW/management.pass" 0600 && GW_RESTART=1
  elif [[ ! -s $GW/management.pass ]]; then
    (umask 077 && openssl rand -hex 24 >"$GW/management.pass")
    GW_RESTART=1
  fi
  write_if_changed "$GW/server.conf" 0600 <<EOF && GW_RESTART=1
# written by deploy/gateway-openvpn.sh
dev tun-ovpn
dev-type tun
proto udp4
local $GW_ADDR
port 1194
topology subnet
server $TUN_NET $TUN_MASK
ca $PKI/ca.pem
cert $PKI/gw.pem
key $PKI/gw.key
dh none
verify-client-cert none
username-as-common-name
plugin $RADIUSPLUGIN $GW/radiusplugin.cnf
client-config-dir $GW/ccd
management 127.0.0.1 $MGMT_PORT $GW/management.pass
keepalive 5 30
disable-dco
writepid $GW/openvpn.pid
status $GW/status.log 1
log $GW/openvpn.log
verb 3
EOF
  return 0 # an unchanged last file is no failure (set -e would end `up` here)
}

daemon_pid() { # DIR — prints the pid of the openvpn started there, if it runs
  local pid exe
  [[ -r $1/openvpn.pid ]] || return 1
  pid=$(tr -dc 0-9 <"$1/openvpn.pid")
  [[ -n $pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $exe == "$OPENVPN" ]] || return 1
  echo "$pid"
}

stop_daemon() { # NAME DIR
  local name=$1 dir=$2 pid
  pid=$(daemon_pid "$dir") || return 0
  stop_pid "$pid" "$name: openvpn"
  rm -f "$dir/openvpn.pid"
}

management() { # COMMAND — one command on the server's management interface, its answer
  # It first asks for its password ("ENTER PASSWORD:", no newline). The answer ends with END
  # (lists) or is one SUCCESS:/ERROR: line; quit only after it, or the server drops what it had
  # not yet sent.
  # shellcheck disable=SC2016 # $1, $2 and $3 are the inner shell's arguments
  ip netns exec "$NETNS" timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -d : -t 5 prompt <&3 && [[ $prompt == "ENTER PASSWORD" ]] || exit 1
    cat "$3" >&3
    IFS= read -r -t 5 line <&3 && [[ $line == SUCCESS:* ]] || exit 1
    printf "%s\n" "$2" >&3
    while IFS= read -r -t 5 line <&3; do
      line=${line%$'"'"'\r'"'"'}
      [[ $line == ">"* ]] && continue
      printf "%s\n" "$line"
      [[ $line == END || $line == SUCCESS:* || $line == ERROR:* ]] && break
    done
    printf "quit\n" >&3' management "$MGMT_PORT" "$1" "$GW/management.pass"
}

server_answers() {
  local answer
  answer=$(management "state" 2>/dev/null) || return 1
  [[ $answer == *,CONNECTED,* ]]
}

start_server() {
  if daemon_pid "$GW" >/dev/null && server_answers; then
    return 0
  fi
  stop_daemon server "$GW"
  : >"$GW/openvpn.log"
  ip netns exec "$NETNS" "$OPENVPN" --config "$GW/server.conf" --daemon ovpn-adgate \
    </dev/null >"$GW/openvpn.out" 2>&1 9>&- ||
    { tail -n 20 "$GW/openvpn.out" "$GW/openvpn.log" >&2; die "openvpn (server) did not start"; }
  local deadline=$((SECONDS + START_TIMEOUT))
  until server_answers; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$GW/openvpn.log" >&2 2>/dev/null || true
      die "the OpenVPN server did not answer on its management interface within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  say "OpenVPN server running in namespace $NETNS (log $GW/openvpn.log)"
}

# --- the client ------------------------------------------------------------------------------
write_client_conf() { # USER PASSWORD_FILE
  mkdir -p "$RW"
  chmod 0700 "$RW"
  [[ $1 != *[[:cntrl:]]* ]] || die "the user name has control characters"
  { printf '%s\n' "$1"; head -n 1 "$2"; } | write_if_changed "$RW/credentials" 0600 || true
  write_if_changed "$RW/client.conf" 0600 <<EOF || true
# written by deploy/gateway-openvpn.sh
client
dev tun-ovpn
dev-type tun
proto udp4
remote $GW_ADDR 1194
nobind
ca $PKI/ca.pem
verify-x509-name $GW_ID name
# the lab certificate has the serverAuth EKU but no keyUsage, which remote-cert-tls demands
remote-cert-eku "TLS Web Server Authentication"
auth-nocache
# tell the server when leaving, so that it ends the session (and sends Accounting-Stop) at once
explicit-exit-notify 1
auth-user-pass $RW/credentials
auth-retry none
disable-dco
connect-retry-max 1
log $RW/openvpn.log
verb 3
EOF
}

# Starts the client and waits for its verdict: 0 tunnel up (and a ping through it), 1 refused,
# 2 no verdict. The client keeps running on 0.
attempt_login() { # WHO
  stop_daemon client "$RW"
  : >"$RW/openvpn.log"
  # In the background, not --daemon: its pid is known at once (setsid and ip netns exec exec
  # it, so /proc/PID/exe names openvpn only once they have: liveness is kill -0).
  setsid ip netns exec "$RW_NETNS" "$OPENVPN" --config "$RW/client.conf" \
    </dev/null >"$RW/openvpn.out" 2>&1 9>&- &
  local pid=$! deadline=$((SECONDS + LOGIN_TIMEOUT)) alive=1
  echo "$pid" >"$RW/openvpn.pid"
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || alive=0
    # With auth-retry none the client exits right after AUTH_FAILED.
    if grep -q "AUTH_FAILED" "$RW/openvpn.log"; then
      stop_daemon client "$RW"
      return 1
    fi
    if grep -q "Initialization Sequence Completed" "$RW/openvpn.log"; then
      if ip netns exec "$RW_NETNS" ping -c 1 -W 5 "$GW_TUN_ADDR" >/dev/null 2>&1; then
        return 0
      fi
      say "$1: tunnel up but no ping through it to $GW_TUN_ADDR"
      stop_daemon client "$RW"
      return 2
    fi
    if ((!alive)); then
      say "$1: the client exited without a verdict"
      return 2
    fi
    sleep 0.2
  done
  stop_daemon client "$RW"
  return 2
}

cmd_login() { # USER PASSWORD_FILE KEEP(yes|no)
  server_answers || die "the OpenVPN server is not up: run deploy/gateway-openvpn.sh up" 2
  [[ -r $2 ]] || die "cannot read the password file $2" 2
  write_client_conf "$1" "$2"
  local verdict=0
  attempt_login "$1" || verdict=$?
  rm -f "$RW/credentials"
  case $verdict in
    0)
      echo "$1: tunnel up"
      [[ $3 == yes ]] || stop_daemon client "$RW"
      ;;
    1) echo "$1: refused"; return 1 ;;
    *)
      tail -n 15 "$RW/openvpn.log" >&2 2>/dev/null || true
      die "$1: no verdict from the OpenVPN server within ${LOGIN_TIMEOUT}s" 2
      ;;
  esac
}

cmd_clients() {
  server_answers || die "the OpenVPN server is not up: run deploy/gateway-openvpn.sh up" 2
  # status 2 lines: CLIENT_LIST,<common name>,<real address>,...
  local answer
  answer=$(management "status 2") || die "the management interface did not answer" 2
  # UNDEF: a client still authenticating
  awk -F, '$1 == "CLIENT_LIST" && $2 != "UNDEF" { print $2 }' <<<"$answer"
}

cmd_up() {
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  : >"$MARKER"
  ensure_network
  ensure_pki
  write_server_conf
  ((GW_RESTART == 0)) || stop_daemon server "$GW"
  start_server
  say "up: OpenVPN server $GW_ADDR:1194/udp ($GW_ID) in $NETNS asks RADIUS 127.0.0.1:$RADIUS_PORT (accounting :$ACCT_PORT) as $NAS_ID, management 127.0.0.1:$MGMT_PORT; client $RW_ADDR in $RW_NETNS"
}

cmd_down() {
  stop_daemon client "$RW"
  stop_daemon server "$GW"
  remove_network
  if [[ -d $STATE ]]; then
    [[ -e $MARKER ]] || die "$STATE has no $MARKER: not deleting a directory deploy/$PROGRAM.sh did not make"
    rm -rf "$STATE"
  fi
  say "down: OpenVPN stopped, namespace $RW_NETNS and $STATE removed"
}

cmd_status() {
  if daemon_pid "$GW" >/dev/null && server_answers; then
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
    up | down | status | clients | disconnect) (($# == 0)) || { usage >&2; exit 2; } ;;
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
    clients) cmd_clients ;;
    login) cmd_login "$@" no ;;
    connect) cmd_login "$@" yes ;;
    disconnect) stop_daemon client "$RW" ;;
  esac
}

main "$@"
