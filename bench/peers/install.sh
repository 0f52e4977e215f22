#!/usr/bin/env bash
# Installs the peers zoneproxy is compared with (HAProxy, stunnel4, nginx with the
# stream module) and what bench/report needs (python3-matplotlib), from Debian 12's
# packages, without starting any of their services: a policy-rc.d that exits 101 is in
# place for the install (ours is removed afterwards; one that was there already stays).
# Idempotent: when everything is installed it does nothing.
#
# Usage: bench/peers/install.sh
set -euo pipefail

packages=(haproxy stunnel4 nginx-light libnginx-mod-stream python3-matplotlib)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "peers/install: all ${#packages[@]} packages present"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "peers/install: run as root" >&2; exit 1; }

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# bench/peers/install.sh: no service starts during this install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
remove_policy() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap remove_policy EXIT

echo "peers/install: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packages must not have started anything; say so if one did (we do not kill
# processes we did not start: the caller decides).
running=$(for name in nginx haproxy stunnel4 stunnel; do pgrep -x "$name" || true; done)
if [ -n "$running" ]; then
  echo "peers/install: warning: peer processes are running (PIDs: $(echo "$running" | tr '\n' ' '))" >&2
fi
echo "peers/install: done"
