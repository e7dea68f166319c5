#!/usr/bin/env bash
# Bootstrap one node: give it its hostname, make sure MicroK8s runs registered under that name, and delete the
# node object the OVA's original hostname left behind.
#
# Usage: bootstrap HOSTNAME WAIT_SECONDS        stdin: the sudo password line (optional)
#
# MicroK8s is restarted only when the node is not yet registered under HOSTNAME. A re-run (or a change
# elsewhere in the cluster that re-runs this step on every node at once) leaves a healthy node alone:
# restarting all nodes together would lose the dqlite quorum.
set -euo pipefail

want=$1
wait_seconds=$2
read_sudo_password
exec </dev/null

current=$(hostname)
if [ "$current" = "$want" ]; then
  log "hostname is already $want"
else
  log "renaming host $current to $want"
  as_root hostnamectl set-hostname "$want"
fi

registered() {
  microk8s_status 60 >/dev/null && microk8s kubectl get node "$want" >/dev/null 2>&1
}

if registered; then
  log "MicroK8s runs as node $want: left running"
else
  # The kubelet reads the hostname when it starts, so only a restart registers the node under its new name.
  log "MicroK8s is not registered as $want: restarting it"
  microk8s stop >&2
  microk8s start >&2
  microk8s_status "$wait_seconds" >/dev/null || die "MicroK8s did not become ready within ${wait_seconds}s"
  deadline=$((SECONDS + wait_seconds))
  until microk8s kubectl get node "$want" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "MicroK8s did not register node $want within ${wait_seconds}s"
    sleep 2
  done
fi
microk8s kubectl wait --for=condition=Ready "node/$want" --timeout="${wait_seconds}s" >&2

# Stale node objects: the ones the image brought along. The run-book's rule has two cases.
# - While this node's datastore has no other member (before its join; a single-node cluster), every node
#   object but its own is stale: the node object baked into the OVA under its original hostname carries the
#   image build machine's system UUID when the appliance took its new name before MicroK8s first started.
# - In a cluster, only objects with this machine's system UUID under another name are: MicroK8s ran under
#   the OVA's hostname before the rename. Other machines' nodes never share this UUID (each clone gets its own),
#   so this cannot delete a cluster member.
# A status without datastore lines counts as "not alone": only the UUID rule, which deletes nothing of others.
members=$(microk8s_status "$wait_seconds" | datastore_members) || members=0
uuid=$(microk8s kubectl get node "$want" --no-headers -o custom-columns=UUID:.status.nodeInfo.systemUUID)
nodes=$(microk8s kubectl get nodes --no-headers -o custom-columns=NAME:.metadata.name,UUID:.status.nodeInfo.systemUUID)
if [ "$members" -eq 1 ]; then
  rule="alone in its datastore: every other node object is stale"
elif [ -n "$uuid" ] && [ "$uuid" != "<none>" ]; then
  rule="in a cluster of $members: node objects with this machine's system UUID are stale"
else
  warn "node $want reports no system UUID: stale node objects are not looked for"
  exit 0
fi
stale=0
while read -r name node_uuid; do
  [ -n "$name" ] && [ "$name" != "$want" ] || continue
  if [ "$members" -eq 1 ] || [ "$node_uuid" = "$uuid" ]; then
    log "deleting stale node object $name (system UUID $node_uuid)"
    microk8s kubectl delete node "$name" >&2
    stale=$((stale + 1))
  fi
done <<<"$nodes"
log "node $want is Ready; $rule; $stale stale node object(s) deleted"
