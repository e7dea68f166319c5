#!/usr/bin/env bash
# On a remaining member (the primary; for the primary's own step, its deputy), when a node leaves the config (or
# the stack is destroyed): remove the node from the cluster, after its own `microk8s leave` (the step that runs
# before this one).
#
# Usage: remove-node HOSTNAME WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the join token line (unused)
#
# A host never removes itself. Never fails: a destroy tears everything down and must not stop here because the
# cluster is already gone or this host's MicroK8s is down. Whatever could not be done is logged as a warning.
set -euo pipefail

node=$1
wait_seconds=$2
read_sudo_password
exec </dev/null

if [ "$node" = "$(hostname)" ]; then
  log "$node is this host: it is not removed from its own cluster"
  exit 0
fi

if ! microk8s_status "$wait_seconds" >/dev/null; then
  warn "MicroK8s is not running here: $node is not removed (nothing left to remove from?)"
  exit 0
fi
if ! microk8s kubectl get node "$node" >/dev/null 2>&1; then
  log "$node is not in the cluster: nothing to remove"
  exit 0
fi
if out=$(microk8s remove-node "$node" 2>&1); then
  log "removed $node from the cluster"
  exit 0
fi
case $out in
  *"registered with dqlite"*)
    # Its `microk8s leave` did not happen (the node was unreachable or already gone): unregister it anyway,
    # or the datastore keeps counting a voter that will never come back.
    warn "$node did not leave the cluster: removing it with --force"
    if out=$(microk8s remove-node "$node" --force 2>&1); then
      log "removed $node from the cluster (forced)"
    else
      warn "could not remove $node: ${out//$'\n'/ }"
    fi
    ;;
  *)
    warn "could not remove $node: ${out//$'\n'/ }"
    ;;
esac
exit 0
