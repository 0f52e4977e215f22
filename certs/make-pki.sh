#!/usr/bin/env bash
# Makes a complete development/test PKI with the openssl CLI:
#   ms-ca.{key,crt}            Module Server CA (trusted by the proxy on 17487/17488)
#   ms-client.{key,crt}        Module Server client certificate, signed by ms-ca
#   ms-client2.{key,crt}       a second one (revocation tests revoke one, keep the other)
#   zone-ca.{key,crt}          zone CA that signs the proxy's certificates (sign-csr.sh)
#   endpoint-ca.{key,crt}      endpoint CA (optional endpoint client auth, PROTOCOL.md 4.4)
#   endpoint-client.{key,crt}  an endpoint client certificate, signed by endpoint-ca
#   observer-ca.{key,crt}      read-only observers' CA (PROTOCOL.md 4.5)
#   observer-client.{key,crt}  an observer (a Prometheus, a dashboard), signed by observer-ca
# Keys are ECDSA P-256 (0600). These are for development and tests only: the names
# say so, and the keys sit unencrypted on disk.
#
# Usage: certs/make-pki.sh OUT_DIR [NAME]   (NAME defaults to "test"; the dev run uses "dev")
set -euo pipefail

out=${1:?usage: make-pki.sh OUT_DIR [NAME]}
name=${2:-test}
days=${ZP_PKI_DAYS:-825}
mkdir -p "$out"
chmod 700 "$out"
umask 077

ext_ca="basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash"
ext_client="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # base common_name
  new_key "$out/$1.key"
  openssl req -new -x509 -key "$out/$1.key" -out "$out/$1.crt" -days "$days" -sha256 \
    -subj "/O=zoneproxy $name/CN=$2" -addext "$ext_ca" 2>/dev/null
}

make_leaf() {  # base common_name ca extensions
  new_key "$out/$1.key"
  openssl req -new -key "$out/$1.key" -out "$out/$1.csr" -subj "/O=zoneproxy $name/CN=$2" 2>/dev/null
  openssl x509 -req -in "$out/$1.csr" -CA "$out/$3.crt" -CAkey "$out/$3.key" -CAcreateserial \
    -out "$out/$1.crt" -days "$days" -sha256 -extfile <(printf '%s\n' "$4") 2>/dev/null
  rm -f "$out/$1.csr"
}

make_ca ms-ca "zoneproxy $name Module Server CA"
make_leaf ms-client "zoneproxy $name Module Server client" ms-ca "$ext_client"
make_leaf ms-client2 "zoneproxy $name Module Server client 2" ms-ca "$ext_client"
make_ca zone-ca "zoneproxy $name zone CA"
make_ca endpoint-ca "zoneproxy $name endpoint CA"
make_leaf endpoint-client "zoneproxy $name endpoint client" endpoint-ca "$ext_client"
make_ca observer-ca "zoneproxy $name observer CA"
make_leaf observer-client "zoneproxy $name observer" observer-ca "$ext_client"
chmod 644 "$out"/*.crt
echo "PKI ($name) written to $out"
