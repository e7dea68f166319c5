#!/usr/bin/env bash
# On a node leaving the config (or a destroy): `microk8s leave`, before the primary's remove-node and the
# VM's deletion.
#
# Usage: leave HOSTNAME PRIMARY_HOSTNAME WAIT_SECONDS
#
# Only a member of the primary's cluster leaves: on a standalone node `microk8s leave` would reset its
# datastore for nothing. Never fails, so that a destroy is never blocked here; problems become warnings.
set -euo pipefail

me=$1
primary_name=$2
wait_seconds=$3
exec </dev/null

if ! microk8s status --wait-ready --timeout "$wait_seconds" >/dev/null 2>&1; then
  warn "MicroK8s is not running on $me: it does not leave (the primary removes it with --force)"
  exit 0
fi
if ! microk8s kubectl get node "$primary_name" >/dev/null 2>&1; then
  log "$me is not in $primary_name's cluster: nothing to leave"
  exit 0
fi
log "$me leaves $primary_name's cluster"
if out=$(timeout "$wait_seconds" microk8s leave 2>&1); then
  log "$me left the cluster"
else
  warn "microk8s leave failed on $me: ${out//$'\n'/ }"
fi
exit 0
