#!/usr/bin/env bash
# The demo: brings up the lab AD, starts adgate with the lab's config, and plays a VPN appliance
# logging in each fixture user, printing every decision as the NAS saw it and as the audit
# trail recorded it (reason and AD object). Everything runs inside the lab's network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}

deploy/lab.sh up
deploy/lab-certs.sh
cargo build --locked --quiet
adgate=$PWD/target/debug/adgate
netns=$(sed -n 's/^NETNS=//p' "$lab_dir/lab.env")
password_file=$(sed -n 's/^FIXTURE_PASSWORD_FILE=//p' "$lab_dir/lab.env")
secret_file=$(sed -n 's/^RADIUS_SECRET_FILE=//p' "$lab_dir/lab.env")
trail=$lab_dir/audit/audit.jsonl
log=$lab_dir/demo-adgate.log

in_lab() { ip netns exec "$netns" "$@"; }

pki=$lab_dir/pki
config=$lab_dir/adgate-demo.toml   # the lab config with certificate logins on
# The gateway demo's road warrior (strongSwan 5.9) speaks TLS 1.2 without the RFC 7627 extended
# master secret: the lab lets it ([eap_tls] is the last section, so the line lands in it).
{
  cat "$lab_dir/adgate.toml" "$pki/eap_tls.toml"
  echo "tls12_require_extended_master_secret = false"
  # EAP-TLS offered first; a peer that answers with a Nak for EAP-MSCHAPv2 (Windows' IKEv2
  # client, the strongSwan road warrior's login-eap) gets that (RFC 3748 §5.3.1).
  printf '\n[eap]\nmethods = ["tls", "mschapv2"]\n'
} >"$config"
in_lab "$adgate" check-config --config "$config"
# `ip netns exec` execs adgate itself, so $! is adgate's pid and the trap stops it.
ip netns exec "$netns" "$adgate" serve --config "$config" >"$log" 2>&1 &
server=$!
wrong_password=$(mktemp)
stranger_pki=$(mktemp -d)
gateway_started=0
openvpn_started=0
cleanup() {
  rm -rf "$wrong_password" "$stranger_pki"
  ((gateway_started == 0)) || deploy/gateway.sh down >/dev/null || true
  ((openvpn_started == 0)) || deploy/gateway-openvpn.sh down >/dev/null || true
  kill "$server" 2>/dev/null
  wait "$server" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q "adgate serving" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "adgate did not start" >&2; exit 1; }
  sleep 0.1
done

printf 'not-the-right-password' >"$wrong_password"

# Prints the last record of the trail in one line: verdict, reason, AD object.
read -r -d '' format_record <<'PY' || true
import json, sys
decisions = [json.loads(line) for line in sys.stdin if '"type":"decision"' in line]
record = decisions[-1]
dn = record.get("account", {}).get("dn", "-")
print("    trail: %-7s reason=%-22s dn=%s" % (record["verdict"], record.get("reason", "-"), dn))
PY
# The last decision record (checkpoints and accounting records may follow it).
last_decision() { tail -n 50 "$trail" | /usr/bin/python3 -c "$format_record"; }

login() { # USER PASSWORD_FILE DESCRIPTION
  printf '%-34s ' "$3"
  in_lab "$adgate" nas pap --secret-file "$secret_file" --password-file "$2" "$1" || true
  last_decision
}

echo
echo "== A simulated VPN appliance logs users in through adgate (PAP, Message-Authenticator on) =="
login alice "$password_file" "telework member"
login 'CORP\alice' "$password_file" "same user, DOMAIN\\user form"
login grace "$password_file" "member through a nested group"
login heidi.jones@corp.example.test "$password_file" "by UPN that differs from sam@realm"
login alice "$wrong_password" "wrong password"
login frank "$password_file" "not in Telework-Allowed"
login bob "$password_file" "disabled in AD"
login carol "$password_file" "account expired"
login dave "$password_file" "locked out"
login erin "$password_file" "must change password"
login ivan "$password_file" "dial-in denied (msNPAllowDialin)"
login 'alice)(cn=*' "$password_file" "LDAP injection attempt"
echo
echo "== MS-CHAPv2 (RFC 2548): the policy first, then the DC checks the NT-Response through winbind =="
mschap_login() { # USER PASSWORD_FILE DESCRIPTION
  printf '%-34s ' "$3"
  in_lab "$adgate" nas ms-chapv2 --secret-file "$secret_file" --password-file "$2" "$1" || true
  last_decision
}
mschap_login alice "$password_file" "telework member (S= and keys checked)"
mschap_login 'CORP\alice' "$password_file" "same user, DOMAIN\\user form"
mschap_login alice "$wrong_password" "wrong password"
mschap_login frank "$password_file" "not in Telework-Allowed"
mschap_login bob "$password_file" "disabled in AD"
echo
echo "== An admin takes tgroup off telework in AD; the next login is refused =="
login tgroup "$password_file" "tgroup, still on telework"
deploy/lab.sh tool group removemembers Telework-Allowed tgroup >/dev/null
login tgroup "$password_file" "tgroup, after removal"
deploy/lab.sh tool group addmembers Telework-Allowed tgroup >/dev/null
login tgroup "$password_file" "tgroup, added back"
echo
echo "== Certificate logins (EAP-TLS, adgate's own peer as the VPN client) =="
cert_login() { # CERT IDENTITY TLS_VERSION DESCRIPTION
  printf '%-34s ' "$4"
  in_lab "$adgate" nas eap-tls --secret-file "$secret_file" --ca-file "$pki/ca.pem" \
    --certificate-file "$pki/$1.pem" --key-file "$pki/$1.key" \
    --server-name radius.corp.example.test --tls-version "$3" "$2" || true
  last_decision
}
cert_login alice alice@corp.example.test 1.3 "UPN certificate, TLS 1.3"
cert_login alice alice@corp.example.test 1.2 "UPN certificate, TLS 1.2"
cert_login alice-mail alice@corp.example.test 1.3 "e-mail-only certificate"
cert_login nobody alice@corp.example.test 1.3 "CN/O only: names nobody"
cert_login bob bob@corp.example.test 1.3 "certificate of a disabled user"
cert_login frank frank@corp.example.test 1.3 "not in Telework-Allowed"
cert_login shared shared@corp.example.test 1.3 "e-mail two AD users share"
cert_login alice frank@corp.example.test 1.3 "EAP identity is someone else"
echo
echo "== A real VPN gateway (strongSwan, IKEv2 + EAP-GTC → RADIUS PAP) =="
# A road warrior logs in to a strongSwan gateway; the gateway asks adgate (deploy/gateway.sh).
gateway_started=1
deploy/gateway.sh up >/dev/null
gateway_login() { # USER PASSWORD_FILE DESCRIPTION — "refused" (exit 1) is an answer too
  printf '%-34s ' "$3"
  deploy/gateway.sh login "$1" "$2" || (($? == 1))
  last_decision
}
gateway_login alice "$password_file" "telework member"
gateway_login frank "$password_file" "not in Telework-Allowed"
gateway_login bob "$password_file" "disabled in AD"
echo "   EAP-MSCHAPv2 relayed by the gateway (as Windows' built-in IKEv2 client logs in):"
gateway_eap_login() { # USER PASSWORD_FILE DESCRIPTION — "refused" (exit 1) is an answer too
  printf '%-34s ' "$3"
  deploy/gateway.sh login-eap "$1" "$2" || (($? == 1))
  last_decision
}
gateway_eap_login alice "$password_file" "telework member"
gateway_eap_login frank "$password_file" "not in Telework-Allowed"
echo
echo "== The same gateway relays certificate logins (IKEv2 + EAP-TLS → RADIUS, adgate the EAP server) =="
# alice's name on a certificate from a CA adgate does not trust.
(
  cd "$stranger_pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 1 -subj "/CN=an unknown CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout alice.key -out alice.csr \
    -subj "/CN=alice" 2>/dev/null
  openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out alice.pem \
    -extfile <(printf '%s\n' "extendedKeyUsage=clientAuth" \
      "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example.test") 2>/dev/null
)
gateway_cert_login() { # CERT_FILE KEY_FILE DESCRIPTION — "refused" (exit 1) is an answer too
  printf '%-34s ' "$3"
  deploy/gateway.sh login-cert "$1" "$2" || (($? == 1))
  last_decision
}
gateway_cert_login "$pki/alice.pem" "$pki/alice.key" "UPN certificate of a member"
gateway_cert_login "$pki/frank.pem" "$pki/frank.key" "not in Telework-Allowed"
gateway_cert_login "$stranger_pki/alice.pem" "$stranger_pki/alice.key" "alice's name, unknown CA"
echo
echo "== Live tunnels: cut when AD says no (RFC 5176 Disconnect to the gateway), or by an admin =="
# The last disconnect record of the trail in one line.
last_disconnect() {
  tail -n 50 "$trail" | /usr/bin/python3 -c '
import json, sys
cuts = [json.loads(line) for line in sys.stdin if "\"type\":\"disconnect\"" in line]
# The cut of the tunnel itself: the one naming an Acct-Session-Id (the others are accepts of the
# simulated NAS above, which never became sessions: the gateway NAKs them).
cut = [cut for cut in cuts if "session_id" in cut["session"]][-1]
print("    trail: disconnect reason=%s result=%s after %s ms, by %s" % (cut["reason"], cut["result"],
      cut["detection_to_result_ms"], cut.get("requested_by", {}).get("user", "adgate")))'
}
# Waits (at most 15 s) until WHO has no tunnel on the gateway; prints how long that took.
wait_for_cut() { # WHO SINCE_EPOCH_NS
  for _ in $(seq 150); do
    deploy/gateway.sh sas | grep -qx "$1" || break
    sleep 0.1
  done
  ! deploy/gateway.sh sas | grep -qx "$1" || { echo "    $1's tunnel is still up" >&2; exit 1; }
  echo "    $1's tunnel is gone after $((($(date +%s%N) - $2) / 1000000)) ms"
}
printf '%-34s ' "tgroup connects and stays"
deploy/gateway.sh connect tgroup "$password_file"
sleep 1   # the gateway's Accounting-Start
in_lab "$adgate" sessions list --config "$config" | sed 's/^/    /'
echo "    the admin: samba-tool group removemembers Telework-Allowed tgroup"
removed=$(date +%s%N)
deploy/lab.sh tool group removemembers Telework-Allowed tgroup >/dev/null
wait_for_cut tgroup "$removed"
last_disconnect
deploy/lab.sh tool group addmembers Telework-Allowed tgroup >/dev/null
printf '%-34s ' "alice connects and stays"
deploy/gateway.sh connect alice "$password_file"
sleep 1
echo "    the admin: adgate sessions disconnect --user alice --reason 'stolen laptop'"
asked=$(date +%s%N)
# Exit 1 would mean a cut the gateway did not confirm: the gateway's own list below says more.
in_lab "$adgate" sessions disconnect --config "$config" --user alice --reason "stolen laptop" |
  sed 's/^/    /' || (($? == 1))
wait_for_cut alice "$asked"
last_disconnect
echo
echo "== OpenVPN 2.6 (radiusplugin: PAP, no Message-Authenticator, Accounting-Start awaited) =="
# An OpenVPN server asks adgate (deploy/gateway-openvpn.sh); its client pings through the tunnel.
openvpn_started=1
deploy/gateway-openvpn.sh up >/dev/null
openvpn_login() { # USER PASSWORD_FILE DESCRIPTION — "refused" (exit 1) is an answer too
  printf '%-34s ' "$3"
  deploy/gateway-openvpn.sh login "$1" "$2" || (($? == 1))
}
openvpn_login alice "$password_file" "client entry requires the M-A"
echo "    adgate's log, once a minute per client and cause:"
grep "misconfigured NAS" "$log" | tail -n 1 | sed 's/^.*discarded: its users cannot log in /    /'
# The fix the line names. Here the simulated NAS above, which signs, shares the client entry
# (both send from 127.0.0.1), so "auto" would still expect signatures: false. An OpenVPN server
# with an entry of its own needs nothing at all ("auto", the default).
sed -i 's/^require_message_authenticator = true$/require_message_authenticator = false/' "$config"
kill -HUP "$server"
for _ in $(seq 50); do
  grep -q "configuration reloaded" "$log" && break
  sleep 0.1
done
echo "    (require_message_authenticator = false, configuration reloaded)"
openvpn_login alice "$password_file" "telework member"
last_decision
openvpn_login grace "$password_file" "member through a nested group"
last_decision
openvpn_login frank "$password_file" "not in Telework-Allowed"
last_decision
openvpn_login alice "$wrong_password" "wrong password"
last_decision
echo
echo "Audit trail: $trail   adgate log: $log"
