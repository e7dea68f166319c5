#!/usr/bin/env bash
# On the primary: issue the join token for one node (`microk8s add-node --token T --token-ttl S`).
#
# Usage: add-node HOSTNAME PRIMARY_HOSTNAME TTL_SECONDS WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the token line (none for the primary)
#
# A token with a TTL stays valid until it expires, so a join that fails after the primary consumed the token
# can be retried with the same token (a single-use token would be burnt). Nothing is issued for a node that
# is already a Ready member, so re-running this step changes nothing; nor for the primary itself, whose step
# exists so that making another node primary updates the membership steps instead of deleting any.
#
# The primary's own step runs on its deputy (the first other node) and has the primary's VM as a trigger, so it
# runs again whenever that VM is new. A new primary VM (lost and created again, `--replace`) is a fresh one-node
# MicroK8s: taken as primary, it would become a second cluster while the others stay in the old one. So on a
# deputy clustered with other members, this step fails unless the primary is a Ready member there; on a first
# creation the primary is one (it came first, or the deputy joined it first), or the deputy is still alone
# (docs/operations.md, section "A replaced primary").
set -euo pipefail

node=$1
primary_name=$2
ttl=$3
wait_seconds=$4
read_sudo_password
check_the_primary() {
  exec </dev/null
  if [ "$(hostname)" = "$primary_name" ]; then
    log "$node is the primary: it issues the tokens and needs none"
    return
  fi
  local status members ready
  status=$(microk8s_status "$wait_seconds") || die "MicroK8s is not running here: cannot tell whether the primary $node is a member"
  members=$(datastore_members <<<"$status")
  # A status without datastore lines (0) counts as clustered: the check below is then the safe side.
  if [ "$members" -eq 1 ]; then
    log "$node is the primary and $(hostname) is not clustered yet: nothing to check"
  elif node_ready "$node"; then
    log "$node is the primary and a Ready member of this cluster: it issues the tokens and needs none"
  else
    ready=$(microk8s kubectl get nodes --no-headers | awk '$2 ~ /^Ready/ { printf "%s%s", sep, $1; sep = ", " }')
    die "the primary $node is not a Ready member of the cluster of ${ready:-no Ready node} ($members datastore" \
      "member(s)): its VM is new, and as primary it would start a second cluster. Make one of those nodes the" \
      "primary (\`pulumi config set gateway-cluster:primary <node>\`) and run \`pulumi up\`: $node then joins" \
      "it as a member (if it does not, rebuild it with \`rebuild: [$node]\`, or remove it from \`nodes\`, run" \
      "\`pulumi up\` and add it back). See docs/operations.md, section \"A replaced primary\"."
  fi
}
if [ "$node" = "$primary_name" ]; then
  check_the_primary
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
