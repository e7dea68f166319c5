#!/usr/bin/env bash
# On the primary: issue the join token for one node (`microk8s add-node --token T --token-ttl S`).
#
# Usage: add-node HOSTNAME TTL_SECONDS           stdin: the token line
#
# A token with a TTL stays valid until it expires, so a join that fails after the primary consumed the token
# can be retried with the same token (a single-use token would be burnt). Nothing is issued for a node that
# is already a Ready member, so re-running this step changes nothing.
set -euo pipefail

node=$1
ttl=$2
read_token
exec </dev/null

if node_ready "$node"; then
  log "$node is already a Ready member: no token issued"
  exit 0
fi
log "issuing a join token for $node, valid for ${ttl}s"
# add-node prints the join URL, token included: its output goes nowhere but (masked) into an error message.
if ! out=$(microk8s add-node --token "$TOKEN" --token-ttl "$ttl" 2>&1); then
  die "microk8s add-node failed: $(mask_token "$out")"
fi
log "token issued for $node"
