#!/usr/bin/env bash
# Helpers shared by every step script. components/scripts.py prepends this file to a step's own script, and
# the result runs as `bash -c SCRIPT STEP-NAME ARGS...`: $0 is the step's name, which every log line carries.
#
# Output rules: everything a step says goes to stderr (Pulumi shows it; stdout stays free for a value such as
# the kubeconfig). A secret (sudo password, join token) only ever arrives on stdin, never as an argument of a
# step (MicroK8s' own add-node and join do take the token as an argument: see components/scripts.py).
# Not every step uses every helper: the rendered script would otherwise draw "never invoked" notes.
# shellcheck disable=SC2317,SC2329
set -euo pipefail

STEP=${0##*/}

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "$STEP" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
  log "ERROR: $*"
  exit 1
}

# The operator's sudo password, when the stack sets sshPassword: the first line of stdin. Empty otherwise, and
# then sudo must not ask for one (NOPASSWD), or as_root fails at once instead of hanging on a prompt.
SUDO_PASSWORD=""
read_sudo_password() { IFS= read -r SUDO_PASSWORD || true; }

# Runs a command as root. The password goes to `sudo -S` through a here-string: never on a command line. -k:
# sudo always reads it, even with a cached credential, so the line never reaches the command's own stdin.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif [ -n "$SUDO_PASSWORD" ]; then
    sudo -S -k -p '' -- "$@" <<<"$SUDO_PASSWORD"
  else
    # Asked apart from the command, so that a failing command is not mistaken for a sudo that wants a password.
    sudo -n true 2>/dev/null || die "sudo needs a password here: set it with \`pulumi config set --secret sshPassword\`"
    sudo -n -- "$@"
  fi
}

# MicroK8s as root. Its own `start`, `stop`, `join` and `leave` (and addon scripts) call plain `sudo`, which
# has no terminal to ask on over a non-interactive SSH session, and the rest needs the `microk8s` group: as
# root, every subcommand works whatever the login user may do. The path is resolved here because sudo's
# secure_path need not list /snap/bin.
microk8s() {
  local bin
  bin=$(type -P microk8s) || die "microk8s is not installed (not on PATH)"
  as_root "$bin" "$@"
}

# `microk8s` as root, stopped after $1 seconds.
microk8s_within() {
  local seconds=$1 bin
  shift
  bin=$(type -P microk8s) || die "microk8s is not installed (not on PATH)"
  as_root timeout "$seconds" "$bin" "$@"
}

# The join token: one line on stdin, at least 32 characters (MicroK8s' minimum).
TOKEN=""
read_token() {
  IFS= read -r TOKEN || true
  [ "${#TOKEN}" -ge 32 ] || die "no join token of at least 32 characters on stdin"
}

# Text with the token replaced, for logs and error messages.
mask_token() {
  local text=$1
  if [ -n "$TOKEN" ]; then
    text=${text//"$TOKEN"/[token]}
  fi
  printf '%s' "$text"
}

# MicroK8s' status once it is ready, waiting at most $1 seconds; fails when it is not running. A stopped MicroK8s
# answers `status --wait-ready` with "microk8s is not running, try microk8s start" and exit code 0 (its
# exit_if_stopped), so the exit code alone does not tell.
microk8s_status() {
  local out
  out=$(microk8s status --wait-ready --timeout "$1" 2>&1) || return 1
  case $out in
    "microk8s is running"*) printf '%s\n' "$out" ;;
    *) return 1 ;;
  esac
}

# The number of dqlite members (voters and standbys) in the `microk8s status` text on stdin: the addresses on its
# "datastore master nodes:" and "datastore standby nodes:" lines ("none" when there are none). 0 when neither
# line is there (not an HA-enabled dqlite datastore): the caller cannot tell, and must do the safe thing.
datastore_members() {
  awk '/datastore (master|standby) nodes:/ { for (i = 4; i <= NF; i++) if ($i != "none") n++ } END { print n + 0 }'
}

# Whether node $1 is listed and Ready in the cluster this host belongs to.
node_ready() {
  microk8s kubectl get node "$1" --no-headers 2>/dev/null | awk '$2 ~ /^Ready/ { ok = 1 } END { exit !ok }'
}
