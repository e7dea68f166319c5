#!/usr/bin/env bash
# On the primary, once every node has joined: enable the DNS and MetalLB addons.
#
# Usage: addons METALLB_RANGE WAIT_SECONDS
#        stdin: the sudo password line (optional)
#
# An enabled addon is left alone; a MetalLB pool with other addresses (metallbRange changed) is patched in
# place rather than disabled and enabled again, so the floating IP keeps being served.
set -euo pipefail

range=$1
wait_seconds=$2
read_sudo_password
exec </dev/null

microk8s_status "$wait_seconds" >/dev/null || die "MicroK8s is not running or not ready within ${wait_seconds}s"

if [ "$(microk8s status --addon dns)" = "enabled" ]; then
  log "dns is already enabled"
else
  log "enabling dns"
  microk8s enable dns >&2
fi

if [ "$(microk8s status --addon metallb)" = "enabled" ]; then
  current=$(microk8s kubectl get ipaddresspool default-addresspool -n metallb-system -o 'jsonpath={.spec.addresses[*]}')
  if [ "$current" = "${range//,/ }" ]; then
    log "metallb already serves $range"
  else
    log "metallb serves $current: changing its address pool to $range"
    items=""
    IFS=, read -ra parts <<<"$range"
    for part in "${parts[@]}"; do
      items+="${items:+,}\"$part\""
    done
    microk8s kubectl patch ipaddresspool default-addresspool -n metallb-system --type merge \
      -p "{\"spec\":{\"addresses\":[$items]}}" >&2
  fi
else
  log "enabling metallb for $range"
  if [[ $range == *:* ]]; then
    # MicroK8s' addon takes IPv6 ranges only as a separate argument.
    microk8s enable metallb "$range" >&2
  else
    microk8s enable "metallb:$range" >&2
  fi
fi
log "dns and metallb ($range) enabled"
