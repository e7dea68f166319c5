#!/usr/bin/env bash
# On the primary, when a node leaves the config (or the stack is destroyed): remove the node from the cluster,
# after its own `microk8s leave` (the step that runs before this one).
#
# Usage: remove-node HOSTNAME PRIMARY_HOSTNAME WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the join token line (unused)
#
# Never fails: a destroy tears everything down and must not stop here because the cluster is already gone or
# the primary's MicroK8s is down. Whatever could not be done is logged as a warning.
set -euo pipefail

node=$1
primary_name=$2
wait_seconds=$3
read_sudo_password
exec </dev/null

if [ "$node" = "$primary_name" ]; then
  log "$node is the primary: it is not removed from its own cluster"
  exit 0
fi

if ! microk8s status --wait-ready --timeout "$wait_seconds" >/dev/null 2>&1; then
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
