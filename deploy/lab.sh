#!/usr/bin/env bash
# deploy/lab.sh — adgate's lab Active Directory.
#
# Why this file exists: adgate authenticates VPN logins against Active Directory, and its
# integration tests (and developers) need a real AD to talk to — real bind error codes,
# lockout, nested groups, constructed attributes — not a mock. This script builds one: a Samba
# AD DC (realm CORP.EXAMPLE.TEST) inside the network namespace `adgate-lab`, whose only
# interface is loopback, so that nothing the DC, Kerberos or test clients do can reach the
# machine's real resolver or any other host. It issues the DC a TLS certificate from a lab CA
# (with a subjectAltName, which rustls requires), creates a least-privilege service account,
# the Telework-Allowed group and fixture users in known states, joins a domain member running
# winbindd (through which adgate checks MS-CHAPv2; see "the domain member" below), and writes a
# ready adgate config (adgate.toml) and a KEY=VALUE file (lab.env) for the tests.
#
# Usage: deploy/lab.sh up|down|status|start|stop|dc2 up|start|stop|tool ARGS...|exec CMD...
#   up       build or repair the lab and restore every fixture (idempotent; fast when up)
#   down     stop samba, delete the namespace, /etc/netns/NETNS and the lab dir
#   status   namespace / samba / LDAPS (exit 0 only if all three are good) / member winbindd
#   stop     stop only samba (data and namespace stay) — "AD went away"
#   start    start only samba and wait until LDAPS answers — "AD came back"
#   tool     samba-tool ARGS against the lab DC as Administrator, inside the namespace
#   exec     run CMD inside the namespace (LDAPTLS_CACERT and KRB5_CONFIG set for the lab)
#   member start|stop   start or stop only the domain member's winbindd (`up` joins the member
#            and starts it): "winbindd went away" / "came back" for the MS-CHAPv2 tests
#   dc2 up   join a second DC, dc2.corp.example.test on 127.0.0.2, to the lab domain and start
#            it (idempotent; needs `up` first); `dc2 stop` / `dc2 start` stop and start only it.
#            dc1 listens on 127.0.0.1 only, dc2 on 127.0.0.2 only; dc2 pulls dc1's changes
#            every 5 s (DRS replication).
#            127.0.0.3 ($UNREACHABLE_DC_IP in lab.env) is a DC address that silently drops
#            every packet: a connect to it times out, as to a powered-off DC.
#
# Environment: ADGATE_LAB_DIR (default /var/lib/adgate-lab), ADGATE_LAB_NETNS (default
# adgate-lab; several labs, each with its own dir and namespace, can run side by side),
# ADGATE_LAB_TIMEOUT (seconds to wait for LDAPS, default 60). Secrets live in files under the
# lab dir and are never printed.
set -euo pipefail

# Debian's python3 has the samba modules; a pyenv python3 earlier on PATH does not.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

readonly NETNS=${ADGATE_LAB_NETNS:-adgate-lab}
readonly REALM=CORP.EXAMPLE.TEST
readonly DNS_DOMAIN=corp.example.test
readonly NETBIOS_DOMAIN=CORP
readonly DC_HOST=dc1
readonly DC_FQDN=dc1.corp.example.test
readonly DC1_IP=127.0.0.1
readonly DC2_HOST=dc2
readonly DC2_FQDN=dc2.corp.example.test
readonly DC2_IP=127.0.0.2
readonly UNREACHABLE_DC_IP=127.0.0.3
readonly BASE_DN="DC=corp,DC=example,DC=test"
readonly USERS_DN="CN=Users,$BASE_DN"
readonly ADMIN_DN="CN=Administrator,$USERS_DN"
readonly SVC_SAM=svc-adgate
readonly SVC_DN="CN=$SVC_SAM,$USERS_DN"
readonly TELEWORK_DN="CN=Telework-Allowed,$USERS_DN"
readonly DEVELOPERS_DN="CN=Developers,$USERS_DN"
readonly VPN_ENGINEERING_DN="CN=VPN-Engineering,$USERS_DN"   # [[policy.reply]] fixture group
readonly TEAM_BACKEND_DN="CN=Team-Backend,$USERS_DN"         # member of VPN-Engineering
readonly DC1_LDAPS_URL="ldaps://$DC_FQDN:636"
readonly DC2_LDAPS_URL="ldaps://$DC2_FQDN:636"
readonly IN_CHAIN="1.2.840.113556.1.4.1941"

readonly PACKAGES=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules
  python3-samba winbind samba-common-bin krb5-user ldap-utils freeradius-utils openssl iproute2 rsyslog
  rsyslog-openssl strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libcharon-extauth-plugins libstrongswan-standard-plugins eapoltest prometheus radsecproxy
  chromium openvpn openvpn-auth-radius iputils-ping ocserv openconnect vpnc-scripts
  softether-vpnserver softether-vpncmd freeradius freeradius-ldap)

# --- fixtures: the state `up` restores on every run --------------------------------------
readonly FIXTURES=(alice bob carol dave erin frank grace heidi ivan tgroup tdisable lockme
  thours mallory1 mallory2 tovpn)         # tgroup tdisable lockme thours tovpn: for tests changing AD
readonly TELEWORK_USERS=(alice bob carol dave erin heidi ivan tgroup tdisable lockme thours
  mallory1 mallory2 tovpn)                # direct members; Developers is a member too
readonly DEVELOPERS_USERS=(grace)         # so grace is a member only through nesting
readonly TEAM_BACKEND_USERS=(heidi)       # so heidi is in VPN-Engineering two levels down
readonly IN_CHAIN_EXPECTED=(alice bob carol dave erin grace heidi ivan tgroup tdisable lockme
  thours mallory1 mallory2 tovpn)                # frank is the only fixture outside the group
readonly NEVER_EXPIRES=9223372036854775807
readonly PAST_EXPIRY=132223104000000000   # 2020-01-01T00:00:00Z as FILETIME
readonly UF_ACCOUNTDISABLE=2 UF_NORMAL_ACCOUNT=512 UF_DONT_EXPIRE_PASSWD=65536
readonly UF_LOCKOUT=16 UF_PASSWORD_EXPIRED=8388608  # bits of msDS-User-Account-Control-Computed
readonly LOCKOUT_THRESHOLD=10
readonly LOCKOUT_MINUTES=30

fixture_uac() { case $1 in bob) echo $((UF_NORMAL_ACCOUNT | UF_ACCOUNTDISABLE)) ;; *) echo $UF_NORMAL_ACCOUNT ;; esac; }
fixture_expires() { case $1 in carol) echo $PAST_EXPIRY ;; *) echo $NEVER_EXPIRES ;; esac; }
fixture_upn() { case $1 in heidi) echo "heidi.jones@$DNS_DOMAIN" ;; *) echo "$1@$DNS_DOMAIN" ;; esac; }
fixture_mail() { case $1 in alice) echo "alice@$DNS_DOMAIN" ;; mallory1 | mallory2) echo "shared@$DNS_DOMAIN" ;; esac; }
fixture_dialin() { case $1 in ivan) echo FALSE ;; esac; }
user_dn() { echo "CN=$1,$USERS_DN"; }

# --- paths -----------------------------------------------------------------------------
LAB=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
[[ $LAB == /* ]] || LAB="$PWD/$LAB"
LAB=${LAB%/}
TLS_DIR="$LAB/tls"
# The DC that the samba, TLS and LDAPS functions act on: dc1 unless `select_dc dc2` said so.
select_dc() { # dc1|dc2
  case $1 in
    dc1) DC_NAME=DC1 DC_IP=$DC1_IP LDAPS_URL=$DC1_LDAPS_URL DC_DIR="$LAB/dc" \
      PIDFILE="$LAB/samba.pid" SAMBA_LOG="$LAB/samba.log" CERT="$TLS_DIR/dc" CERT_FQDN=$DC_FQDN ;;
    dc2) DC_NAME=DC2 DC_IP=$DC2_IP LDAPS_URL=$DC2_LDAPS_URL DC_DIR="$LAB/dc2" \
      PIDFILE="$LAB/dc2-samba.pid" SAMBA_LOG="$LAB/dc2-samba.log" CERT="$TLS_DIR/dc2" \
      CERT_FQDN=$DC2_FQDN ;;
  esac
  SMBCONF="$DC_DIR/etc/smb.conf"    # DC_DIR is samba's targetdir: etc/ private/ state/ ...
}
select_dc dc1
CA_FILE="$LAB/ad-ca.pem"
ADMIN_PW_FILE="$LAB/admin.password"
FIXTURE_PW_FILE="$LAB/fixture.password"
SVC_PW_FILE="$LAB/ldap.secret"
RADIUS_SECRET_FILE="$LAB/vpn1.secret"
MARKER="$LAB/.adgate-lab"
NETNS_ETC="/etc/netns/$NETNS"
LDAPS_TIMEOUT=${ADGATE_LAB_TIMEOUT:-60}

# --- output ----------------------------------------------------------------------------
# Microseconds since the epoch: ${EPOCHREALTIME/./} (LC_ALL=C keeps the dot).
readonly T0=${EPOCHREALTIME/./}
fmt_secs() { printf '%d.%02d' $(($1 / 1000000)) $((($1 % 1000000) / 10000)); }
since() { fmt_secs $((${EPOCHREALTIME/./} - $1)); }
say() { printf 'lab: [%6ss] %s\n' "$(since "$T0")" "$*"; }
warn() { printf 'lab: WARNING: %s\n' "$*" >&2; }
die() { printf 'lab: ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command with its output captured; show the output only if it fails.
quietly() { # WHAT CMD...
  local what=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | tail -n 25 >&2
    die "$what failed (command: $1)"
  fi
}

require_root() { [[ $(id -u) == 0 ]] || die "must run as root (network namespaces, apt, samba)"; }

check_lab_path() {
  # The path goes into TOML, lab.env and samba's unix socket paths (at most 107 bytes).
  [[ $LAB =~ ^[A-Za-z0-9/._+-]+$ ]] ||
    die "ADGATE_LAB_DIR may only contain letters, digits and / . _ + -: '$LAB'"
  ((${#LAB} <= 64)) || die "ADGATE_LAB_DIR is too long for samba's socket paths (max 64 chars): '$LAB'"
  case $LAB in / | /etc | /var | /var/lib | /usr | /root | /home | /tmp | /run)
    die "refusing to use '$LAB' as the lab dir (set ADGATE_LAB_DIR to a dedicated directory)" ;;
  esac
}

# One `deploy/lab.sh` at a time: two concurrent `up`s would race on samba and the fixtures.
take_lock() {
  mkdir -p /run/lock
  local lock="/run/lock/$NETNS.lock"
  exec 9>"$lock" || die "cannot open $lock"
  flock -w 300 9 || die "another deploy/lab.sh is still running (lock $lock)"
}

# --- packages --------------------------------------------------------------------------
missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || echo "$p"
  done
}

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_BACKUP=""
POLICY_RC_OURS=0
restore_policy_rc() {
  ((POLICY_RC_OURS)) || return 0
  if [[ -n $POLICY_RC_BACKUP ]]; then mv -f "$POLICY_RC_BACKUP" "$POLICY_RC"; else rm -f "$POLICY_RC"; fi
  POLICY_RC_OURS=0
}

ensure_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]})) || { say "packages present"; return 0; }
  say "installing ${missing[*]} (daemons kept from starting by a temporary policy-rc.d)"
  if [[ -e $POLICY_RC ]]; then
    POLICY_RC_BACKUP=$(mktemp /usr/sbin/.policy-rc.d.lab-backup.XXXXXX)
    cp -p "$POLICY_RC" "$POLICY_RC_BACKUP"
  fi
  POLICY_RC_OURS=1
  trap restore_policy_rc EXIT
  printf '#!/bin/sh\n# written by deploy/lab.sh while it installs packages\nexit 101\n' >"$POLICY_RC"
  chmod 0755 "$POLICY_RC"
  local t=${EPOCHREALTIME/./} log
  log=$(mktemp /tmp/adgate-lab-apt.XXXXXX)
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    </dev/null >"$log" 2>&1; then
    restore_policy_rc
    tail -n 25 "$log" >&2
    die "apt-get could not install: ${missing[*]} (full log: $log)"
  fi
  restore_policy_rc
  rm -f "$log"
  # The VPN servers' packages enable system-wide services (ocserv's socket listens on 443), and
  # FreeRADIUS is only compared with (deploy/bench-compare.sh runs its own instance): the lab
  # runs its own instances in its namespaces and wants none of the system services.
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now ocserv.socket ocserv.service openvpn.service \
      softether-vpnserver.service freeradius.service >/dev/null 2>&1 || true
  fi
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || die "packages still missing after apt-get install: ${missing[*]}"
  say "packages installed in $(since "$t")s"
}

# --- network namespace -----------------------------------------------------------------
netns_exists() { [[ -e /run/netns/$NETNS ]] && ip netns exec "$NETNS" true 2>/dev/null; }

write_if_changed() { # PATH MODE (content on stdin); returns 0 if the file changed
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    return 1
  fi
  mv -f "$tmp" "$path"
}

ensure_netns() {
  local host
  host=$(hostname 2>/dev/null || uname -n)
  mkdir -p "$NETNS_ETC"
  # ip netns exec bind-mounts these over /etc/resolv.conf and /etc/hosts inside the namespace.
  # The resolver is dc1's own DNS server (samba's, on 127.0.0.1:53), which serves the domain's
  # zones: the DC locator's SRV records (_ldap._tcp.dc._msdcs.$DNS_DOMAIN) that adgate's
  # `directory.domain` finds the DCs by, as a member server would.
  write_if_changed "$NETNS_ETC/resolv.conf" 0644 <<<"nameserver $DC1_IP" || true
  write_if_changed "$NETNS_ETC/hosts" 0644 <<EOF || true
# written by deploy/lab.sh: inside the lab namespace every name is on loopback
127.0.0.1	localhost
$DC1_IP	$DC_FQDN $DC_HOST
$DC2_IP	$DC2_FQDN $DC2_HOST
127.0.0.1	$host
::1	localhost ip6-localhost ip6-loopback
EOF
  if ! netns_exists; then
    ip netns delete "$NETNS" 2>/dev/null || true
    ip netns add "$NETNS" || die "cannot create network namespace $NETNS"
  fi
  ip -n "$NETNS" link set lo up || die "cannot bring up lo in namespace $NETNS"
  # dc2's own address: samba binds only to addresses an interface has.
  ip -n "$NETNS" addr replace "$DC2_IP/8" dev lo || die "cannot add $DC2_IP to lo in $NETNS"
  ensure_unreachable_dc
  say "namespace $NETNS ready (loopback only)"
}

# $UNREACHABLE_DC_IP is routed into a veth pair whose far end drops everything (a MAC nobody
# has): SYNs vanish, as when a DC is powered off or firewalled. Nothing leaves the namespace.
ensure_unreachable_dc() {
  if ! ip -n "$NETNS" link show adgate-dead0 >/dev/null 2>&1; then
    ip -n "$NETNS" link add adgate-dead0 type veth peer name adgate-dead1 ||
      die "cannot create the veth pair for the unreachable DC address"
  fi
  if ! { ip -n "$NETNS" link set adgate-dead0 up && ip -n "$NETNS" link set adgate-dead1 up &&
    ip -n "$NETNS" route replace "$UNREACHABLE_DC_IP/32" dev adgate-dead0 table local &&
    ip -n "$NETNS" neigh replace "$UNREACHABLE_DC_IP" lladdr 02:00:00:00:00:03 dev adgate-dead0 \
      nud permanent; }; then
    die "cannot route $UNREACHABLE_DC_IP into the void"
  fi
}

# Inside the namespace, with the lab's CA and Kerberos config for whatever runs there.
in_ns() {
  ip netns exec "$NETNS" env LDAPTLS_CACERT="$CA_FILE" KRB5_CONFIG="$LAB/dc/private/krb5.conf" "$@"
}

# --- secrets ---------------------------------------------------------------------------
random_alnum() { # LEN
  local out=""
  while ((${#out} < $1)); do out+=$(head -c 1024 /dev/urandom | tr -dc 'A-Za-z0-9'); done
  printf '%s' "${out:0:$1}"
}

# Meets AD complexity (upper, lower, digit) and contains no account name of the lab.
complex_password() { # LEN
  local pw lower name ok
  while :; do
    pw=$(random_alnum "$1")
    [[ $pw =~ [A-Z] && $pw =~ [a-z] && $pw =~ [0-9] ]] || continue
    lower=${pw,,} ok=1
    for name in "${FIXTURES[@]}" "$SVC_SAM" administrator adgate; do
      [[ $lower != *"$name"* ]] || ok=0
    done
    ((ok)) && break
  done
  printf '%s' "$pw"
}

ensure_secret() { # FILE LEN KIND(complex|alnum)
  local file=$1 len=$2 kind=$3
  if [[ ! -s $file ]]; then
    if [[ $kind == complex ]]; then complex_password "$len"; else random_alnum "$len"; fi |
      write_if_changed "$file" 0600 || true
  fi
  chmod 0600 "$file"
}

ensure_lab_dir() {
  if [[ -d $LAB && ! -e $MARKER && -n $(ls -A "$LAB") ]]; then
    die "$LAB exists, is not empty and was not made by deploy/lab.sh (no $MARKER); set ADGATE_LAB_DIR"
  fi
  mkdir -p "$LAB" "$LAB/audit"
  chmod 0755 "$LAB"
  chmod 0700 "$LAB/audit"
  : >"$MARKER"
  ensure_secret "$ADMIN_PW_FILE" 24 complex
  ensure_secret "$FIXTURE_PW_FILE" 20 complex
  ensure_secret "$SVC_PW_FILE" 32 complex
  ensure_secret "$RADIUS_SECRET_FILE" 32 alnum
}

# --- TLS: a lab CA issues the DC a certificate whose SAN names dc1.corp.example.test ---------
dc_cert_ok() {
  [[ -s $CERT.key && -s $CERT.pem ]] || return 1
  openssl verify -CAfile "$TLS_DIR/ca.pem" "$CERT.pem" >/dev/null 2>&1 || return 1
  openssl x509 -in "$CERT.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 || return 1
  openssl x509 -in "$CERT.pem" -noout -ext subjectAltName 2>/dev/null |
    grep -q "DNS:$CERT_FQDN" || return 1
  [[ $(openssl x509 -in "$CERT.pem" -noout -pubkey) == \
    "$(openssl pkey -in "$CERT.key" -pubout 2>/dev/null)" ]]
}

make_ca() {
  quietly "creating the lab CA key" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$TLS_DIR/ca.key"
  chmod 0600 "$TLS_DIR/ca.key"
  quietly "creating the lab CA certificate" openssl req -x509 -new -sha256 -days 3650 \
    -key "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" -subj "/O=adgate lab/CN=adgate lab CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
}

make_dc_cert() {
  quietly "creating the DC key" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$CERT.key"
  chmod 0600 "$CERT.key"  # samba refuses a key file readable by others
  quietly "creating the DC certificate request" openssl req -new -sha256 -key "$CERT.key" \
    -out "$CERT.csr" -subj "/O=adgate lab/CN=$CERT_FQDN"
  cat >"$CERT.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:$CERT_FQDN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  quietly "issuing the DC certificate" openssl x509 -req -sha256 -days 825 -in "$CERT.csr" \
    -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial -CAserial "$TLS_DIR/ca.srl" \
    -extfile "$CERT.ext" -out "$CERT.pem"
  rm -f "$CERT.csr"
}

TLS_CHANGED=0
ensure_tls() {
  mkdir -p "$TLS_DIR"
  chmod 0700 "$TLS_DIR"
  if [[ ! -s $TLS_DIR/ca.key || ! -s $TLS_DIR/ca.pem ]] ||
    ! openssl x509 -in "$TLS_DIR/ca.pem" -noout -checkend $((60 * 86400)) >/dev/null 2>&1; then
    make_ca
    rm -f "$TLS_DIR/dc.pem"
    TLS_CHANGED=1
  fi
  if ! dc_cert_ok; then
    make_dc_cert
    dc_cert_ok || die "the DC certificate just issued does not verify against the lab CA"
    TLS_CHANGED=1
  fi
  [[ $DC_NAME == DC1 ]] || return 0
  write_if_changed "$CA_FILE" 0644 <"$TLS_DIR/ca.pem" || true
  say "TLS: lab CA $CA_FILE, DC certificate with SAN DNS:$DC_FQDN"
}

# --- samba's compiled-in directories, private to each samba role ------------------------
# libwbclient clients (ntlm_auth, wbinfo, the DC's own smbd) always look for winbindd in the
# compiled-in /run/samba/winbindd and /var/lib/samba/winbindd_privileged (`winbindd socket
# directory` moves only the server's socket), and samba-dcerpcd logs to /var/log/samba whatever
# `log file` says. Several labs (and the member beside its DC) would share those directories, and
# a client would reach whichever winbindd bound the socket last. So each role — a DC, the domain
# member, every ntlm_auth asking the member — runs in a mount namespace of its own with its own
# directories (under DIR/samba-dirs) bind-mounted there.
# Prefix of a command: OWN_SAMBA_DIRS DIR CMD... runs CMD with DIR/samba-dirs/{run,log,
# winbindd_privileged} mounted on those three.
readonly OWN_SAMBA_DIRS_SCRIPT='
  mount --bind "$0/samba-dirs/run" /run/samba &&
    mount --bind "$0/samba-dirs/log" /var/log/samba &&
    mount --bind "$0/samba-dirs/winbindd_privileged" /var/lib/samba/winbindd_privileged ||
    exit 125
  exec "$@"'
readonly OWN_SAMBA_DIRS=(unshare --mount --propagation private -- sh -c "$OWN_SAMBA_DIRS_SCRIPT")

ensure_samba_dirs() { # DIR
  mkdir -p /run/samba /var/log/samba /var/lib/samba/winbindd_privileged \
    "$1/samba-dirs/run" "$1/samba-dirs/log" "$1/samba-dirs/winbindd_privileged"
  # winbindd checks the modes of its socket directories when it starts.
  chmod 0755 "$1/samba-dirs/run"
  chmod 0750 "$1/samba-dirs/winbindd_privileged"
  chgrp winbindd_priv "$1/samba-dirs/winbindd_privileged" 2>/dev/null || true
}

# --- samba configuration and provisioning ----------------------------------------------
# Every path samba uses lives under the lab dir, except the winbindd socket directory:
# moving it breaks the DC's own SMB session setup (clients look in /run/samba/winbindd).
render_smbconf() {
  cat <<EOF
# written by deploy/lab.sh — rewritten by every \`up\`; edit the script, not this file
[global]
	netbios name = $DC_NAME
	workgroup = $NETBIOS_DOMAIN
	realm = $REALM
	server role = active directory domain controller
	idmap_ldb:use rfc2307 = yes
	interfaces = $DC_IP
	bind interfaces only = yes
	dns forwarder =
	server services = -dnsupdate -nbt -wrepl
	dreplsrv:periodic_interval = 5
	private dir = $DC_DIR/private
	lock directory = $DC_DIR
	state directory = $DC_DIR/state
	cache directory = $DC_DIR/cache
	binddns dir = $DC_DIR/bind-dns
	pid directory = $DC_DIR/run
	ncalrpc dir = $DC_DIR/run/ncalrpc
	ntp signd socket directory = $DC_DIR/run/ntp_signd
	log file = $DC_DIR/log/samba.log
	tls enabled = yes
	tls keyfile = $CERT.key
	tls certfile = $CERT.pem
	tls cafile = $TLS_DIR/ca.pem
	# MS-CHAPv2 through the member's winbindd (NETLOGON); the default ntlmv2-only refuses it.
	ntlm auth = mschapv2-and-ntlmv2-only

[sysvol]
	path = $DC_DIR/state/sysvol
	read only = no

[netlogon]
	path = $DC_DIR/state/sysvol/$DNS_DOMAIN/scripts
	read only = no
EOF
}

provisioned() { [[ -e $DC_DIR/.provisioned && -s $DC_DIR/private/sam.ldb ]]; }

# What provision and join are told so that a DC keeps its files under DIR and listens on IP
# only (several DCs side by side); sets the array TARGET_OPTIONS.
target_options() { # DIR IP
  TARGET_OPTIONS=(--option="interfaces=$2" --option="bind interfaces only=yes"
    --option="pid directory=$1/run" --option="ncalrpc dir=$1/run/ncalrpc"
    --option="ntp signd socket directory=$1/run/ntp_signd"
    --option="log file=$1/log/samba.log" --option="server services=-dnsupdate -nbt -wrepl")
}

ensure_provisioned() {
  if provisioned; then
    [[ -s $ADMIN_PW_FILE ]] || die "$ADMIN_PW_FILE is missing for a provisioned DC: run 'deploy/lab.sh down' then 'up'"
    return 0
  fi
  local t=${EPOCHREALTIME/./}
  rm -rf "$DC_DIR"
  mkdir -p "$DC_DIR/etc" "$DC_DIR/run" "$DC_DIR/log"
  # An empty config file keeps provision from copying settings out of /etc/samba/smb.conf.
  : >"$SMBCONF"
  say "provisioning $REALM (domain $NETBIOS_DOMAIN, host $DC_HOST) in $DC_DIR"
  target_options "$DC_DIR" "$DC1_IP"
  if ! in_ns samba-tool domain provision --configfile="$SMBCONF" --targetdir="$DC_DIR" \
    --realm="$REALM" --domain="$NETBIOS_DOMAIN" --server-role=dc --dns-backend=SAMBA_INTERNAL \
    --use-rfc2307 --host-name="$DC_HOST" --host-ip=127.0.0.1 \
    --adminpass="$(<"$ADMIN_PW_FILE")" "${TARGET_OPTIONS[@]}" \
    </dev/null >"$LAB/provision.log" 2>&1; then
    tail -n 25 "$LAB/provision.log" >&2
    die "samba-tool domain provision failed (log: $LAB/provision.log)"
  fi
  : >"$DC_DIR/.provisioned"
  say "provisioned in $(since "$t")s"
}

SMBCONF_CHANGED=0
ensure_smbconf() {
  if render_smbconf | write_if_changed "$SMBCONF" 0644; then SMBCONF_CHANGED=1; fi
}

# --- the samba process -----------------------------------------------------------------
netns_inode() { stat -L -c %i "/run/netns/$NETNS" 2>/dev/null; }

# Prints the pid of the lab's samba if it runs: /usr/sbin/samba, in the lab namespace.
samba_pid() {
  local f pid exe ns
  ns=$(netns_inode) || return 1
  for f in "$PIDFILE" "$DC_DIR/run/samba.pid"; do
    [[ -r $f ]] || continue
    pid=$(tr -dc 0-9 <"$f")
    [[ -n $pid ]] || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    [[ $exe == /usr/sbin/samba* ]] || continue
    [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$ns" ]] || continue
    echo "$pid"
    return 0
  done
  return 1
}

# Anonymous rootDSE read over LDAPS, the certificate checked against the lab CA and name.
ldaps_answers() {
  in_ns timeout 5 ldapsearch -x -H "$LDAPS_URL" -o nettimeout=2 -LLL -b "" -s base \
    dnsHostName </dev/null >/dev/null 2>&1
}

port_in_use() { # PORT — is anything listening on it at the DC's address in the namespace?
  in_ns bash -c "exec 3<>/dev/tcp/$DC_IP/$1" 2>/dev/null
}

show_samba_logs() {
  [[ -s $SAMBA_LOG ]] && { echo "--- tail of $SAMBA_LOG" && tail -n 15 "$SAMBA_LOG"; } >&2
  [[ -s $DC_DIR/log/samba.log ]] && { echo "--- tail of $DC_DIR/log/samba.log" && tail -n 15 "$DC_DIR/log/samba.log"; } >&2
  return 0
}

wait_ldaps() {
  local t=${EPOCHREALTIME/./} deadline=$((${EPOCHREALTIME/./} + LDAPS_TIMEOUT * 1000000))
  until ldaps_answers; do
    if ! samba_pid >/dev/null; then
      show_samba_logs
      die "samba exited before LDAPS answered on $LDAPS_URL"
    fi
    if ((${EPOCHREALTIME/./} > deadline)); then
      show_samba_logs
      die "LDAPS on $LDAPS_URL did not answer within ${LDAPS_TIMEOUT}s (samba pid $(samba_pid))"
    fi
    sleep 0.1
  done
  LDAPS_WAIT=$(since "$t")
}

start_samba() {
  local pid
  if pid=$(samba_pid); then
    ldaps_answers || wait_ldaps
    say "samba already running (pid $pid), LDAPS answering"
    return 0
  fi
  provisioned || die "the lab DC is not provisioned in $LAB: run 'deploy/lab.sh up'"
  netns_exists || die "namespace $NETNS is missing: run 'deploy/lab.sh up'"
  if port_in_use 636 || port_in_use 389; then
    die "something else already listens on port 389/636 in namespace $NETNS (a samba of another lab dir?)"
  fi
  ensure_samba_dirs "$DC_DIR"
  printf '\n=== %s samba start\n' "$(date -Is)" >>"$SAMBA_LOG"
  # A new session (setsid) so samba outlives this script and can be stopped as a group; every
  # inherited descriptor is closed so nothing (our lock, a CI log pipe) is held open by it.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec ip netns exec "$NETNS" env KRB5_CONFIG="$DC_DIR/private/krb5.conf" \
      "${OWN_SAMBA_DIRS[@]}" "$DC_DIR" setsid /usr/sbin/samba -s "$SMBCONF" --foreground --no-process-group
  ) </dev/null >>"$SAMBA_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local i
  for i in $(seq 50); do samba_pid >/dev/null && break; sleep 0.02; done
  wait_ldaps
  say "samba started (pid $(samba_pid)), LDAPS answered after ${LDAPS_WAIT}s"
}

group_alive() { # PGID — any non-zombie process left in the group?
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop_samba() {
  local pid pgid t=${EPOCHREALTIME/./} i
  if ! pid=$(samba_pid); then
    rm -f "$PIDFILE"
    say "samba is not running"
    return 0
  fi
  pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
  if [[ $pgid == "$pid" ]]; then kill -TERM -- "-$pid" 2>/dev/null || true; else kill -TERM "$pid"; fi
  for i in $(seq 150); do group_alive "$pid" || break; sleep 0.1; done
  if group_alive "$pid"; then
    warn "samba (pid $pid) ignored SIGTERM for 15s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 50); do group_alive "$pid" || break; sleep 0.1; done
    group_alive "$pid" && die "samba (pid $pid) survived SIGKILL"
  fi
  rm -f "$PIDFILE"
  say "samba stopped (was pid $pid) in $(since "$t")s"
}

restart_samba_if_running() { # REASON
  if samba_pid >/dev/null; then
    say "restarting samba: $1"
    stop_samba
  fi
}

# --- LDAP and samba-tool as the lab's accounts ------------------------------------------
# Passwords go to the LDAP tools as files (-y) and to samba-tool in the environment, so they
# appear neither in output nor in the process list.
admin_modify() { # LDIF on stdin
  in_ns ldapmodify -x -H "$LDAPS_URL" -o nettimeout=5 -D "$ADMIN_DN" -y "$ADMIN_PW_FILE" >/dev/null
}
admin_search() { # BASE SCOPE FILTER ATTRS...
  local base=$1 scope=$2 filter=$3
  shift 3
  in_ns ldapsearch -x -LLL -o ldif-wrap=no -o nettimeout=5 -H "$LDAPS_URL" \
    -D "$ADMIN_DN" -y "$ADMIN_PW_FILE" -b "$base" -s "$scope" "$filter" "$@" </dev/null
}
svc_search() { # BASE SCOPE FILTER ATTRS...
  local base=$1 scope=$2 filter=$3
  shift 3
  in_ns ldapsearch -x -LLL -o ldif-wrap=no -o nettimeout=5 -H "$LDAPS_URL" \
    -D "$SVC_DN" -y "$SVC_PW_FILE" -b "$base" -s "$scope" "$filter" "$@" </dev/null
}

# samba-tool takes -H for most commands; dns/drs/domain info address a server positionally.
samba_tool() {
  local h=(-H ldap://127.0.0.1)
  case "${1:-} ${2:-}" in dns\ * | drs\ * | "domain info") h=() ;; esac
  in_ns env PASSWD="$(<"$ADMIN_PW_FILE")" samba-tool "$@" --configfile="$SMBCONF" \
    "${h[@]}" -U Administrator
}

# unicodePwd is the quoted password in UTF-16LE, base64 in LDIF.
unicode_pwd() { printf '"%s"' "$(<"$1")" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }

# --- directory content -----------------------------------------------------------------
ensure_dns_record() { # HOST IP
  local records
  records=$(samba_tool dns query 127.0.0.1 "$DNS_DOMAIN" "$1" A </dev/null 2>&1) || true
  [[ $records == *"A: $2 "* ]] && return 0
  quietly "adding the A record $1.$DNS_DOMAIN -> $2" \
    samba_tool dns add 127.0.0.1 "$DNS_DOMAIN" "$1" A "$2"
  say "DNS: added A record $1.$DNS_DOMAIN -> $2"
}

ldif_value() { # ATTR (LDIF on stdin) — first value of ATTR
  awk -v a="$1" 'tolower($0) ~ "^" tolower(a) ": " { sub(/^[^:]*: /, ""); print; exit }'
}

# The fixture has no fine-grained password policy: one a test left behind (check-ad's) goes.
remove_password_settings_objects() {
  local name
  admin_search "CN=Password Settings Container,CN=System,$BASE_DN" one \
    "(objectClass=msDS-PasswordSettings)" cn | awk '/^cn: / { print $2 }' |
    while read -r name; do
      quietly "deleting the fine-grained password policy $name" \
        samba_tool domain passwordsettings pso delete "$name" </dev/null
      say "fine-grained password policy $name deleted"
    done
}

# Telework policy: length 12, complexity, lockout 10 tries / 30 min / reset after 30 min;
# no maximum password age, so a lab made today still works next month.
ensure_password_policy() {
  local cur want
  local duration=$((-LOCKOUT_MINUTES * 60 * 10000000))   # FILETIME intervals are negative
  want="minPwdLength=12 pwdProperties=1 lockoutThreshold=$LOCKOUT_THRESHOLD lockoutDuration=$duration lockOutObservationWindow=$duration maxPwdAge=-9223372036854775808"
  policy_now() {
    local ldif a out=""
    ldif=$(admin_search "$BASE_DN" base "(objectClass=*)" minPwdLength pwdProperties \
      lockoutThreshold lockoutDuration lockOutObservationWindow maxPwdAge)
    for a in minPwdLength pwdProperties lockoutThreshold lockoutDuration lockOutObservationWindow maxPwdAge; do
      out+="${out:+ }$a=$(ldif_value "$a" <<<"$ldif")"
    done
    echo "$out"
  }
  remove_password_settings_objects
  cur=$(policy_now)
  [[ $cur == "$want" ]] && return 0
  quietly "setting the domain password policy" samba_tool domain passwordsettings set \
    --complexity=on --min-pwd-length=12 --account-lockout-threshold=$LOCKOUT_THRESHOLD \
    --account-lockout-duration=$LOCKOUT_MINUTES --reset-account-lockout-after=$LOCKOUT_MINUTES --max-pwd-age=0
  cur=$(policy_now)
  [[ $cur == "$want" ]] || die "password policy is '$cur' after setting it, expected '$want'"
  say "password policy set (min 12, complexity, lockout 10/30 min, no max age)"
}

# Creates the groups, the service account and the fixture users that do not exist yet.
ensure_objects() {
  local existing name ldif="" pw
  existing=$(admin_search "$USERS_DN" one "(|(objectClass=user)(objectClass=group))" \
    sAMAccountName | ldif_all sAMAccountName) || die "listing $USERS_DN as Administrator failed"
  has() { grep -qx "$1" <<<"$existing"; }
  for name in Telework-Allowed Developers VPN-Engineering Team-Backend; do
    has "$name" || ldif+="dn: CN=$name,$USERS_DN
changetype: add
objectClass: group
sAMAccountName: $name
description: adgate lab fixture group

"
  done
  if ! has "$SVC_SAM"; then
    ldif+="dn: $SVC_DN
changetype: add
objectClass: user
sAMAccountName: $SVC_SAM
userPrincipalName: $SVC_SAM@$DNS_DOMAIN
description: adgate LDAP service account (least privilege: an ordinary user)
unicodePwd:: $(unicode_pwd "$SVC_PW_FILE")
userAccountControl: $((UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD))

"
  fi
  pw=$(unicode_pwd "$FIXTURE_PW_FILE")
  for name in "${FIXTURES[@]}"; do
    has "$name" || ldif+="dn: $(user_dn "$name")
changetype: add
objectClass: user
sAMAccountName: $name
userPrincipalName: $(fixture_upn "$name")
unicodePwd:: $pw
userAccountControl: $(fixture_uac "$name")

"
  done
  [[ -n $ldif ]] || return 0
  printf '%s' "$ldif" | admin_modify || die "creating the lab's users and groups failed"
  say "created missing users and groups"
}
ldif_all() { # ATTR (LDIF on stdin) — every value of ATTR
  awk -v a="$1" 'tolower($0) ~ "^" tolower(a) ": " { sub(/^[^:]*: /, ""); print }'
}

# One LDIF that puts every account and group back into its fixture state.
restore_ldif() {
  local pw name mail dialin
  pw=$(unicode_pwd "$FIXTURE_PW_FILE")
  printf 'dn: %s\nchangetype: modify\nreplace: member\n' "$TELEWORK_DN"
  for name in "${TELEWORK_USERS[@]}"; do printf 'member: %s\n' "$(user_dn "$name")"; done
  printf 'member: %s\n-\n\n' "$DEVELOPERS_DN"
  printf 'dn: %s\nchangetype: modify\nreplace: member\n' "$DEVELOPERS_DN"
  for name in "${DEVELOPERS_USERS[@]}"; do printf 'member: %s\n' "$(user_dn "$name")"; done
  printf -- '-\n\n'
  printf 'dn: %s\nchangetype: modify\nreplace: member\nmember: %s\n-\n\n' \
    "$VPN_ENGINEERING_DN" "$TEAM_BACKEND_DN"
  printf 'dn: %s\nchangetype: modify\nreplace: member\n' "$TEAM_BACKEND_DN"
  for name in "${TEAM_BACKEND_USERS[@]}"; do printf 'member: %s\n' "$(user_dn "$name")"; done
  printf -- '-\n\n'
  printf 'dn: %s\nchangetype: modify\n' "$SVC_DN"
  printf 'replace: unicodePwd\nunicodePwd:: %s\n-\n' "$(unicode_pwd "$SVC_PW_FILE")"
  printf 'replace: userAccountControl\nuserAccountControl: %s\n-\n' $((UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD))
  printf 'replace: accountExpires\naccountExpires: %s\n-\n' $NEVER_EXPIRES
  printf 'replace: lockoutTime\nlockoutTime: 0\n-\n\n'
  for name in "${FIXTURES[@]}"; do
    mail=$(fixture_mail "$name")
    dialin=$(fixture_dialin "$name")
    printf 'dn: %s\nchangetype: modify\n' "$(user_dn "$name")"
    printf 'replace: unicodePwd\nunicodePwd:: %s\n-\n' "$pw"
    # Writing userAccountControl unlocks an account (as on Windows), so dave's is left to lock_dave.
    [[ $name == dave ]] ||
      printf 'replace: userAccountControl\nuserAccountControl: %s\n-\n' "$(fixture_uac "$name")"
    printf 'replace: accountExpires\naccountExpires: %s\n-\n' "$(fixture_expires "$name")"
    printf 'replace: userPrincipalName\nuserPrincipalName: %s\n-\n' "$(fixture_upn "$name")"
    printf 'replace: mail\n%s-\n' "${mail:+mail: $mail$'\n'}"
    printf 'replace: msNPAllowDialin\n%s-\n' "${dialin:+msNPAllowDialin: $dialin$'\n'}"
    printf 'replace: logonHours\n-\n'   # no restriction (tests set it on thours)
    # Unlocking also clears badPwdCount. dave stays locked if he is; lock_dave (re)locks him.
    [[ $name == dave ]] || printf 'replace: lockoutTime\nlockoutTime: 0\n-\n'
    [[ $name == erin ]] && printf 'replace: pwdLastSet\npwdLastSet: 0\n-\n'
    printf '\n'
  done
}

restore_fixtures() {
  restore_ldif | admin_modify || die "restoring the fixture users and groups failed"
  say "fixtures restored (passwords, flags, expiry, UPNs, mail, dial-in, membership)"
}

computed_uac() { # SAM
  admin_search "$(user_dn "$1")" base "(objectClass=*)" msDS-User-Account-Control-Computed |
    ldif_value msDS-User-Account-Control-Computed
}

# dave is locked out the way an attacker would do it: failed simple binds over LDAPS. A lockout
# lasts LOCKOUT_MINUTES; one that ends within the next 20 minutes (a whole test run) is renewed.
lock_dave() {
  local c i wrong uac locked_at renew_before
  uac=$(admin_search "$(user_dn dave)" base "(objectClass=*)" userAccountControl |
    ldif_value userAccountControl)
  locked_at=$(admin_search "$(user_dn dave)" base "(objectClass=*)" lockoutTime |
    ldif_value lockoutTime)
  # FILETIME: 100 ns since 1601-01-01.
  renew_before=$(( ($(date +%s) + 11644473600 - (LOCKOUT_MINUTES - 20) * 60) * 10000000 ))
  c=$(computed_uac dave)
  if ((c & UF_LOCKOUT)) && [[ $uac == "$(fixture_uac dave)" ]] &&
    (( ${locked_at:-0} > renew_before )); then return 0; fi
  printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: %s\n-\nreplace: lockoutTime\nlockoutTime: 0\n-\n' \
    "$(user_dn dave)" "$(fixture_uac dave)" | admin_modify || die "resetting dave's account flags failed"
  wrong="wrong-$(random_alnum 12)"
  for i in $(seq $((LOCKOUT_THRESHOLD + 2))); do
    in_ns ldapsearch -x -H "$LDAPS_URL" -o nettimeout=5 -D "$(user_dn dave)" -w "$wrong" \
      -b "" -s base </dev/null >/dev/null 2>&1 && die "a bind as dave with a wrong password succeeded"
    if ((i >= LOCKOUT_THRESHOLD)); then
      c=$(computed_uac dave)
      ((c & UF_LOCKOUT)) && break
    fi
  done
  ((c & UF_LOCKOUT)) || die "dave is not locked out after $i failed binds (computed UAC $c)"
  say "dave locked out by $i failed LDAPS binds"
}

# --- verification, as adgate will see the directory -------------------------------------
# Turns LDIF entries into "sam<TAB>attr<TAB>value" lines.
ldif_table() {
  awk 'BEGIN { FS = ": "; OFS = "\t" }
    /^$/ { for (i = 1; i <= n; i++) print sam, k[i], v[i]; n = 0; sam = ""; next }
    /^[A-Za-z]/ { key = $0; sub(/:.*/, "", key); val = $0; sub(/^[^:]*::? ?/, "", val)
      if (key == "sAMAccountName") sam = val; n++; k[n] = key; v[n] = val }
    END { for (i = 1; i <= n; i++) print sam, k[i], v[i] }'
}

verify_lab() {
  local table problems=() name uac comp exp upn mail dial pls got want attr bindout
  local attrs=(sAMAccountName userAccountControl msDS-User-Account-Control-Computed accountExpires
    pwdLastSet msNPAllowDialin objectGUID objectSid userPrincipalName memberOf mail logonHours)
  local filter
  filter="(|$(printf '(sAMAccountName=%s)' "${FIXTURES[@]}"))"
  table=$(svc_search "$USERS_DN" one "$filter" "${attrs[@]}" | ldif_table) ||
    die "svc-adgate cannot search $USERS_DN over LDAPS"
  val() { awk -F'\t' -v s="$1" -v a="$2" '$1 == s && $2 == a { print $3; exit }' <<<"$table"; }

  # svc-adgate must be able to read everything adgate needs.
  for attr in userAccountControl msDS-User-Account-Control-Computed accountExpires pwdLastSet \
    objectGUID objectSid userPrincipalName memberOf; do
    [[ -n $(val alice "$attr") ]] || problems+=("svc-adgate cannot read $attr of alice")
  done
  [[ -n $(val ivan msNPAllowDialin) ]] || problems+=("svc-adgate cannot read msNPAllowDialin of ivan")

  for name in "${FIXTURES[@]}"; do
    uac=$(val "$name" userAccountControl) comp=$(val "$name" msDS-User-Account-Control-Computed)
    exp=$(val "$name" accountExpires) upn=$(val "$name" userPrincipalName)
    mail=$(val "$name" mail) dial=$(val "$name" msNPAllowDialin) pls=$(val "$name" pwdLastSet)
    [[ -n $uac ]] || { problems+=("$name: not found by svc-adgate"); continue; }
    [[ $uac == "$(fixture_uac "$name")" ]] || problems+=("$name: userAccountControl $uac")
    [[ $exp == "$(fixture_expires "$name")" ]] || problems+=("$name: accountExpires $exp")
    [[ $upn == "$(fixture_upn "$name")" ]] || problems+=("$name: userPrincipalName $upn")
    [[ $mail == "$(fixture_mail "$name")" ]] || problems+=("$name: mail '$mail'")
    [[ $dial == "$(fixture_dialin "$name")" ]] || problems+=("$name: msNPAllowDialin '$dial'")
    [[ -z $(val "$name" logonHours) ]] || problems+=("$name: logonHours set")
    if [[ $name == dave ]]; then ((comp & UF_LOCKOUT)) || problems+=("dave: not locked out ($comp)")
    else ((comp & UF_LOCKOUT)) && problems+=("$name: locked out ($comp)"); fi
    if [[ $name == erin ]]; then
      [[ $pls == 0 ]] && ((comp & UF_PASSWORD_EXPIRED)) || problems+=("erin: pwdLastSet $pls, computed $comp")
    else
      [[ $pls != 0 ]] && ! ((comp & UF_PASSWORD_EXPIRED)) || problems+=("$name: must change password")
    fi
  done

  # Nested membership, evaluated by svc-adgate with the in-chain matching rule.
  got=$(svc_search "$USERS_DN" one "(&(objectClass=user)(memberOf:$IN_CHAIN:=$TELEWORK_DN))" \
    sAMAccountName | ldif_all sAMAccountName | sort | tr '\n' ' ')
  want=$(printf '%s\n' "${IN_CHAIN_EXPECTED[@]}" | sort | tr '\n' ' ')
  [[ $got == "$want" ]] || problems+=("in-chain members of Telework-Allowed: '$got', expected '$want'")
  [[ -z $(val grace memberOf) || $(val grace memberOf) == "$DEVELOPERS_DN" ]] ||
    problems+=("grace: direct memberOf $(val grace memberOf)")
  got=$(svc_search "$USERS_DN" one "(&(objectClass=user)(memberOf:$IN_CHAIN:=$VPN_ENGINEERING_DN))" \
    sAMAccountName | ldif_all sAMAccountName | sort | tr '\n' ' ')
  want=$(printf '%s\n' "${TEAM_BACKEND_USERS[@]}" | sort | tr '\n' ' ')
  [[ $got == "$want" ]] || problems+=("in-chain members of VPN-Engineering: '$got', expected '$want'")

  # The service account: enabled, password never expires, in no group but Domain Users.
  got=$(svc_search "$SVC_DN" base "(objectClass=*)" userAccountControl memberOf primaryGroupID)
  [[ -z $(ldif_all memberOf <<<"$got") ]] || problems+=("svc-adgate is a member of: $(ldif_all memberOf <<<"$got" | tr '\n' ';')")
  [[ $(ldif_value primaryGroupID <<<"$got") == 513 ]] || problems+=("svc-adgate primary group is not Domain Users")
  [[ $(ldif_value userAccountControl <<<"$got") == $((UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD)) ]] ||
    problems+=("svc-adgate userAccountControl $(ldif_value userAccountControl <<<"$got")")

  # The fixture password works, and AD reports each account state with its bind code.
  for pair in alice:ok heidi.jones@$DNS_DOMAIN:ok bob:533 carol:701 dave:775 erin:773; do
    name=${pair%%:*} want=${pair#*:}
    local dn=$name
    [[ $name == *@* ]] || dn=$(user_dn "$name")
    if bindout=$(in_ns ldapsearch -x -H "$LDAPS_URL" -o nettimeout=5 -D "$dn" -y "$FIXTURE_PW_FILE" \
      -b "" -s base dnsHostName </dev/null 2>&1 >/dev/null); then got=ok
    else got=$(grep -o 'data [0-9a-f]*' <<<"$bindout" | head -n1); got=${got#data }; got=${got:-error}; fi
    [[ $got == "$want" ]] || problems+=("bind as $name with the fixture password: '$got', expected '$want'")
  done

  # What adgate finds when the config leaves it to AD: the NetBIOS domain name (the domain's
  # crossRef, readable by svc-adgate) and the DCs in DNS (the DC locator's SRV record).
  got=$(svc_search "CN=Partitions,CN=Configuration,$BASE_DN" one \
    "(&(objectClass=crossRef)(nCName=$BASE_DN))" nETBIOSName | ldif_value nETBIOSName)
  [[ $got == "$NETBIOS_DOMAIN" ]] || problems+=("svc-adgate reads the domain's nETBIOSName as '$got'")
  samba_tool dns query "$DC1_IP" "_msdcs.$DNS_DOMAIN" _ldap._tcp.dc SRV </dev/null 2>&1 |
    grep -q "SRV: $DC_FQDN\. " || problems+=("no SRV record _ldap._tcp.dc._msdcs.$DNS_DOMAIN for $DC_FQDN")

  if ((${#problems[@]})); then
    printf 'lab:   %s\n' "${problems[@]}" >&2
    die "the lab is not in its fixture state (${#problems[@]} problems above)"
  fi
  say "verified as svc-adgate: attributes readable, states, in-chain membership, bind codes, NetBIOS name; SRV record in DNS"
}

# --- files for adgate and the tests ------------------------------------------------------
write_configs() {
  write_if_changed "$LAB/adgate.toml" 0644 <<EOF || true
[server]
auth_listen = ["127.0.0.1:1812"]
acct_listen = ["127.0.0.1:1813"]

[[clients]]
name = "vpn1"
address = "127.0.0.0/8"
secret_file = "$RADIUS_SECRET_FILE"
require_message_authenticator = true

# The lab gateway (deploy/gateway.sh) takes Disconnect-Requests here: live sessions are cut.
[clients.disconnect]
address = "127.0.0.1:3799"

[directory]
urls = ["$LDAPS_URL"]
ca_file = "$CA_FILE"
bind_dn = "$SVC_DN"
bind_password_file = "$SVC_PW_FILE"
base_dn = "$BASE_DN"
netbios_domain = "$NETBIOS_DOMAIN"
timeout_ms = 3000

[policy]
telework_group = "$TELEWORK_DN"

# heidi is in VPN-Engineering through Team-Backend: her accepts carry these attributes.
[[policy.reply]]
group = "$VPN_ENGINEERING_DN"
filter_id = "vpn-engineering"
class_suffix = "eng"
session_timeout = 28800
framed_pool = "eng-pool"

[audit]
dir = "$LAB/audit"

# MS-CHAPv2 through the lab's domain member: ntlm_auth in the member's mount namespace.
[mschapv2]
smb_conf = "$MEMBER_SMBCONF"
ntlm_auth = ["$NTLM_AUTH"]
EOF
  write_if_changed "$LAB/lab.env" 0644 <<EOF || true
NETNS=$NETNS
LAB_DIR=$LAB
LDAP_URL=$LDAPS_URL
CA_FILE=$CA_FILE
BIND_DN=$SVC_DN
BIND_PASSWORD_FILE=$SVC_PW_FILE
BASE_DN=$BASE_DN
TELEWORK_GROUP=$TELEWORK_DN
REPLY_GROUP=$VPN_ENGINEERING_DN
FIXTURE_PASSWORD_FILE=$FIXTURE_PW_FILE
RADIUS_SECRET_FILE=$RADIUS_SECRET_FILE
REALM=$REALM
DNS_DOMAIN=$DNS_DOMAIN
NETBIOS_DOMAIN=$NETBIOS_DOMAIN
ADMIN_PASSWORD_FILE=$ADMIN_PW_FILE
ADGATE_CONFIG=$LAB/adgate.toml
DC_FQDN=$DC_FQDN
DC2_LDAP_URL=$DC2_LDAPS_URL
UNREACHABLE_DC_IP=$UNREACHABLE_DC_IP
NTLM_AUTH=$NTLM_AUTH
MEMBER_SMB_CONF=$MEMBER_SMBCONF
EOF
}

# --- the second DC: joined to the domain, replicating with dc1 --------------------------
dc2_joined() { [[ -e $LAB/dc2/.provisioned && -s $LAB/dc2/private/sam.ldb ]]; }

ensure_dc2_joined() {
  dc2_joined && return 0
  local t=${EPOCHREALTIME/./} dir="$LAB/dc2"
  select_dc dc2
  stop_samba
  select_dc dc1
  # A join that failed half-way, or a dc2 whose files were deleted, leaves dc2's account and
  # NTDS objects in the domain, and a new join would fail on them.
  samba_tool domain demote --remove-other-dead-server=DC2 </dev/null >/dev/null 2>&1 || true
  rm -rf "$dir"
  mkdir -p "$dir/etc" "$dir/run" "$dir/log"
  : >"$dir/etc/smb.conf"
  say "joining $DC2_FQDN to $REALM as a second DC in $dir"
  target_options "$dir" "$DC2_IP"
  if ! in_ns env PASSWD="$(<"$ADMIN_PW_FILE")" samba-tool domain join "$DNS_DOMAIN" DC \
    --configfile="$dir/etc/smb.conf" --targetdir="$dir" --server="$DC_FQDN" -U Administrator \
    --dns-backend=SAMBA_INTERNAL --option="netbios name=DC2" "${TARGET_OPTIONS[@]}" \
    </dev/null >"$LAB/dc2-join.log" 2>&1; then
    tail -n 25 "$LAB/dc2-join.log" >&2
    die "samba-tool domain join failed (log: $LAB/dc2-join.log)"
  fi
  : >"$dir/.provisioned"
  say "joined in $(since "$t")s"
}

# Replication between the lab's DCs. Kerberos for DRS needs each DC's replication SPN
# (E3514235-…/<NTDS GUID>/<domain>), which samba_spnupdate adds — run by the dnsupdate service
# that the lab turns off, so run here. dc2's KDC learns dc1's SPNs by a first pull run by
# samba-tool on dc2's database (~1 s); after that dc2's own replication service pulls from dc1
# (every 5 s: change notification from dc1 does not reach dc2 here).
ensure_replication() {
  local t=${EPOCHREALTIME/./} dir
  for dir in "$LAB/dc" "$LAB/dc2"; do
    quietly "adding the replication SPNs of $dir" in_ns samba_spnupdate --configfile="$dir/etc/smb.conf"
  done
  quietly "replicating $BASE_DN from dc1 to dc2" in_ns env PASSWD="$(<"$ADMIN_PW_FILE")" \
    samba-tool drs replicate "$DC2_FQDN" "$DC_FQDN" "$BASE_DN" --local -U Administrator \
    --configfile="$LAB/dc2/etc/smb.conf"
  say "dc2 has dc1's changes and pulls new ones every 5 s (set up in $(since "$t")s)"
}

cmd_dc2() {
  local action=${1:-}
  provisioned || die "no lab DC in $LAB: run 'deploy/lab.sh up' first"
  case $action in
    up)
      ensure_netns
      start_samba
      select_dc dc2
      ensure_tls
      select_dc dc1
      ensure_dc2_joined
      select_dc dc2
      ensure_smbconf
      if ((TLS_CHANGED || SMBCONF_CHANGED)); then restart_samba_if_running "configuration changed"; fi
      start_samba
      select_dc dc1
      ensure_dns_record "$DC2_HOST" "$DC2_IP"
      ensure_replication
      say "dc2 up: $DC2_LDAPS_URL (certificate with SAN DNS:$DC2_FQDN)"
      ;;
    start)
      dc2_joined || die "dc2 is not joined: run 'deploy/lab.sh dc2 up' first"
      netns_exists || ensure_netns
      select_dc dc2
      start_samba
      ;;
    stop) select_dc dc2; stop_samba ;;
    *) die "usage: deploy/lab.sh dc2 up|start|stop" ;;
  esac
}

# --- the domain member: winbindd, through which adgate checks MS-CHAPv2 ------------------
# adgate cannot check an MS-CHAPv2 NT-Response over LDAP; a DC checks it over NETLOGON for a
# domain member. The member here is the adgate host's stand-in: an smb.conf for `security = ads`,
# joined with `net ads join`, and only winbindd running (no smbd/nmbd), in the lab namespace and
# in a mount namespace of its own (OWN_SAMBA_DIRS). adgate reaches it through $NTLM_AUTH, a
# wrapper that runs /usr/bin/ntlm_auth in such a mount namespace with the member's directories,
# named by `mschapv2.ntlm_auth` in the lab's adgate.toml.
MEMBER_DIR="$LAB/member"
MEMBER_SMBCONF="$MEMBER_DIR/etc/smb.conf"
MEMBER_PIDFILE="$MEMBER_DIR/winbindd.pid"
MEMBER_LOG="$MEMBER_DIR/winbindd.out"
NTLM_AUTH="$LAB/ntlm_auth"
readonly MEMBER_NETBIOS=ADGATE1 MEMBER_TIMEOUT=30

render_member_smbconf() {
  cat <<EOF
# written by deploy/lab.sh — rewritten by every \`up\`; edit the script, not this file
# adgate's domain member: winbindd only, for MS-CHAPv2 (docs/mschapv2.md)
[global]
	netbios name = $MEMBER_NETBIOS
	workgroup = $NETBIOS_DOMAIN
	realm = $REALM
	security = ads
	server role = member server
	idmap config * : backend = tdb
	idmap config * : range = 3000-7999
	idmap config $NETBIOS_DOMAIN : backend = rid
	idmap config $NETBIOS_DOMAIN : range = 10000-999999
	winbind offline logon = no
	disable netbios = yes
	interfaces = 127.0.0.1
	bind interfaces only = yes
	private dir = $MEMBER_DIR/private
	lock directory = $MEMBER_DIR/lock
	state directory = $MEMBER_DIR/state
	cache directory = $MEMBER_DIR/cache
	pid directory = $MEMBER_DIR/pid
	ncalrpc dir = $MEMBER_DIR/ncalrpc
	log file = $MEMBER_DIR/log/%m.log
EOF
}

# CMD... in the lab namespace and the member's mount namespace, with the lab's Kerberos config.
in_member() {
  in_ns "${OWN_SAMBA_DIRS[@]}" "$MEMBER_DIR" "$@"
}

member_pid() {
  local pid ns
  ns=$(netns_inode) || return 1
  [[ -r $MEMBER_PIDFILE ]] || return 1
  pid=$(tr -dc 0-9 <"$MEMBER_PIDFILE")
  [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/sbin/winbindd* ]] || return 1
  [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$ns" ]] || return 1
  echo "$pid"
}

member_joined() {
  [[ -s $MEMBER_DIR/private/secrets.tdb ]] &&
    in_member net ads testjoin --configfile="$MEMBER_SMBCONF" </dev/null >/dev/null 2>&1
}

ensure_member_joined() {
  local t=${EPOCHREALTIME/./}
  mkdir -p "$MEMBER_DIR"/{etc,private,lock,state,cache,pid,ncalrpc,log}
  chmod 0700 "$MEMBER_DIR/private"
  ensure_samba_dirs "$MEMBER_DIR"
  if render_member_smbconf | write_if_changed "$MEMBER_SMBCONF" 0644; then
    stop_member
  fi
  member_joined && return 0
  stop_member
  # A machine account left by an earlier join (a lab dir deleted by hand) is simply reused.
  if ! in_member env PASSWD="$(<"$ADMIN_PW_FILE")" net ads join --configfile="$MEMBER_SMBCONF" \
    -U Administrator --no-dns-updates </dev/null >"$MEMBER_DIR/join.log" 2>&1; then
    tail -n 25 "$MEMBER_DIR/join.log" >&2
    die "net ads join of $MEMBER_NETBIOS failed (log: $MEMBER_DIR/join.log)"
  fi
  say "member $MEMBER_NETBIOS joined to $REALM in $(since "$t")s"
}

# The trust (wbinfo -t: the machine password works) and the DC's NETLOGON (wbinfo -P).
member_answers() {
  in_member timeout 5 wbinfo -t </dev/null >/dev/null 2>&1 &&
    in_member timeout 5 wbinfo -P </dev/null >/dev/null 2>&1
}

start_member() {
  local pid t=${EPOCHREALTIME/./} deadline
  if pid=$(member_pid); then
    member_answers || die "the member's winbindd (pid $pid) runs but does not answer"
    say "member winbindd already running (pid $pid), trust and NETLOGON ok"
    return 0
  fi
  printf '\n=== %s winbindd start\n' "$(date -Is)" >>"$MEMBER_LOG"
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec ip netns exec "$NETNS" env KRB5_CONFIG="$LAB/dc/private/krb5.conf" \
      "${OWN_SAMBA_DIRS[@]}" "$MEMBER_DIR" setsid /usr/sbin/winbindd -s "$MEMBER_SMBCONF" \
      --foreground --no-process-group
  ) </dev/null >>"$MEMBER_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$MEMBER_PIDFILE"
  deadline=$((${EPOCHREALTIME/./} + MEMBER_TIMEOUT * 1000000))
  until member_answers; do
    # The launcher becomes winbindd by exec (same pid); only its end is a failure.
    if [[ $(ps -o stat= -p "$pid" 2>/dev/null) != [^Z]* ]]; then
      tail -n 15 "$MEMBER_LOG" >&2
      die "winbindd exited at start (log: $MEMBER_LOG)"
    fi
    ((${EPOCHREALTIME/./} < deadline)) || die "the member's winbindd did not answer within ${MEMBER_TIMEOUT}s"
    sleep 0.1
  done
  say "member winbindd started (pid $(member_pid)), trust and NETLOGON ok after $(since "$t")s"
}

# Processes of the lab namespace started with the member's smb.conf: winbindd and its children,
# and the samba-dcerpcd (with its rpcd_* workers) that winbindd starts on demand in a session of
# its own.
member_processes() {
  local pid
  netns_exists || return 0
  for pid in $(ip netns pids "$NETNS" 2>/dev/null); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$MEMBER_SMBCONF" && echo "$pid"
  done
  return 0
}

stop_member() {
  local pid pids i
  pid=$(member_pid) || pid=""
  pids=$(member_processes | tr '\n' ' ')
  if [[ -z $pid && -z ${pids// /} ]]; then rm -f "$MEMBER_PIDFILE"; return 0; fi
  [[ -z $pid ]] || kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  [[ -z ${pids// /} ]] || kill -TERM $pids 2>/dev/null || true
  for i in $(seq 100); do [[ -z $(member_processes) ]] && break; sleep 0.05; done
  pids=$(member_processes | tr '\n' ' ')
  # shellcheck disable=SC2086
  [[ -z ${pids// /} ]] || kill -KILL $pids 2>/dev/null || true
  rm -f "$MEMBER_PIDFILE"
  say "member winbindd stopped${pid:+ (was pid $pid)}"
}

write_ntlm_auth_wrapper() {
  write_if_changed "$NTLM_AUTH" 0755 <<EOF || true
#!/bin/sh
# written by deploy/lab.sh: /usr/bin/ntlm_auth asking the lab member's winbindd, whose sockets
# are in the member's own /run/samba and winbindd_privileged (see "the domain member" there).
exec unshare --mount --propagation private -- sh -c '$OWN_SAMBA_DIRS_SCRIPT' \\
  "$MEMBER_DIR" /usr/bin/ntlm_auth "\$@"
EOF
}

ensure_member() {
  ensure_member_joined
  start_member
  write_ntlm_auth_wrapper
}

cmd_member() {
  [[ -s $MEMBER_DIR/private/secrets.tdb ]] || die "no lab member in $LAB: run 'deploy/lab.sh up' first"
  case ${1:-} in
    start) netns_exists || ensure_netns; start_member ;;
    stop) stop_member ;;
    *) die "usage: deploy/lab.sh member start|stop" ;;
  esac
}

# --- commands --------------------------------------------------------------------------
cmd_up() {
  ensure_packages
  ensure_netns
  if ! samba_pid >/dev/null && port_in_use 636; then
    die "port 636 in namespace $NETNS is taken by something that is not this lab's samba ($LAB): 'deploy/lab.sh down' with that lab's ADGATE_LAB_DIR first"
  fi
  ensure_lab_dir
  ensure_tls
  ensure_provisioned
  ensure_smbconf
  if ((TLS_CHANGED)); then restart_samba_if_running "new TLS certificate"
  elif ((SMBCONF_CHANGED)); then restart_samba_if_running "smb.conf changed"; fi
  start_samba
  ensure_dns_record "$DC_HOST" "$DC1_IP"
  ensure_password_policy
  ensure_objects
  restore_fixtures
  lock_dave
  verify_lab
  ensure_member
  write_configs
  say "lab up: config $LAB/adgate.toml, env $LAB/lab.env (total $(since "$T0")s)"
}

cmd_down() {
  local pids
  stop_member
  select_dc dc2
  stop_samba
  select_dc dc1
  stop_samba
  if netns_exists; then
    # Anything else still in the lab namespace (adgate or a test left running) goes too.
    pids=$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')
    if [[ -n ${pids// /} ]]; then
      warn "stopping processes left in namespace $NETNS: $pids"
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      sleep 1
      pids=$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')
      # shellcheck disable=SC2086
      [[ -z ${pids// /} ]] || kill -KILL $pids 2>/dev/null || true
    fi
  fi
  if [[ -e /run/netns/$NETNS ]]; then
    ip netns delete "$NETNS" || die "cannot delete namespace $NETNS"
  fi
  rm -rf "$NETNS_ETC"
  if [[ -d $LAB ]]; then
    [[ -e $MARKER ]] || die "$LAB has no $MARKER: not deleting a directory deploy/lab.sh did not make"
    rm -rf "$LAB"
  fi
  say "lab down: samba stopped, namespace $NETNS, $NETNS_ETC and $LAB removed"
}

cmd_status() {
  local ok=1 pid
  if netns_exists; then echo "namespace $NETNS: present"; else echo "namespace $NETNS: missing"; ok=0; fi
  if pid=$(samba_pid); then echo "samba: running (pid $pid)"; else echo "samba: not running"; ok=0; fi
  if [[ -s $CA_FILE ]] && netns_exists && ldaps_answers; then
    echo "LDAPS $LDAPS_URL: answering (certificate verified with $CA_FILE)"
  else
    echo "LDAPS $LDAPS_URL: not answering"
    ok=0
  fi
  if pid=$(member_pid); then echo "member winbindd: running (pid $pid)"; else echo "member winbindd: not running"; fi
  echo "lab dir: $LAB$([[ -e $MARKER ]] || echo ' (absent)')"
  ((ok))
}

cmd_start() {
  provisioned || die "no lab DC in $LAB: run 'deploy/lab.sh up' first"
  netns_exists || ensure_netns
  start_samba
}

cmd_tool() {
  provisioned || die "no lab DC in $LAB: run 'deploy/lab.sh up' first"
  netns_exists || die "namespace $NETNS is missing: run 'deploy/lab.sh up'"
  (($#)) || die "usage: deploy/lab.sh tool SAMBA-TOOL-ARGS..."
  samba_tool "$@"
}

cmd_exec() {
  netns_exists || die "namespace $NETNS is missing: run 'deploy/lab.sh up'"
  (($#)) || die "usage: deploy/lab.sh exec CMD [ARGS...]"
  in_ns "$@"
}

usage() {
  sed -n 's/^# \{0,1\}//; /^Usage:/,/^Environment/p' "${BASH_SOURCE[0]}" | sed '$d'
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | status | start | stop | dc2 | member | tool | exec) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  require_root
  check_lab_path
  case $cmd in
    up) take_lock; cmd_up ;;
    down) take_lock; cmd_down ;;
    start) take_lock; cmd_start ;;
    stop) take_lock; stop_samba ;;
    dc2) take_lock; cmd_dc2 "$@" ;;
    member) take_lock; cmd_member "$@" ;;
    status) cmd_status ;;
    tool) cmd_tool "$@" ;;
    exec) cmd_exec "$@" ;;
  esac
}

main "$@"
