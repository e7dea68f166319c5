"""The remote steps of cluster formation, rendered as command lines: pure functions, no Pulumi.

Every step is a real script in ``components/scripts/`` (``set -euo pipefail``, shellcheck-clean). A command
line is ``bash -c <lib.sh + step script> gateway-<step> <arguments...>``, every part quoted with
:func:`shlex.quote`, so a value can never become shell syntax. Secrets (the sudo password, a join token) are
never arguments of a step: the steps read them from stdin, which keeps them out of the command strings Pulumi
shows in a diff and out of the provider's error messages (which quote the command line).

Known limitation: MicroK8s' CLI takes a join token only as an argument, so ``microk8s add-node --token T`` (on
the primary, for about a second) and ``microk8s join <ip>:25000/T`` (on the joining node, for the join) show
the token in that VM's process list to its local users. The token's TTL (:data:`JOIN_TOKEN_TTL_SECONDS`)
bounds what a seen token is worth; no other MicroK8s interface avoids it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import cache
from pathlib import Path

SCRIPTS_DIR = Path(__file__).parent / "scripts"

#: The step scripts, by step name (``components/scripts/<step>.sh``).
STEPS: tuple[str, ...] = (
    "bootstrap",
    "hosts",
    "add-node",
    "join",
    "addons",
    "kubeconfig",
    "health",
    "leave",
    "remove-node",
    # Read-only, not a formation step: what `gatewayctl validate`, `upgrade` and `drill` judge.
    "facts",
)

#: How long a step waits for MicroK8s to be ready, a node to register or a join to finish.
WAIT_SECONDS = 600
#: A join token's lifetime. A token with a TTL survives a failed join (a single-use one is consumed before the
#: join is even checked), so retries reuse it; it must outlive one join's retries with room for a re-run.
JOIN_TOKEN_TTL_SECONDS = 1800
#: Join attempts, and the first pause between two of them (doubling, at most 60 s): 2+4+...+60 s in all.
JOIN_ATTEMPTS = 8
JOIN_FIRST_DELAY_SECONDS = 2
#: How long the health gate waits for each node to be Ready.
HEALTH_TIMEOUT_SECONDS = 300
#: The port of MicroK8s' cluster agent, which `microk8s join` contacts.
CLUSTER_AGENT_PORT = 25000


@cache
def script_text(step: str) -> str:
    """The full script of a step: the shared helpers, then the step's own file."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    lib = (SCRIPTS_DIR / "lib.sh").read_text()
    body = (SCRIPTS_DIR / f"{step}.sh").read_text()
    return f"{lib}\n# ---- {step}.sh\n{body}"


def command_line(script: str, name: str, *args: str) -> str:
    """``bash -c SCRIPT NAME ARGS...``, every part quoted: runs under bash whatever the login shell is."""
    return " ".join(shlex.quote(part) for part in ("bash", "-c", script, name, *args))


def render(step: str, *args: str) -> str:
    """The command line that runs ``step`` with ``args``; ``$0`` (the name in its log lines) is gateway-<step>."""
    return command_line(script_text(step), f"gateway-{step}", *args)


def url_host(address: str) -> str:
    """An address as it goes before a ``:port``: IPv6 in brackets."""
    return f"[{address}]" if ":" in address else address


def bootstrap_command(hostname: str) -> str:
    """Hostname, MicroK8s registered under it (restarting only if it is not), stale node object deleted.

    Takes nothing but the node's own name, so that adding or removing another node never re-runs it."""
    return render("bootstrap", hostname, str(WAIT_SECONDS))


def hosts_command(entries: Sequence[tuple[str, str]]) -> str:
    """Writes ``(ip, hostname)`` entries as the managed block of /etc/hosts."""
    if not entries:
        raise ValueError("hosts_command needs at least one (ip, hostname) entry")
    return render("hosts", *(part for entry in entries for part in entry))


def add_node_command(hostname: str, primary_hostname: str, ttl_seconds: int = JOIN_TOKEN_TTL_SECONDS) -> str:
    """On the primary: issues the join token read from stdin for ``hostname``, unless it is a Ready member. The
    primary's own step (on its deputy) issues none, and fails when the primary's VM is new in a formed cluster."""
    return render("add-node", hostname, primary_hostname, str(ttl_seconds), str(WAIT_SECONDS))


def join_command(primary_ip: str, primary_hostname: str, hostname: str) -> str:
    """On ``hostname``: joins the primary with the token read from stdin, retried with backoff (nothing on the
    primary itself)."""
    return render(
        "join",
        url_host(primary_ip),
        primary_hostname,
        hostname,
        str(JOIN_ATTEMPTS),
        str(JOIN_FIRST_DELAY_SECONDS),
        str(WAIT_SECONDS),
    )


def leave_command(hostname: str) -> str:
    """On ``hostname`` when it leaves: ``microk8s leave`` whenever its cluster has other members; never fails.

    It names no primary: a delete runs with the inputs stored at the last update, when the departing node may
    still have been the primary."""
    return render("leave", hostname, str(WAIT_SECONDS))


def remove_node_command(hostname: str) -> str:
    """On a remaining member after ``hostname`` left: ``microk8s remove-node`` (``--force`` when it never left);
    never on the host itself; never fails."""
    return render("remove-node", hostname, str(WAIT_SECONDS))


def addons_command(metallb_range: str) -> str:
    """On the primary: ``dns`` and ``metallb:<range>`` enabled (a changed range is patched in place)."""
    return render("addons", metallb_range, str(WAIT_SECONDS))


def kubeconfig_command(primary_ip: str) -> str:
    """On the primary: prints ``microk8s config`` with the server set to ``https://<primary_ip>:<port>``."""
    return render("kubeconfig", url_host(primary_ip))


def health_command(hostnames: Sequence[str], timeout_seconds: int = HEALTH_TIMEOUT_SECONDS) -> str:
    """On the primary: fails naming every node of ``hostnames`` that is not Ready."""
    if not hostnames:
        raise ValueError("health_command needs at least one hostname")
    return render("health", str(timeout_seconds), *hostnames)


def facts_command(hostnames: Sequence[str], *, cluster_wide: bool) -> str:
    """Reads what the health checks judge on one node (``facts.sh``); the cluster-wide node also reads the
    cluster's nodes, MetalLB pool, pods and claims."""
    if not hostnames:
        raise ValueError("facts_command needs at least one hostname")
    return render("facts", "yes" if cluster_wide else "no", *hostnames)
