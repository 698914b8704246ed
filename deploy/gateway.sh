#!/usr/bin/env bash
# deploy/gateway.sh — a real VPN gateway in front of adgate, and a road warrior to log in with.
#
# Why this file exists: adgate's job is to answer a VPN appliance, and a simulated NAS only shows
# that adgate agrees with itself. This script runs strongSwan's charon as an IKEv2 gateway whose
# eap-radius plugin asks adgate, and a second charon as a road-warrior client that logs in with
# a username and password, so the demo and an integration test can show a real appliance
# accepting and refusing logins on adgate's word.
#
# How a login travels — two entry points on the gateway, one for each kind of login:
# - password ($GW_ADDR, connection "rw"): the road warrior authenticates with EAP-GTC inside
#   IKEv2; the gateway (`eap-gtc { backend = radius }`) checks the username/password itself
#   with one PAP Access-Request to adgate.
# - certificate ($GW_CERT_ADDR, connection "rw-cert"): the road warrior runs EAP-TLS with the
#   user's certificate; the gateway asks for the EAP identity itself (eap-identity) and relays
#   the identity response and every EAP-TLS message to adgate (`auth = eap-radius`) — adgate is
#   the EAP-TLS server; or (`login-eap`) EAP-MSCHAPv2 with a username and password, relayed the
#   same way, as Windows' built-in IKEv2 client does. The gateway authenticates the client's IKE AUTH payload with the MSK it
#   takes from the MS-MPPE keys of the Access-Accept (RFC 7296 §2.16): an Access-Accept without
#   them brings no tunnel up.
# The kernel here has no ESP, so the road warrior asks for an IKE SA only (RFC 6023
# childless): "tunnel up" means the IKE SA was established after adgate's Access-Accept;
# "refused" means the gateway answered EAP-Failure or AUTHENTICATION_FAILED.
#
# Topology, all inside namespaces we create: the gateway's charon runs in the lab namespace
# (where adgate listens on 127.0.0.1, so adgate sees the RADIUS client 127.0.0.1); the road
# warrior runs in namespace "$ADGATE_LAB_NETNS-rw", joined to the lab namespace by a veth pair
# (10.99.0.1 and 10.99.0.3 gateway, 10.99.0.2 road warrior). Nothing has a route anywhere else. Each charon
# gets its own strongswan.conf, VICI socket, log and a private /run (charon's pid file path is
# compiled in as /var/run/charon.pid). Nothing in /etc is read or changed except
# /etc/netns/NETNS-rw (hosts/resolv.conf on loopback for the road warrior's namespace).
#
# Usage: deploy/gateway.sh up|down|status|sas|login USER PASSWORD_FILE|login-cert CERT_FILE KEY_FILE
#        |login-eap USER PASSWORD_FILE|connect USER PASSWORD_FILE|connect-cert CERT_FILE KEY_FILE
#   up       create or repair the namespace, certificates and both charons (idempotent);
#            restarts the gateway if its RADIUS settings changed
#   down     stop both charons, delete the road warrior's namespace and the state dir
#   status   exit 0 only if both charons answer on their VICI sockets
#   login    log USER in from the road warrior; prints "USER: tunnel up" (exit 0) or
#            "USER: refused" (exit 1); exit 2 if the gateway gave no verdict (timeout, error)
#   login-cert  log in with a user certificate (PEM) and its key (EAP-TLS); the EAP identity is
#            the certificate's UPN, else its subject DN (which strongSwan sends as binary DER);
#            prints "IDENTITY: tunnel up" or "IDENTITY: refused", exit codes as for login
#   login-eap  log USER in with EAP-MSCHAPv2 relayed to adgate (the certificate entry point's
#            eap-radius), as Windows' IKEv2 client does; output and exit codes as for login
#   A login that says "tunnel up" leaves no session behind: the IKE SA is closed right after.
#   connect, connect-cert  as login and login-cert, but the tunnel stays up (a live session, for
#            the gateway's RADIUS Dynamic Authorization (RFC 5176 Disconnect) to end)
#   sas      the EAP identities of the IKE SAs established on the gateway, one a line
#
# The gateway takes RFC 5176 Disconnect-Requests (strongSwan's eap-radius "dae") on
# 127.0.0.1:$ADGATE_GATEWAY_DAE_PORT in the lab namespace; it matches them on User-Name only.
#
# Environment: ADGATE_LAB_DIR, ADGATE_LAB_NETNS (the lab, as for deploy/lab.sh);
# ADGATE_GATEWAY_DIR (state, default $ADGATE_LAB_DIR/gateway); ADGATE_GATEWAY_RADIUS_PORT
# (adgate's port on 127.0.0.1, default 1812); ADGATE_GATEWAY_ACCT_PORT (its accounting port,
# default 1813); ADGATE_GATEWAY_SECRET_FILE (RADIUS secret, default
# the lab's); ADGATE_GATEWAY_NAS_ID (NAS-Identifier, default strongswan-gw);
# ADGATE_GATEWAY_TIMEOUT (seconds a login may take, default 30); ADGATE_GATEWAY_DAE_PORT (where
# the gateway takes Disconnect-Requests, default 3799) and ADGATE_GATEWAY_DAE_SECRET_FILE (their
# secret, default the RADIUS secret); ADGATE_GATEWAY_EAP_START (yes:
# the gateway opens each RADIUS EAP conversation with EAP-Start, RFC 3579 §2.1, instead of the
# client's identity; default no, strongSwan's default); for login-cert,
# ADGATE_GATEWAY_EAP_CA_FILE (the CA the road warrior trusts for adgate's EAP-TLS server
# certificate, default $ADGATE_LAB_DIR/pki/ca.pem from deploy/lab-certs.sh) and
# ADGATE_GATEWAY_EAP_SERVER_NAME (the name it expects in that certificate, default
# radius.corp.example.test). The RADIUS secret, user passwords and private keys go into 0600
# files under the state dir and are never printed.
set -euo pipefail

export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C

readonly NETNS=${ADGATE_LAB_NETNS:-adgate-lab}
readonly RW_NETNS="$NETNS-rw"
readonly RW_NETNS_ETC="/etc/netns/$RW_NETNS"
readonly GW_IF=vpn-gw RW_IF=vpn-rw
readonly GW_ADDR=10.99.0.1 GW_CERT_ADDR=10.99.0.3 RW_ADDR=10.99.0.2 NET_PREFIX=24
readonly GW_ID=vpn.corp.example.test
readonly CHARON=/usr/lib/ipsec/charon
readonly PROPOSALS=aes256-sha256-modp3072
readonly COMMON_PLUGINS="random nonce drbg aes sha1 sha2 md5 hmac kdf gmp pem pkcs1 pkcs8 x509
  pubkey constraints kernel-netlink socket-default vici eap-identity eap-gtc"
readonly SWANCTL_PLUGINS="pem pkcs1 pkcs8 x509 gmp"

LAB=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
[[ $LAB == /* ]] || LAB="$PWD/$LAB"
LAB=${LAB%/}
STATE=${ADGATE_GATEWAY_DIR:-$LAB/gateway}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
readonly STATE=${STATE%/}
readonly PKI="$STATE/pki" GW="$STATE/gw" RW="$STATE/rw" MARKER="$STATE/.adgate-gateway"
readonly RADIUS_PORT=${ADGATE_GATEWAY_RADIUS_PORT:-1812}
readonly ACCT_PORT=${ADGATE_GATEWAY_ACCT_PORT:-1813}
readonly NAS_ID=${ADGATE_GATEWAY_NAS_ID:-strongswan-gw}
readonly LOGIN_TIMEOUT=${ADGATE_GATEWAY_TIMEOUT:-30}
readonly EAP_START=${ADGATE_GATEWAY_EAP_START:-no}
readonly DAE_PORT=${ADGATE_GATEWAY_DAE_PORT:-3799}
readonly EAP_CA_FILE=${ADGATE_GATEWAY_EAP_CA_FILE:-$LAB/pki/ca.pem}
readonly EAP_SERVER_NAME=${ADGATE_GATEWAY_EAP_SERVER_NAME:-radius.corp.example.test}
readonly START_TIMEOUT=10
readonly PROGRAM=gateway GW_ADDRS=("$GW_ADDR" "$GW_CERT_ADDR")
# shellcheck source=deploy/gateway-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/gateway-common.sh"

check_settings() {
  [[ $STATE =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "ADGATE_GATEWAY_DIR may only contain letters, digits and / . _ + -: '$STATE'"
  if ! [[ $RADIUS_PORT =~ ^[0-9]+$ ]] || ((RADIUS_PORT == 0 || RADIUS_PORT > 65535)); then
    die "ADGATE_GATEWAY_RADIUS_PORT is not a port number: '$RADIUS_PORT'"
  fi
  if ! [[ $ACCT_PORT =~ ^[0-9]+$ ]] || ((ACCT_PORT == 0 || ACCT_PORT > 65535)); then
    die "ADGATE_GATEWAY_ACCT_PORT is not a port number: '$ACCT_PORT'"
  fi
  [[ $NAS_ID =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "ADGATE_GATEWAY_NAS_ID may only contain letters, digits and . _ -: '$NAS_ID'"
  if ! [[ $DAE_PORT =~ ^[0-9]+$ ]] || ((DAE_PORT == 0 || DAE_PORT > 65535)); then
    die "ADGATE_GATEWAY_DAE_PORT is not a port number: '$DAE_PORT'"
  fi
  [[ $LOGIN_TIMEOUT =~ ^[0-9]+$ ]] || die "ADGATE_GATEWAY_TIMEOUT is not a number of seconds"
  [[ $EAP_START == yes || $EAP_START == no ]] || die "ADGATE_GATEWAY_EAP_START is yes or no"
  [[ $EAP_SERVER_NAME =~ ^[A-Za-z0-9.-]+$ ]] ||
    die "ADGATE_GATEWAY_EAP_SERVER_NAME is not a DNS name: '$EAP_SERVER_NAME'"
}

check_tools() {
  local tool
  for tool in "$CHARON" swanctl openssl ip unshare flock base64; do
    command -v "$tool" >/dev/null ||
      die "$tool is missing: deploy/lab.sh up installs strongSwan (strongswan-charon, strongswan-swanctl, libcharon-extra-plugins)"
  done
  # EAP-TLS needs ECDHE, ECDSA and AES-GCM (all adgate's TLS stack offers): the openssl plugin.
  local plugin
  for plugin in eap-radius eap-tls eap-mschapv2 openssl; do
    [[ -e /usr/lib/ipsec/plugins/libstrongswan-$plugin.so ]] ||
      die "strongSwan's $plugin plugin is missing: deploy/lab.sh up installs it (libcharon-extra-plugins, libcharon-extauth-plugins, libstrongswan-standard-plugins)"
  done
}

# --- charon instances ------------------------------------------------------------------------
# strongswan.conf for one instance: only the plugins it needs (no /etc/strongswan.d), its own
# VICI socket and log. Extra settings for charon.plugins come on stdin.
write_strongswan_conf() { # DIR EXTRA_PLUGINS; returns 0 if the file changed
  local dir=$1 plugins=$2 extra
  extra=$(cat)
  write_if_changed "$dir/strongswan.conf" 0600 <<EOF
# written by deploy/gateway.sh for this charon instance only
charon {
  load_modular = no
  load = ${COMMON_PLUGINS//$'\n'/} $plugins
  install_routes = no
  install_virtual_ip = no
  retransmit_timeout = 2
  retransmit_tries = 2
  filelog {
    log {
      path = $dir/charon.log
      time_format = %F %T
      ike_name = yes
      flush_line = yes
      default = 1
    }
  }
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
$extra
  }
}
swanctl {
  load = $SWANCTL_PLUGINS
}
EOF
}

GW_RESTART=0
# A secret from FILE that strongswan.conf can hold between double quotes.
read_conf_secret() { # FILE WHAT
  local secret
  [[ -r $1 ]] || die "cannot read the $2 file $1"
  secret=$(<"$1")
  [[ -n $secret ]] || die "the $2 file $1 is empty"
  [[ $secret != *[\"\\$'\n']* ]] ||
    die "the $2 in $1 has a quote, backslash or newline; strongswan.conf cannot hold it"
  printf '%s' "$secret"
}

write_gateway_conf() { # sets GW_RESTART=1 if strongswan.conf changed (charon must restart)
  local secret_file secret dae_secret
  secret_file=${ADGATE_GATEWAY_SECRET_FILE:-$(lab_value RADIUS_SECRET_FILE)}
  secret=$(read_conf_secret "$secret_file" "RADIUS secret")
  dae_secret=$(read_conf_secret "${ADGATE_GATEWAY_DAE_SECRET_FILE:-$secret_file}" "DAE secret")
  mkdir -p "$GW/swanctl/x509" "$GW/swanctl/private" "$GW/run"
  chmod 0700 "$GW" "$GW/swanctl/private"
  cp "$PKI/gw.pem" "$GW/swanctl/x509/gw.pem"
  install -m 0600 "$PKI/gw.key" "$GW/swanctl/private/gw.key"
  write_if_changed "$GW/swanctl/swanctl.conf" 0600 <<EOF || true
# written by deploy/gateway.sh: the VPN gateway, authenticating road warriors through RADIUS
connections {
  rw {
    version = 2
    local_addrs = $GW_ADDR
    proposals = $PROPOSALS
    local {
      auth = pubkey
      certs = gw.pem
      id = $GW_ID
    }
    remote {
      auth = eap-gtc
      eap_id = %any
    }
  }
  rw-cert {
    version = 2
    local_addrs = $GW_CERT_ADDR
    proposals = $PROPOSALS
    local {
      auth = pubkey
      certs = gw.pem
      id = $GW_ID
    }
    remote {
      # Any EAP method, relayed to adgate; eap_id = %any: the gateway asks the client for its
      # EAP identity and relays the answer as the first EAP-Message (and User-Name).
      auth = eap-radius
      eap_id = %any
    }
  }
}
EOF
  if write_strongswan_conf "$GW" eap-radius; then GW_RESTART=1; fi <<EOF
    eap-gtc {
      # EAP-GTC carries the user's password; the gateway checks it with one PAP
      # Access-Request through eap-radius's XAuth backend "radius".
      backend = radius
    }
    eap-radius {
      # Accounting-Start/Stop go to adgate, which links them to the access decision by Class.
      # The gateway holds each session until Accounting-Start is answered.
      accounting = yes
      # yes: the first Access-Request of a relayed EAP conversation carries an empty EAP-Message
      # (EAP-Start) and User-Name, and adgate asks for the identity; no: it carries the
      # client's EAP-Response/Identity.
      eap_start = $EAP_START
      nas_identifier = $NAS_ID
      retransmit_timeout = 2
      retransmit_tries = 2
      # RFC 5176 Disconnect-Requests from adgate end a user's IKE SAs (matched on User-Name).
      dae {
        enable = yes
        listen = 127.0.0.1
        port = $DAE_PORT
        secret = "$dae_secret"
      }
      # eap-radius signs every Access-Request with Message-Authenticator (seen in adgate's
      # records), so adgate's default require_message_authenticator = true holds.
      servers {
        adgate {
          address = 127.0.0.1
          auth_port = $RADIUS_PORT
          acct_port = $ACCT_PORT
          secret = "$secret"
        }
      }
    }
EOF
}

write_road_warrior_conf() {
  mkdir -p "$RW/swanctl/x509ca" "$RW/swanctl/x509" "$RW/swanctl/private" "$RW/swanctl/conf.d" \
    "$RW/run"
  chmod 0700 "$RW" "$RW/swanctl/conf.d" "$RW/swanctl/private"
  cp "$PKI/ca.pem" "$RW/swanctl/x509ca/ca.pem"
  write_if_changed "$RW/swanctl/swanctl.conf" 0600 <<EOF || true
# written by deploy/gateway.sh: the road warrior; \`login\` and \`login-cert\` put the user in conf.d/login.conf
connections {
  gateway {
    version = 2
    local_addrs = $RW_ADDR
    remote_addrs = $GW_ADDR
    proposals = $PROPOSALS
    # The kernel has no ESP: ask for the IKE SA only (RFC 6023), no CHILD_SA to install.
    childless = force
    local {
      auth = eap-gtc
    }
    remote {
      auth = pubkey
      id = $GW_ID
      cacerts = ca.pem
    }
  }
  # The EAP-MSCHAPv2 login: \`login-eap\` adds the user (IKE and EAP identity) and password;
  # the gateway relays EAP-MSCHAPv2 to adgate and needs the MS-MPPE keys of its Access-Accept.
  gateway-eap {
    version = 2
    local_addrs = $RW_ADDR
    remote_addrs = $GW_CERT_ADDR
    proposals = $PROPOSALS
    childless = force
    local {
      auth = eap-mschapv2
    }
    remote {
      auth = pubkey
      id = $GW_ID
      cacerts = ca.pem
    }
  }
  # The certificate login: \`login-cert\` adds the certificate, the EAP identity and the
  # name expected in adgate's EAP-TLS server certificate (aaa_id).
  gateway-cert {
    version = 2
    local_addrs = $RW_ADDR
    remote_addrs = $GW_CERT_ADDR
    proposals = $PROPOSALS
    childless = force
    local {
      auth = eap-tls
    }
    remote {
      auth = pubkey
      id = $GW_ID
      cacerts = ca.pem
    }
  }
}
include conf.d/*.conf
EOF
  # EAP-TLS stays at strongSwan's default TLS 1.2: its 5.9 client crashes on the commitment
  # message that ends an EAP-TLS 1.3 handshake (RFC 9190 §2.5), and its TLS 1.2 has no
  # extended master secret (RFC 7627) — adgate must run with
  # tls12_require_extended_master_secret = false to serve this road warrior.
  # eap-mschapv2 takes MD4 from the openssl plugin (OpenSSL 3's legacy provider).
  write_strongswan_conf "$RW" "eap-tls eap-mschapv2 openssl" </dev/null || true
}

charon_pid() { # DIR — prints the pid of this instance's charon if it runs
  local pid exe
  [[ -r $1/run/charon.pid ]] || return 1
  pid=$(tr -dc 0-9 <"$1/run/charon.pid")
  [[ -n $pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $exe == "$CHARON" ]] || return 1
  echo "$pid"
}

swanctl_in() { # DIR ARGS... — swanctl against this instance's VICI socket and credentials
  local dir=$1
  shift
  STRONGSWAN_CONF="$dir/strongswan.conf" SWANCTL_DIR="$dir/swanctl" \
    swanctl "$@" --uri "unix://$dir/charon.vici"
}

start_charon() { # NAME NETNS DIR
  local name=$1 netns=$2 dir=$3 deadline pid
  if pid=$(charon_pid "$dir") && swanctl_in "$dir" --stats >/dev/null 2>&1; then
    return 0
  fi
  [[ -z ${pid:-} ]] || stop_charon "$name" "$dir"
  rm -f "$dir/run/charon.pid" "$dir/charon.vici"
  : >"$dir/charon.log"
  # A private /run for charon's compiled-in /var/run/charon.pid, so instances do not collide.
  # shellcheck disable=SC2016 # $1 and $@ are the inner shell's arguments
  setsid ip netns exec "$netns" unshare --mount --propagation private \
    sh -c 'mount --bind "$1" /run && shift && exec "$@"' charon-in-ns "$dir/run" \
    env STRONGSWAN_CONF="$dir/strongswan.conf" "$CHARON" \
    </dev/null >"$dir/charon.out" 2>&1 9>&- &
  deadline=$((SECONDS + START_TIMEOUT))
  until swanctl_in "$dir" --stats >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! kill -0 $! 2>/dev/null; then
      tail -n 20 "$dir/charon.out" "$dir/charon.log" >&2 2>/dev/null || true
      die "the $name's charon did not answer on $dir/charon.vici within ${START_TIMEOUT}s"
    fi
    sleep 0.1
  done
  say "charon for the $name running in namespace $netns (log $dir/charon.log)"
}

stop_charon() { # NAME DIR
  local name=$1 dir=$2 pid
  pid=$(charon_pid "$dir") || return 0
  stop_pid "$pid" "$name: charon"
  rm -f "$dir/run/charon.pid"
}

load_config() { # NAME DIR
  local out
  out=$(swanctl_in "$2" --load-all --clear --file "$2/swanctl/swanctl.conf" 2>&1) || {
    printf '%s\n' "$out" >&2
    die "swanctl could not load the $1's configuration ($2/swanctl/swanctl.conf)"
  }
}

# --- commands ---------------------------------------------------------------------------------
cmd_up() {
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  : >"$MARKER"
  ensure_network
  ensure_pki
  write_gateway_conf
  ((GW_RESTART == 0)) || stop_charon gateway "$GW"
  write_road_warrior_conf
  start_charon gateway "$NETNS" "$GW"
  start_charon "road warrior" "$RW_NETNS" "$RW"
  load_config gateway "$GW"
  forget_login
  load_config "road warrior" "$RW"
  say "up: gateway $GW_ADDR (passwords) and $GW_CERT_ADDR (certificates) ($GW_ID) in $NETNS asks RADIUS 127.0.0.1:$RADIUS_PORT (accounting :$ACCT_PORT) as $NAS_ID; road warrior $RW_ADDR in $RW_NETNS"
}

cmd_down() {
  stop_charon "road warrior" "$RW"
  stop_charon gateway "$GW"
  remove_network
  if [[ -d $STATE ]]; then
    [[ -e $MARKER ]] || die "$STATE has no $MARKER: not deleting a directory deploy/gateway.sh did not make"
    rm -rf "$STATE"
  fi
  say "down: charons stopped, namespace $RW_NETNS and $STATE removed"
}

cmd_status() {
  local ok=0 name dir
  for name in gateway road-warrior; do
    dir=$GW
    [[ $name == road-warrior ]] && dir=$RW
    if charon_pid "$dir" >/dev/null && swanctl_in "$dir" --stats >/dev/null 2>&1; then
      echo "$name: running"
    else
      echo "$name: not running"
      ok=1
    fi
  done
  return $ok
}

# A swanctl.conf string: quotes and backslashes escaped; control characters refused.
conf_string() { # VALUE WHAT
  [[ $1 != *[[:cntrl:]]* ]] || die "$2 has control characters"
  local v=${1//\\/\\\\}
  printf '"%s"' "${v//\"/\\\"}"
}

# What a login leaves in the road warrior's configuration: removed after every attempt.
readonly LOGIN_FILES=("$RW/swanctl/conf.d/login.conf" "$RW/swanctl/x509/login.pem"
  "$RW/swanctl/private/login.key" "$RW/swanctl/x509ca/adgate-eap-ca.pem")
forget_login() { rm -f "${LOGIN_FILES[@]}"; }

cmd_login() { # USER PASSWORD_FILE KEEP(yes|no) [CONNECTION: gateway (EAP-GTC) | gateway-eap]
  local user=$1 password_file=$2 keep=$3 connection=${4:-gateway} id secret
  [[ -n $user && ${#user} -le 253 ]] || die "the user name must have 1 to 253 characters" 2
  [[ -r $password_file ]] || die "cannot read the password file $password_file" 2
  cmd_status >/dev/null || die "the gateway is not up: run deploy/gateway.sh up" 2
  id=$(conf_string "$user" "the user name")
  # One trailing newline is not part of the password (as for adgate's secret files).
  secret=$(base64 -w0 < <(sed -z 's/\n$//' "$password_file"))
  # The password file copy goes away however this ends (the daemon forgets it in attempt_login).
  trap forget_login EXIT
  write_if_changed "$RW/swanctl/conf.d/login.conf" 0600 <<EOF || true
# written by deploy/gateway.sh login: the user logging in, removed after the attempt
connections {
  $connection {
    local {
      id = $id
    }
  }
}
secrets {
  eap-login {
    id = $id
    secret = 0s$secret
  }
}
EOF
  secret=""
  attempt_login "$user" "$connection" "$keep"
}

# The certificate's UPN (subjectAltName otherName 1.3.6.1.4.1.311.20.2.3), if it has one.
certificate_upn() { # CERT_FILE
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
    sed -n 's/.*othername: *UPN::\{0,1\}\([^,]*\).*/\1/p' | head -n 1
}

cmd_login_cert() { # CERT_FILE KEY_FILE KEEP(yes|no)
  local cert_file=$1 key_file=$2 keep=$3 identity eap_id=""
  [[ -r $cert_file && -r $key_file ]] || die "cannot read the certificate $cert_file or key $key_file" 2
  [[ -r $EAP_CA_FILE ]] ||
    die "cannot read $EAP_CA_FILE, the CA of adgate's EAP-TLS server certificate (deploy/lab-certs.sh makes it)" 2
  cmd_status >/dev/null || die "the gateway is not up: run deploy/gateway.sh up" 2
  identity=$(certificate_upn "$cert_file")
  if [[ -n $identity ]]; then
    eap_id="eap_id = $(conf_string "$identity" "the certificate's UPN")"
  else
    # No UPN: the EAP identity defaults to the IKE identity, the subject DN, sent as binary DER.
    identity=$(openssl x509 -in "$cert_file" -noout -subject -nameopt RFC2253 | sed 's/^subject=//') ||
      die "$cert_file is not a PEM certificate" 2
  fi
  trap forget_login EXIT
  cp "$cert_file" "$RW/swanctl/x509/login.pem"
  install -m 0600 "$key_file" "$RW/swanctl/private/login.key"
  cp "$EAP_CA_FILE" "$RW/swanctl/x509ca/adgate-eap-ca.pem"
  write_if_changed "$RW/swanctl/conf.d/login.conf" 0600 <<EOF || true
# written by deploy/gateway.sh login-cert: the certificate logging in, removed after the attempt
connections {
  gateway-cert {
    local {
      certs = login.pem
      $eap_id
      # The EAP-TLS server, adgate, must show a certificate for this name from adgate-eap-ca.pem.
      aaa_id = $EAP_SERVER_NAME
    }
  }
}
EOF
  attempt_login "$identity" gateway-cert "$keep"
}

# Initiates CONNECTION from the road warrior and reports the gateway's verdict about WHO; with
# KEEP=yes a tunnel that comes up stays up (earlier ones of CONNECTION too).
attempt_login() { # WHO CONNECTION KEEP
  local who=$1 connection=$2 keep=$3 out rc gw_log_size
  [[ $keep == yes ]] || swanctl_in "$RW" --terminate --ike "$connection" --timeout 5 >/dev/null 2>&1 || true
  load_config "road warrior" "$RW"
  gw_log_size=$(stat -c %s "$GW/charon.log" 2>/dev/null || echo 0)
  rc=0
  out=$(timeout "$((LOGIN_TIMEOUT + 5))" \
    env STRONGSWAN_CONF="$RW/strongswan.conf" SWANCTL_DIR="$RW/swanctl" \
    swanctl --initiate --ike "$connection" --timeout "$LOGIN_TIMEOUT" --uri "unix://$RW/charon.vici" \
    2>&1) || rc=$?
  # Forget the credentials and the session either way.
  forget_login
  load_config "road warrior" "$RW"
  if ((rc == 0)) && grep -q "IKE_SA $connection\[[0-9]*\] established" <<<"$out"; then
    if [[ $keep == yes ]]; then
      echo "$who: tunnel up (kept)"
      return 0
    fi
    swanctl_in "$RW" --terminate --ike "$connection" --timeout 5 >/dev/null 2>&1 || true
    echo "$who: tunnel up"
    return 0
  fi
  # The gateway says no with EAP-Failure (RADIUS Access-Reject) or AUTHENTICATION_FAILED; the
  # EAP server may first tell the road warrior why — a TLS alert in EAP-TLS (RFC 5216 §2.1.3), a
  # Failure-Request in EAP-MSCHAPv2 (E=691) — on which the road warrior gives up itself.
  if grep -Eq "received EAP_FAILURE|received AUTHENTICATION_FAILED notify|received fatal TLS alert|EAP-MS-CHAPv2 failed with error" <<<"$out"; then
    echo "$who: refused"
    # The gateway refuses when RADIUS does not answer, too: say so, it is not adgate's verdict.
    if tail -c "+$((gw_log_size + 1))" "$GW/charon.log" |
      grep -Eq "receiving RADIUS message failed|RADIUS server .* not responding|RADIUS .* timed out"; then
      printf 'gateway: %s\n' "the gateway got no answer from its RADIUS server, adgate (see $GW/charon.log)" >&2
    fi
    return 1
  fi
  printf '%s\n' "$out" | tail -n 15 >&2
  die "$who: no verdict from the gateway (swanctl exit $rc; logs $GW/charon.log, $RW/charon.log)" 2
}

# The EAP identity (else the IKE identity) of every IKE SA established on the gateway.
cmd_sas() {
  cmd_status >/dev/null || die "the gateway is not up: run deploy/gateway.sh up" 2
  swanctl_in "$GW" --list-sas --noblock 2>/dev/null |
    awk '/^[^ ].*ESTABLISHED/ { established = 1; next }
         /^[^ ]/ { established = 0 }
         established && /^  remote / {
           if (match($0, /EAP: \047[^\047]*\047/)) print substr($0, RSTART + 6, RLENGTH - 7)
           else if (match($0, /\047[^\047]*\047/)) print substr($0, RSTART + 1, RLENGTH - 2)
         }'
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | status | sas) (($# == 0)) || { usage >&2; exit 2; } ;;
    login | login-cert | login-eap | connect | connect-cert) (($# == 2)) || { usage >&2; exit 2; } ;;
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
    sas) cmd_sas ;;
    login) cmd_login "$@" no ;;
    login-cert) cmd_login_cert "$@" no ;;
    login-eap) cmd_login "$@" no gateway-eap ;;
    connect) cmd_login "$@" yes ;;
    connect-cert) cmd_login_cert "$@" yes ;;
  esac
}

main "$@"
