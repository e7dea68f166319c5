#!/usr/bin/env bash
# On a node leaving the config (or a destroy): `microk8s leave`, before its add-node step's remove-node (on a
# remaining member) and the VM's deletion.
#
# Usage: leave HOSTNAME WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the join token line (unused)
#
# The node leaves whenever its datastore has other members, the primary included: a delete runs with the inputs
# stored at the last update, when a node removed together with a change of primary still was the primary, and a
# node deleted while it is a dqlite voter leaves a dead voter behind (the next failure then loses quorum). A node
# alone in its datastore has nothing to leave (MicroK8s refuses, and the last node of a destroy is one).
# Never fails, so that a destroy is never blocked here; problems become warnings, and the remaining member's
# remove-node falls back to --force.
set -euo pipefail

me=$1
wait_seconds=$2
read_sudo_password
exec </dev/null

if ! status=$(microk8s_status "$wait_seconds"); then
  warn "MicroK8s is not running on $me: it does not leave (a remaining member removes it with --force)"
  exit 0
fi
members=$(datastore_members <<<"$status")
if [ "$members" -le 1 ]; then
  log "$me is alone in its datastore ($members member(s) listed): nothing to leave"
  exit 0
fi
log "$me leaves its cluster ($members datastore members)"
if out=$(microk8s_within "$wait_seconds" leave 2>&1); then
  log "$me left the cluster"
else
  warn "microk8s leave failed on $me: ${out//$'\n'/ }"
fi
exit 0
