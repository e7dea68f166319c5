#!/usr/bin/env bash
# On a node leaving the config (or a destroy): `microk8s leave`, before the primary's remove-node and the
# VM's deletion.
#
# Usage: leave HOSTNAME PRIMARY_HOSTNAME WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the join token line (unused)
#
# Only a member of the primary's cluster leaves, and never the primary itself (it holds the cluster: to remove
# it, make another node primary first). On a standalone node `microk8s leave` would reset its datastore. Never fails, so that a destroy is never blocked here; problems become warnings.
set -euo pipefail

me=$1
primary_name=$2
wait_seconds=$3
read_sudo_password
exec </dev/null

if [ "$me" = "$primary_name" ]; then
  log "$me is the primary: it does not leave its own cluster"
  exit 0
fi

if ! microk8s status --wait-ready --timeout "$wait_seconds" >/dev/null 2>&1; then
  warn "MicroK8s is not running on $me: it does not leave (the primary removes it with --force)"
  exit 0
fi
if ! microk8s kubectl get node "$primary_name" >/dev/null 2>&1; then
  log "$me is not in $primary_name's cluster: nothing to leave"
  exit 0
fi
log "$me leaves $primary_name's cluster"
if out=$(microk8s_within "$wait_seconds" leave 2>&1); then
  log "$me left the cluster"
else
  warn "microk8s leave failed on $me: ${out//$'\n'/ }"
fi
exit 0
