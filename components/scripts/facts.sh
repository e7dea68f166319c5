#!/usr/bin/env bash
# Read-only: what `gatewayctl validate` (and `upgrade`, `drill`) judge on a node. Changes nothing.
#
# Usage: facts CLUSTER_WIDE HOSTNAME [HOSTNAME ...]
#        CLUSTER_WIDE: yes on the node that answers for the cluster (the primary), no elsewhere
#        HOSTNAME...: every configured node (name resolution and ping are checked for each)
#        stdin: the sudo password line (empty without one)
#
# Prints sections, each a header line `##facts <name> <exit code>` and the command's output (stdout and stderr):
#   hostname; resolve <name> and ping <name> per node; status (microk8s status); on the cluster-wide node also
#   nodes, pool (the MetalLB pool's addresses), pods and pvcs.
# Never fails on what it reads: a failing command is a section with its exit code, for the caller to judge.
set -euo pipefail

cluster_wide=$1
shift
read_sudo_password
exec </dev/null

section() {
  local name=$1 out code=0
  shift
  out=$("$@" 2>&1) || code=$?
  printf '##facts %s %s\n%s\n' "$name" "$code" "$out"
}

section hostname hostname
for node in "$@"; do
  section "resolve $node" getent hosts "$node"
  section "ping $node" ping -c 1 -W 2 "$node"
done
section status microk8s status
if [ "$cluster_wide" = yes ]; then
  section nodes microk8s kubectl get nodes --no-headers
  section pool microk8s kubectl get ipaddresspool default-addresspool -n metallb-system \
    -o 'jsonpath={.spec.addresses[*]}'
  section pods microk8s kubectl get pods -A --no-headers \
    -o 'custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase,NODE:.spec.nodeName,OWNER:.metadata.ownerReferences[0].kind'
  section pvcs microk8s kubectl get pvc -A --no-headers \
    -o 'custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase'
fi
