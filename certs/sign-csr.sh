#!/usr/bin/env bash
# Signs a proxy CSR (from POST /v1/csr) with a zone CA: a server certificate carrying
# the CSR's subject alternative names.
#
# Usage: certs/sign-csr.sh CA_CRT CA_KEY CSR_FILE OUT_CRT [DAYS]
set -euo pipefail
ca_crt=${1:?usage: sign-csr.sh CA_CRT CA_KEY CSR_FILE OUT_CRT [DAYS]}
ca_key=${2:?}
csr=${3:?}
out=${4:?}
days=${5:-397}
openssl x509 -req -in "$csr" -CA "$ca_crt" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" \
  -out "$out" -days "$days" -sha256 -copy_extensions copyall \
  -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid") 2>/dev/null
