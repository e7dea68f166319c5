#!/usr/bin/env bash
# Write the cluster's nodes into /etc/hosts, so that every node resolves every other by name (MicroK8s
# refuses a join whose hostname does not resolve to the joining address).
#
# Usage: hosts IP HOSTNAME [IP HOSTNAME ...]     stdin: the sudo password line (optional)
#
# The entries live in one marked block, rewritten as a whole: a node added to or removed from the config
# changes only this block, and MicroK8s is not touched. Lines elsewhere in the file that name one of the
# nodes (the appliance's "127.0.1.1 <hostname>", say) are dropped, as they would shadow the block.
set -euo pipefail

read_sudo_password
exec </dev/null
if [ $# -eq 0 ] || [ $(($# % 2)) -ne 0 ]; then
  die "usage: hosts IP HOSTNAME [IP HOSTNAME ...]"
fi

begin="# BEGIN gateway-cluster nodes (managed by Pulumi: edits here are overwritten)"
end="# END gateway-cluster nodes"
block=$begin
names=""
count=0
while [ $# -gt 0 ]; do
  block+=$'\n'"$1 $2"
  names+=" $2"
  count=$((count + 1))
  shift 2
done
block+=$'\n'"$end"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v begin="$begin" -v end="$end" -v names="$names" '
  BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) ours[list[i]] = 1 }
  $0 == begin { inside = 1; next }
  $0 == end { inside = 0; next }
  inside { next }
  $1 !~ /^#/ {
    for (i = 2; i <= NF; i++) {
      if ($i in ours) { printf "dropping a line that would shadow the block: %s\n", $0 > "/dev/stderr"; next }
    }
  }
  { print }
' /etc/hosts >"$tmp"
printf '%s\n' "$block" >>"$tmp"

if cmp -s "$tmp" /etc/hosts; then
  log "/etc/hosts already lists the $count node(s)"
  exit 0
fi
chmod 644 "$tmp"
# cp, not mv: it keeps the file's owner, mode and inode (a bind-mounted /etc/hosts cannot be replaced).
as_root cp -- "$tmp" /etc/hosts
log "/etc/hosts now lists the $count node(s)"
