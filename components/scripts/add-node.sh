#!/usr/bin/env bash
# On the primary: issue the join token for one node (`microk8s add-node --token T --token-ttl S`).
#
# Usage: add-node HOSTNAME PRIMARY_HOSTNAME TTL_SECONDS
#        stdin: the sudo password line (empty without one), then the token line (none for the primary)
#
# A token with a TTL stays valid until it expires, so a join that fails after the primary consumed the token
# can be retried with the same token (a single-use token would be burnt). Nothing is issued for a node that
# is already a Ready member, so re-running this step changes nothing; nor for the primary itself, whose step
# exists so that making another node primary updates the membership steps instead of deleting any.
set -euo pipefail

node=$1
primary_name=$2
ttl=$3
read_sudo_password
if [ "$node" = "$primary_name" ]; then
  log "$node is the primary: it issues the tokens and needs none"
  exit 0
fi
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
