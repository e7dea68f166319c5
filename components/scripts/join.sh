#!/usr/bin/env bash
# On a joining node: `microk8s join <primary>:25000/<token>`, retried with backoff.
#
# Usage: join PRIMARY_URL_HOST PRIMARY_HOSTNAME HOSTNAME ATTEMPTS FIRST_DELAY_SECONDS WAIT_SECONDS
#        stdin: the sudo password line (empty without one), then the token line (none on the primary)
#
# A node that already sees the primary is a member: nothing to do (re-running consumes no token). A server
# answer "already known to dqlite" may mean that an earlier attempt got through. An invalid token is not
# retried (it expired or was never issued); anything else is, with the same token (it has a TTL). Whatever the
# join said, the step succeeds only once this node is in the primary's cluster (see the end).
set -euo pipefail

primary=$1
primary_name=$2
me=$3
attempts=$4
delay=$5
wait_seconds=$6
read_sudo_password
if [ "$me" = "$primary_name" ]; then
  log "$me is the primary: the others join it"
  exit 0
fi
read_token
exec </dev/null

current=$(hostname)
[ "$current" = "$me" ] || die "this host is named $current, not $me: its bootstrap step has not run"
if microk8s kubectl get node "$primary_name" >/dev/null 2>&1; then
  log "$me is already a member of $primary_name's cluster"
  exit 0
fi

attempt=1
while :; do
  log "joining $primary_name at $primary (attempt $attempt of $attempts)"
  if out=$(microk8s_within "$wait_seconds" join "$primary:25000/$TOKEN" 2>&1); then
    log "joined $primary_name's cluster"
    break
  fi
  out=$(mask_token "$out")
  out=${out//$'\n'/ }
  case $out in
    *"already known to dqlite"*)
      log "the cluster already knows $me (an earlier attempt got through?): $out"
      break
      ;;
    *[Ii]"nvalid token"*)
      # A new token, not the same one again: MicroK8s appends each token to its file and the first matching
      # line decides, so an expired token issued again stays invalid (docs/upstream-facts.md).
      die "the primary rejected the join token (expired, or never issued): $out. Issue a new one with" \
        "\`pulumi up --replace <URN of ${me}-join-token>\`."
      ;;
  esac
  [ "$attempt" -lt "$attempts" ] || die "could not join after $attempts attempts: $out"
  warn "join failed: $out; retrying in ${delay}s"
  sleep "$delay"
  attempt=$((attempt + 1))
  delay=$((delay * 2 > 60 ? 60 : delay * 2))
done

status=$(microk8s_status "$wait_seconds") || die "MicroK8s is not ready within ${wait_seconds}s after the join"
# The cluster agent answers "already known to dqlite" to a join from any address its datastore lists, before it
# changes anything (docs/upstream-facts.md M17). A new VM at the address of a member that never left (a VM lost
# and created again) gets that answer too and stays alone in the fresh datastore it booted with, where its own
# node object would pass the wait below: a split that only the health gate would notice, with this step
# recorded as done. A member shares the primary's datastore: it lists other members and sees the primary.
members=$(datastore_members <<<"$status")
if [ "$members" -eq 1 ] || ! microk8s kubectl get node "$primary_name" >/dev/null 2>&1; then
  die "$me is not in $primary_name's cluster ($members datastore member(s) here; it does not see node" \
    "$primary_name): the cluster still lists a member at this node's address that never left (a VM lost and" \
    "created again). On $primary_name, run \`microk8s remove-node $me --force\` (with this node's IP address" \
    "for $me if the cluster has no node $me any more), then run \`pulumi up\` again."
fi
microk8s kubectl wait --for=condition=Ready "node/$me" --timeout="${wait_seconds}s" >&2
log "$me is a Ready member"
