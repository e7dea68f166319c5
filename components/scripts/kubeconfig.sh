#!/usr/bin/env bash
# On the primary: print the cluster's kubeconfig (`microk8s config`), its server set to the primary's address.
#
# Usage: kubeconfig SERVER_URL_HOST
#        stdin: the sudo password line (optional)
#
# stdout is the kubeconfig, a secret: nothing else is printed there, and the log says only what was done.
set -euo pipefail

server=$1
read_sudo_password
exec </dev/null

config=$(microk8s config)
if ! grep -Eq '^[[:space:]]*server: https://' <<<"$config"; then
  die "microk8s config printed no 'server: https://...' line"
fi
printf '%s\n' "$config" | sed -E "s#^([[:space:]]*server: https://).*(:[0-9]+)[[:space:]]*\$#\\1${server}\\2#"
log "kubeconfig read; its server is https://$server"
