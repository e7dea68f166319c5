#!/usr/bin/env bash
# The health gate, on the primary: every node of the config is Ready.
#
# Usage: health TIMEOUT_SECONDS HOSTNAME [HOSTNAME ...]
#        stdin: the sudo password line (optional)
#
# Fails naming every node that is not Ready (or not in the cluster at all).
set -euo pipefail

timeout=$1
shift
read_sudo_password
exec </dev/null

failed=()
for node in "$@"; do
  if out=$(microk8s kubectl wait --for=condition=Ready "node/$node" --timeout="${timeout}s" 2>&1); then
    log "node $node is Ready"
  else
    warn "node $node is not Ready: ${out//$'\n'/ }"
    failed+=("$node")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  die "not Ready after ${timeout}s: ${failed[*]}"
fi
log "all $# node(s) are Ready"
