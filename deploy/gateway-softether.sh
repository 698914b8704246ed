#!/usr/bin/env bash
# deploy/gateway-softether.sh — a SoftEther VPN Server whose hub asks adgate (RADIUS), configured
# headless with vpncmd, and an OpenVPN client logging in to it.
#
# Why this file exists: SoftEther is common among small companies (in Japan especially), and its
# RADIUS client is the one that needs most from adgate: it sends no Message-Authenticator and
# puts a Proxy-State in every Access-Request, so its client entry needs
# `limit_proxy_state = false`; it sends no accounting. This script runs the real thing.
#
# How a login travels: SoftEther speaks many client protocols; here the stock OpenVPN client
# connects to SoftEther's OpenVPN-compatible listener (TCP, on the same port as vpncmd). The
# hub's wildcard user "*" authenticates every name with RADIUS: one PAP Access-Request to
# adgate. SecureNAT gives the client an address and answers pings as 192.168.30.1: "tunnel up"
# means a ping through the tunnel to it was answered.
#
# Live sessions: SoftEther has no RFC 5176 and sends no accounting. adgate lists and ends the
# hub's sessions through the server's JSON-RPC admin API (`POST https://…:$PORT/api/`,
# EnumSession / DeleteSession) as the hub's administrator: `up` sets the hub's administrator
# password (and a server administrator password, so that the hub's is the one that counts),
# and `fingerprint` prints the SHA-256 of the server's certificate for adgate's
# `server_certificate_sha256` (docs/appliances.md, docs/live-sessions.md).
#
# Topology, all inside namespaces we create: the server runs in the lab namespace (listening on
# TCP $PORT only; its admin port is the same, reachable only inside the lab namespace) and asks
# adgate on 127.0.0.1; the client runs in namespace "$ADGATE_LAB_NETNS-se", joined by a veth pair
# (10.99.3.1 server, 10.99.3.2 client). SoftEther's compiled-in state, log and run directories
# are bind-mounted from the state dir in a private mount namespace, so nothing outside it is
# written but /etc/netns/NETNS-se.
#
# Usage: deploy/gateway-softether.sh up|down|status|sessions|login USER PASSWORD_FILE
#        |connect USER PASSWORD_FILE|disconnect|fingerprint
#   up       create or repair the namespace, certificates and the server (idempotent)
#   down     stop server and client, delete the client's namespace and the state dir
#   status   exit 0 only if the server answers vpncmd
#   login    log USER in and ping through the tunnel; prints "USER: tunnel up" (exit 0) or
#            "USER: refused" (exit 1); exit 2 if no verdict. The tunnel is closed afterwards.
#   connect  as login, but the tunnel stays up
#   disconnect  stop the client started by connect
#   sessions the user names of the hub's VPN sessions, one a line
#   fingerprint  the SHA-256 of the server's certificate, as openssl prints it (AB:CD:…)
#
# Environment: ADGATE_LAB_DIR, ADGATE_LAB_NETNS (the lab, as for deploy/lab.sh);
# ADGATE_SOFTETHER_DIR (state, default $ADGATE_LAB_DIR/gateway-softether);
# ADGATE_GATEWAY_RADIUS_PORT (adgate's port on 127.0.0.1, default 1812);
# ADGATE_GATEWAY_SECRET_FILE (RADIUS secret, default the lab's); ADGATE_GATEWAY_TIMEOUT
# (seconds a login may take, default 30); ADGATE_SOFTETHER_HUB_PASSWORD_FILE (the hub
# administrator's password, first line; default a random one in the state dir). The secret and
# the passwords go to vpncmd in 0600 command files or on its standard input (vpncmd asks for
# the server administrator's password there when /PASSWORD is not given), never on a command
# line; they are never printed.
set -euo pipefail

export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C

readonly PROGRAM=gateway-softether
readonly NETNS=${ADGATE_LAB_NETNS:-adgate-lab}
readonly RW_NETNS="$NETNS-se"
readonly RW_NETNS_ETC="/etc/netns/$RW_NETNS"
readonly GW_IF=se-gw RW_IF=se-rw
readonly GW_ADDR=10.99.3.1 RW_ADDR=10.99.3.2 NET_PREFIX=24
readonly GW_ADDRS=("$GW_ADDR")
readonly GW_ID=vpn.corp.example.test
readonly PORT=5555 SECURENAT_ADDR=192.168.30.1
readonly VPNSERVER=/usr/libexec/softether/vpnserver/vpnserver OPENVPN=/usr/sbin/openvpn

LAB=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
[[ $LAB == /* ]] || LAB="$PWD/$LAB"
LAB=${LAB%/}
STATE=${ADGATE_SOFTETHER_DIR:-$LAB/gateway-softether}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
readonly STATE=${STATE%/}
readonly PKI="$STATE/pki" GW="$STATE/server" RW="$STATE/client" MARKER="$STATE/.adgate-gateway"
readonly ADMIN_PASSWORD_FILE="$GW/admin.pass"
readonly HUB_PASSWORD_FILE=${ADGATE_SOFTETHER_HUB_PASSWORD_FILE:-$GW/hub.pass}
readonly RADIUS_PORT=${ADGATE_GATEWAY_RADIUS_PORT:-1812}
readonly LOGIN_TIMEOUT=${ADGATE_GATEWAY_TIMEOUT:-30}
readonly START_TIMEOUT=15

# shellcheck source=deploy/gateway-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/gateway-common.sh"

check_settings() {
  [[ $STATE =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "ADGATE_SOFTETHER_DIR may only contain letters, digits and / . _ + -: '$STATE'"
  [[ $RADIUS_PORT =~ ^[1-9][0-9]{0,4}$ ]] && ((RADIUS_PORT <= 65535)) ||
    die "ADGATE_GATEWAY_RADIUS_PORT is not a port number: '$RADIUS_PORT'"
  [[ $LOGIN_TIMEOUT =~ ^[0-9]+$ ]] || die "ADGATE_GATEWAY_TIMEOUT is not a number of seconds"
}

check_tools() {
  local tool
  for tool in "$VPNSERVER" vpncmd "$OPENVPN" openssl ip flock ping unshare; do
    command -v "$tool" >/dev/null ||
      die "$tool is missing: .ci/run installs softether-vpnserver, softether-vpncmd and openvpn"
  done
  [[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: the client needs TUN devices"
}

# vpncmd against the server, in the lab namespace, as the server's administrator (/ADMINHUB
# picks a hub without changing who logs in). A refused password makes vpncmd ask again at the
# end of its input, for ever: the timeout ends that.
vpncmd_in() { # ARGS...
  [[ -r $ADMIN_PASSWORD_FILE ]] || return 1
  timeout "$START_TIMEOUT" ip netns exec "$NETNS" vpncmd "localhost:$PORT" /SERVER "$@" \
    <"$ADMIN_PASSWORD_FILE"
}

# A random password in PATH (0600) unless it is there.
ensure_password() { # PATH
  [[ -s $1 ]] && return 0
  openssl rand -hex 16 | write_if_changed "$1" 0600 || true
}

# The first line of PATH, if vpncmd can carry it.
password_of() { # PATH WHAT
  local password
  password=$(head -n 1 "$1" | tr -d '\r\n') || die "cannot read $2 $1"
  [[ -n $password && $password != *[[:space:]\"]* ]] ||
    die "$2 is empty or has blanks or quotes, which vpncmd cannot carry"
  printf '%s' "$password"
}

server_answers() { vpncmd_in /CMD About >/dev/null 2>&1; }

# --- the server ------------------------------------------------------------------------------
server_pid() {
  local pid
  [[ -r $GW/vpnserver.pid ]] || return 1
  pid=$(tr -dc 0-9 <"$GW/vpnserver.pid")
  [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$VPNSERVER" ]] || return 1
  echo "$pid"
}

stop_server() {
  local pid
  pid=$(server_pid) || return 0
  # execsvc runs a watchdog and the server: end the group it leads.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$GW/vpnserver.pid"
}

start_server() {
  if server_pid >/dev/null && server_answers; then
    return 0
  fi
  stop_server
  mkdir -p "$GW/db" "$GW/log" "$GW/run"
  ensure_password "$ADMIN_PASSWORD_FILE"
  # A private mount namespace: SoftEther's compiled-in directories are this state dir's.
  # shellcheck disable=SC2016 # $1.. are the inner shell's arguments
  setsid ip netns exec "$NETNS" unshare --mount --propagation private sh -c '
    mkdir -p /var/lib/softether /var/log/softether /run/softether &&
    mount --bind "$1/db" /var/lib/softether && mount --bind "$1/log" /var/log/softether &&
    mount --bind "$1/run" /run/softether && exec "$2" execsvc' softether-in-ns "$GW" \
    "$VPNSERVER" </dev/null >"$GW/vpnserver.out" 2>&1 9>&- &
  echo $! >"$GW/vpnserver.pid"
  local deadline=$((SECONDS + START_TIMEOUT))
  until server_answers; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$GW/vpnserver.out" >&2 2>/dev/null || true
      die "the SoftEther server did not answer vpncmd within ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  say "SoftEther VPN Server running in namespace $NETNS (state $GW/db)"
}

# The hub's settings, applied on every `up` (each command is idempotent, or its failure on an
# existing object harmless): RADIUS for every user, SecureNAT, our certificate, one listener,
# the administrators' passwords.
configure_server() {
  local secret admin_password hub_password out
  secret=$(tr -d '\n' <"${ADGATE_GATEWAY_SECRET_FILE:-$(lab_value RADIUS_SECRET_FILE)}")
  [[ -n $secret && $secret != *[[:space:]\"]* ]] ||
    die "the RADIUS secret is empty or has blanks or quotes, which vpncmd cannot carry"
  [[ -n ${ADGATE_SOFTETHER_HUB_PASSWORD_FILE:-} ]] || ensure_password "$HUB_PASSWORD_FILE"
  admin_password=$(password_of "$ADMIN_PASSWORD_FILE" "the server administrator's password")
  hub_password=$(password_of "$HUB_PASSWORD_FILE" "the hub administrator's password")
  write_if_changed "$GW/hub.vpncmd" 0600 <<CMDS || true
RadiusServerSet 127.0.0.1:$RADIUS_PORT /SECRET:$secret /RETRY_INTERVAL:1000
SetHubPassword $hub_password
UserCreate * /GROUP:none /REALNAME:none /NOTE:none
UserRadiusSet * /ALIAS:none
SecureNatEnable
CMDS
  write_if_changed "$GW/server.vpncmd" 0600 <<CMDS || true
ServerCertSet /LOADCERT:$PKI/gw.pem /LOADKEY:$PKI/gw.key
ListenerDelete 443
ListenerDelete 992
ListenerDelete 1194
PortsUDPSet $PORT
ServerPasswordSet $admin_password
CMDS
  out=$(vpncmd_in /IN:"$GW/server.vpncmd" 2>&1) || true
  out=$(vpncmd_in /ADMINHUB:DEFAULT /IN:"$GW/hub.vpncmd" 2>&1) || true
  grep -q "RadiusServerSet command" <<<"$out" ||
    die "vpncmd could not configure the hub's RADIUS server"
}

# --- the client: the stock OpenVPN client on SoftEther's OpenVPN-compatible listener ----------
write_client_conf() { # USER PASSWORD_FILE
  mkdir -p "$RW"
  chmod 0700 "$RW"
  [[ $1 != *[[:cntrl:]]* ]] || die "the user name has control characters"
  { printf '%s\n' "$1"; head -n 1 "$2"; } | write_if_changed "$RW/credentials" 0600 || true
  write_if_changed "$RW/client.conf" 0600 <<CONF || true
# written by deploy/gateway-softether.sh
client
dev tun-se
dev-type tun
proto tcp-client
remote $GW_ADDR $PORT
nobind
ca $PKI/ca.pem
verify-x509-name $GW_ID name
auth-user-pass $RW/credentials
auth-nocache
auth-retry none
data-ciphers AES-256-GCM:AES-128-GCM:AES-128-CBC
auth SHA1
# SoftEther pushes a default route and a Windows-only option; the client needs neither
pull-filter ignore "redirect-gateway"
pull-filter ignore "block-outside-dns"
pull-filter ignore "dhcp-option"
disable-dco
connect-retry-max 1
log $RW/openvpn.log
verb 3
CONF
}

stop_client() {
  local pid
  [[ -r $RW/openvpn.pid ]] || return 0
  pid=$(tr -dc 0-9 <"$RW/openvpn.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    stop_pid "$pid" "openvpn client"
  fi
  rm -f "$RW/openvpn.pid"
}

# 0 tunnel up (and a ping through it), 1 refused, 2 no verdict. The client keeps running on 0.
attempt_login() { # WHO
  stop_client
  : >"$RW/openvpn.log"
  setsid ip netns exec "$RW_NETNS" "$OPENVPN" --config "$RW/client.conf" \
    </dev/null >"$RW/openvpn.out" 2>&1 9>&- &
  local pid=$! deadline=$((SECONDS + LOGIN_TIMEOUT)) alive=1
  echo "$pid" >"$RW/openvpn.pid"
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || alive=0
    if grep -q "AUTH_FAILED" "$RW/openvpn.log"; then
      stop_client
      return 1
    fi
    if grep -q "Initialization Sequence Completed" "$RW/openvpn.log"; then
      if ip netns exec "$RW_NETNS" ping -c 1 -W 5 "$SECURENAT_ADDR" >/dev/null 2>&1; then
        return 0
      fi
      say "$1: tunnel up but no ping through it to $SECURENAT_ADDR"
      stop_client
      return 2
    fi
    if ((!alive)); then
      say "$1: the client exited without a verdict"
      return 2
    fi
    sleep 0.2
  done
  stop_client
  return 2
}

cmd_login() { # USER PASSWORD_FILE KEEP(yes|no)
  server_answers || die "the SoftEther server is not up: run deploy/gateway-softether.sh up" 2
  [[ -r $2 ]] || die "cannot read the password file $2" 2
  write_client_conf "$1" "$2"
  local verdict=0
  attempt_login "$1" || verdict=$?
  rm -f "$RW/credentials"
  case $verdict in
    0)
      echo "$1: tunnel up"
      [[ $3 == yes ]] || stop_client
      ;;
    1) echo "$1: refused"; return 1 ;;
    *)
      tail -n 15 "$RW/openvpn.log" >&2 2>/dev/null || true
      die "$1: no verdict from the SoftEther server within ${LOGIN_TIMEOUT}s" 2
      ;;
  esac
}

cmd_sessions() {
  server_answers || die "the SoftEther server is not up: run deploy/gateway-softether.sh up" 2
  local answer
  answer=$(vpncmd_in /ADMINHUB:DEFAULT /CSV /CMD SessionList) || die "vpncmd SessionList failed" 2
  # CSV: Session Name,VLAN ID,Location,User Name,... ; SecureNAT's own session is not a user's.
  awk -F, 'NR > 1 && $4 != "SecureNAT" && $1 ~ /^SID-/ { print $4 }' <<<"$answer"
}

cmd_fingerprint() {
  [[ -s $PKI/gw.pem ]] || die "no server certificate: run deploy/gateway-softether.sh up" 2
  openssl x509 -in "$PKI/gw.pem" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

cmd_up() {
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  : >"$MARKER"
  ensure_network
  ensure_pki
  start_server
  configure_server
  say "up: SoftEther VPN Server $GW_ADDR:$PORT/tcp ($GW_ID) in $NETNS asks RADIUS 127.0.0.1:$RADIUS_PORT; client $RW_ADDR in $RW_NETNS"
}

cmd_down() {
  stop_client
  stop_server
  remove_network
  if [[ -d $STATE ]]; then
    [[ -e $MARKER ]] || die "$STATE has no $MARKER: not deleting a directory deploy/$PROGRAM.sh did not make"
    rm -rf "$STATE"
  fi
  say "down: SoftEther stopped, namespace $RW_NETNS and $STATE removed"
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
    up | down | status | sessions | disconnect | fingerprint) (($# == 0)) || { usage >&2; exit 2; } ;;
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
    sessions) cmd_sessions ;;
    login) cmd_login "$@" no ;;
    connect) cmd_login "$@" yes ;;
    disconnect) stop_client ;;
    fingerprint) cmd_fingerprint ;;
  esac
}

main "$@"
