#!/usr/bin/env bash
# deploy/lab-certs.sh — certificates for the lab's certificate logins (EAP-TLS).
#
# Why this file exists: the demo and the EAP-TLS benchmark need what a company PKI would give
# adgate: a CA that issues user certificates, a server certificate for adgate, and client
# certificates for the fixture users — shaped like AD CS "User" template certificates, with the
# UPN in subjectAltName (otherName 1.3.6.1.4.1.311.20.2.3) and Extended Key Usage clientAuth.
# It writes them under $ADGATE_LAB_DIR/pki (0700) with openssl, plus an empty CRL, and
# eap_tls.toml: the [eap_tls] section to append to the lab's adgate.toml. Idempotent: files that
# exist are kept. (The integration tests make their own PKI with rcgen instead.)
#
# Certificates: alice, frank, bob (UPN), alice-mail (e-mail only), shared (e-mail
# shared@corp.example.test, which two AD users carry), nobody (CN and O only).
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
lab=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
pki=$lab/pki
readonly DOMAIN=corp.example.test SERVER_NAME=radius.corp.example.test UPN_OID=1.3.6.1.4.1.311.20.2.3
install -d -m 0700 "$pki"
cd "$pki"

new_key() { [ -s "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -s ca.pem ]; then
  new_key ca.key
  openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=adgate lab user CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem 2>/dev/null
fi

issue() { # NAME SUBJECT EXTENSIONS...
  local name=$1 subject=$2; shift 2
  [ -s "$name.pem" ] && return 0
  new_key "$name.key"
  printf '%s\n' "$@" >"$name.ext"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
user_ext() { printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=clientAuth" "subjectAltName=$1"; }

issue server "/CN=$SERVER_NAME" "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:$SERVER_NAME"
for user in alice frank bob; do
  mapfile -t ext < <(user_ext "otherName:$UPN_OID;UTF8:$user@$DOMAIN")
  issue "$user" "/CN=$user" "${ext[@]}"
done
mapfile -t ext < <(user_ext "email:alice@$DOMAIN"); issue alice-mail "/CN=Alice Smith" "${ext[@]}"
mapfile -t ext < <(user_ext "email:shared@$DOMAIN"); issue shared "/CN=mallory" "${ext[@]}"
issue nobody "/CN=alice@$DOMAIN/O=Corp" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"

if [ ! -s ca.crl ]; then
  # A v2 CRL (CRL number, authority key identifier): webpki accepts no other.
  touch index.txt; [ -s crlnumber ] || echo 01 >crlnumber
  printf '%s\n' "[ca]" "default_ca=lab" "[lab]" "database=$pki/index.txt" "default_md=sha256" \
    "crlnumber=$pki/crlnumber" "default_crl_days=3650" "crl_extensions=crl_ext" \
    "[crl_ext]" "authorityKeyIdentifier=keyid:always" >crl.cnf
  openssl ca -config crl.cnf -gencrl -keyfile ca.key -cert ca.pem -out ca.crl 2>/dev/null
fi
chmod 0600 ./*.key

cat >eap_tls.toml <<TOML

[eap_tls]
certificate_file = "$pki/server.pem"
private_key_file = "$pki/server.key"
ca_file = "$pki/ca.pem"
crl_files = ["$pki/ca.crl"]
TOML
echo "lab-certs: certificates in $pki; [eap_tls] section in $pki/eap_tls.toml"
