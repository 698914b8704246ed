#!/usr/bin/env bash
# deploy/test-package.sh — the Debian package as an admin gets it, tested on a machine without
# systemd (CI): build it with cargo-deb, install it with apt, check what the postinst set up,
# point /etc/adgate/adgate.toml at the lab AD, run the installed unit's own ExecStartPre and
# ExecStart command lines by hand as the unit's User with the unit's capabilities (setpriv)
# inside the lab namespace, log alice in (accept) and frank in (reject, telework_off) with
# radclient, stop adgate with SIGTERM (exit 0 expected), then purge the package and check that
# the audit trail and the adgate user stay while the package's own files go.
#
# Installs and purges the package `adgate` on this machine: it refuses to run if adgate is
# already installed. Environment: ADGATE_LAB_DIR / ADGATE_LAB_NETNS as for deploy/lab.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# CI starts from a fresh machine: installing cargo-deb without its default features (it still
# writes xz-compressed packages) took 80 s on the idle 2-core dev machine, the release build of
# adgate that `cargo deb` makes 4 min 8 s.
readonly CARGO_DEB_VERSION=3.8.0
readonly UNIT=/usr/lib/systemd/system/adgate.service
readonly CONFIG=/etc/adgate/adgate.toml
readonly STATE=/var/lib/adgate
# What this script puts into /etc/adgate besides the package's config (the admin's part).
readonly ADMIN_FILES=(vpn1.secret ldap.secret ad-ca.pem)

lab=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
say() { printf 'test-package: %s\n' "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }
lab_env() { sed -n "s/^$1=//p" "$lab/lab.env"; }
# The value of `Key=` in the installed unit (the last one, as systemd reads single-value keys).
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

if dpkg-query -W -f='${Status}' adgate 2>/dev/null | grep -q 'ok installed'; then
  die "adgate is already installed here; this test installs and purges it"
fi

deploy/lab.sh up >/dev/null
netns=$(lab_env NETNS)
in_lab() { ip netns exec "$netns" "$@"; }
command -v curl >/dev/null || apt-get install -y -q curl >/dev/null

# --- build ---------------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
if [[ $(cargo deb --version 2>/dev/null) != "cargo-deb $CARGO_DEB_VERSION" ]]; then
  say "installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --locked --no-default-features --version "$CARGO_DEB_VERSION"
fi
say "building the package"
rm -f target/debian/adgate_*.deb
cargo deb --locked
deb=$(ls target/debian/adgate_*.deb)

# --- install -------------------------------------------------------------------------------
server=
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill "$server"
    timeout 10 tail --pid="$server" -f /dev/null || kill -KILL "$server"
  fi
  if dpkg-query -W -f='${Status}' adgate 2>/dev/null | grep -q installed; then
    apt-get purge -y -q adgate >/dev/null || true
  fi
  for file in "${ADMIN_FILES[@]}"; do rm -f "/etc/adgate/$file"; done
  rmdir /etc/adgate 2>/dev/null || true
}
trap cleanup EXIT
say "installing $deb"
apt-get install -y -q "./$deb" >/dev/null

getent passwd adgate >/dev/null || die "no user adgate"
[[ $(unit_value User) == adgate && $(unit_value Group) == adgate ]] || die "the unit does not run as adgate"
for path in /usr/bin/adgate "$UNIT" "$CONFIG" /usr/share/doc/adgate/README.md; do
  [[ -f $path ]] || die "$path not installed"
done
for path in /etc/adgate:750 "$CONFIG:640"; do
  [[ $(stat -c '%U:%G %a' "${path%:*}") == "root:adgate ${path##*:}" ]] ||
    die "${path%:*}: $(stat -c '%U:%G %a' "${path%:*}"), not root:adgate ${path##*:}"
done
for dir in "$STATE" "$STATE/audit" "$STATE/syslog"; do
  [[ $(stat -c '%U:%G %a' "$dir") == "adgate:adgate 700" ]] || die "$dir: $(stat -c '%U:%G %a' "$dir")"
done
# The example config's writable paths must lie where the hardened unit may write.
writable=$(unit_value ReadWritePaths)
for key in dir spool_dir; do
  path=$(sed -n "s/^#\? *$key *= *\"\([^\"]*\)\".*/\1/p" "$CONFIG")
  [[ -z $path || $path == "$writable"/* ]] || die "$key = $path is outside ReadWritePaths=$writable"
done
if command -v systemd-analyze >/dev/null; then
  # Without a running systemd it still parses the unit and checks the binaries it names.
  systemd-analyze verify "$UNIT" || die "systemd-analyze verify $UNIT"
fi
say "installed: user adgate, $UNIT, $CONFIG (example), $STATE/{audit,syslog} 0700"

# --- configure for the lab, as an admin would ----------------------------------------------
install -m 0640 -o root -g adgate "$(lab_env RADIUS_SECRET_FILE)" /etc/adgate/vpn1.secret
install -m 0640 -o root -g adgate "$(lab_env BIND_PASSWORD_FILE)" /etc/adgate/ldap.secret
install -m 0640 -o root -g adgate "$(lab_env CA_FILE)" /etc/adgate/ad-ca.pem
# The lab's settings with the secrets, CA and trail where the package expects them.
sed -e "s|^secret_file = .*|secret_file = \"/etc/adgate/vpn1.secret\"|" \
  -e "s|^bind_password_file = .*|bind_password_file = \"/etc/adgate/ldap.secret\"|" \
  -e "s|^ca_file = .*|ca_file = \"/etc/adgate/ad-ca.pem\"|" \
  -e "s|^dir = .*|dir = \"$STATE/audit\"|" "$lab/adgate.toml" >"$CONFIG"
metrics=127.0.0.1:9812
printf '\n[metrics]\nlisten = "%s"\n' "$metrics" >>"$CONFIG"

# --- run the unit's command lines by hand ----------------------------------------------------
# As the unit's User and Group, with its UMask, its ambient capability (ports 1812/1813) and
# NoNewPrivileges; systemd's namespacing (ProtectSystem=…) has no equivalent without systemd.
capability=$(unit_value AmbientCapabilities | tr '[:upper:]' '[:lower:]')
capability=${capability#cap_}
as_unit_user=(ip netns exec "$netns" setpriv --reuid "$(unit_value User)"
  --regid "$(unit_value Group)" --init-groups --inh-caps "-all,+$capability"
  --ambient-caps "-all,+$capability" --bounding-set "-all,+$capability" --no-new-privs
  sh -c "umask $(unit_value UMask) && exec \"\$@\"" adgate-unit)
read -ra pre_command <<<"$(unit_value ExecStartPre)"
read -ra command <<<"$(unit_value ExecStart)"
"${as_unit_user[@]}" "${pre_command[@]}" || die "ExecStartPre: ${pre_command[*]}"
# What RuntimeDirectory= would make: the control socket's directory.
[[ $(unit_value RuntimeDirectory) == adgate ]] || die "the unit has no RuntimeDirectory=adgate"
install -d -m "$(unit_value RuntimeDirectoryMode)" -o adgate -g adgate /run/adgate
trail=$STATE/audit/audit.jsonl
records_before=0
[[ ! -f $trail ]] || records_before=$(wc -l <"$trail")   # a trail kept from an earlier run
log=$(mktemp)
"${as_unit_user[@]}" "${command[@]}" 2>"$log" &
server=$!
for _ in $(seq 100); do
  in_lab curl -sf "http://$metrics/readyz" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; die "adgate exited before it was ready"; }
  sleep 0.2
done
in_lab curl -sf "http://$metrics/readyz" >/dev/null || { cat "$log" >&2; die "adgate never got ready"; }
# ip netns exec, setpriv and sh each exec the next: $server is adgate itself.
[[ $(ps -o user=,comm= -p "$server") == "adgate   adgate" ]] || die "not adgate as user adgate: $(ps -o user=,comm= -p "$server")"
say "ready, running as user adgate"

# radclient reads the secret from a file (-S) and the attributes from stdin: neither the
# secret nor the password shows in the process list. A NAS must name itself (RFC 2865 §4.1).
login() { # USER → radclient's "Received Access-…" line
  printf 'User-Name = "%s"\nUser-Password = "%s"\nNAS-Identifier = "test-package"\nMessage-Authenticator = 0x00\n' \
    "$1" "$(<"$(lab_env FIXTURE_PASSWORD_FILE)")" |
    in_lab radclient -r 1 -t 5 -S /etc/adgate/vpn1.secret 127.0.0.1:1812 auth 2>&1 |
    grep -o 'Received Access-[A-Za-z]*' || true
}
[[ $(login alice) == "Received Access-Accept" ]] || die "alice was not accepted"
[[ $(login frank) == "Received Access-Reject" ]] || die "frank was not rejected"
new_records=$(tail -n "+$((records_before + 1))" "$trail")
grep -q '"user_name":"alice".*"verdict":"accept"' <<<"$new_records" || die "no accept record for alice"
grep -q '"user_name":"frank".*"reason":"telework_off"' <<<"$new_records" || die "no telework_off record for frank"
say "alice accepted, frank rejected (telework_off), both in $trail"
# The control socket answers root, and `adgate sessions list` shows alice's accept.
sessions=$(adgate sessions list --config "$CONFIG") || die "adgate sessions list failed: $sessions"
grep -q 'user=alice' <<<"$sessions" || die "adgate sessions list does not show alice: $sessions"
[[ $(stat -c '%G %a' /run/adgate/control.sock) == "adgate 660" ]] ||
  die "control socket: $(stat -c '%G %a' /run/adgate/control.sock), not adgate 660"
say "adgate sessions list (control socket /run/adgate/control.sock, group adgate, 0660) shows alice"

kill -TERM "$server"
grace=$(unit_value TimeoutStopSec)
timeout "$grace" tail --pid="$server" -f /dev/null ||
  { cat "$log" >&2; die "adgate did not stop within TimeoutStopSec=$grace after SIGTERM"; }
status=0
wait "$server" || status=$?
server=
((status == 0)) || { cat "$log" >&2; die "adgate exited with $status after SIGTERM"; }
grep -qw stopped "$log" || { cat "$log" >&2; die "no 'stopped' in adgate's log"; }
[[ ! -e /run/adgate/control.sock ]] || die "the control socket is left after the stop"
rm -rf /run/adgate   # as systemd does with a RuntimeDirectory when the unit stops
say "SIGTERM: exit 0"

# --- purge ---------------------------------------------------------------------------------
apt-get purge -y -q adgate >/dev/null
for path in /usr/bin/adgate "$UNIT" "$CONFIG" /usr/share/doc/adgate; do
  [[ ! -e $path ]] || die "$path is left after purge"
done
# dpkg leaves /etc/adgate for the files the admin put there, and only those.
left=$(find /etc/adgate -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')
expected=$(printf '%s\n' "${ADMIN_FILES[@]}" | sort | tr '\n' ' ')
[[ $left == "$expected" ]] || die "/etc/adgate after purge holds: $left (expected: $expected)"
for file in "${ADMIN_FILES[@]}"; do rm "/etc/adgate/$file"; done
rmdir /etc/adgate
# The audit trail is evidence: purging the software does not destroy it; nor the user who
# owns it (Debian leaves system users in place).
grep -q '"user_name":"alice"' "$trail" || die "the audit trail did not survive the purge"
getent passwd adgate >/dev/null || die "the adgate user was removed"
say "purged: package files gone, /etc/adgate only had the admin's files; $STATE (audit trail) and user adgate kept"
rm -f "$log"
