"""The cluster's health as the upgrade (and, later, `validate` and `drill`) checks it: every configured node
Ready under its hostname, and the Gateway Manager answering on the floating IP.

Node readiness runs the program's own health gate (``components/scripts/health.sh``, the script every
``pulumi up`` runs on the primary) over SSH, as the program reaches the nodes: as ``sshUser``, with the stack's
key or password, the sudo password on stdin, and the pinned ``sshHostKey`` enforced where one is set. An
OpenSSH client config (``ssh_config``) may map the nodes' addresses to aliases, ports and jump hosts (asyncssh
reads it). The manager answers when a TLS handshake and an HTTP response come back from ``floatingIp:5480``:
nothing secret is sent, so the certificate is not judged here.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from components import config as cfg
from components import scripts
from gatewayctl.checks import Check, failed, ok

#: The Gateway Manager's port on the floating IP.
MANAGER_PORT = 5480


@dataclass(frozen=True)
class Credentials:
    """How to log in to the nodes: the stack's SSH key and/or password (the password also feeds sudo)."""

    private_key: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Reach:
    """How to reach the nodes: credentials, an optional OpenSSH client config, and a timeout per probe."""

    credentials: Credentials
    ssh_config: Path | None = None
    timeout: float = 30.0


def _known_hosts(
    node: cfg.NodeSettings,
) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] | None:
    """The pinned host key as the only trusted one; ``None`` (any key, as the program accepts) when none is."""
    if node.ssh_host_key is None:
        return None
    return ([asyncssh.import_public_key(node.ssh_host_key)], [], [])


async def run_on_node(
    settings: cfg.Settings, node: cfg.NodeSettings, reach: Reach, command: str
) -> tuple[int, str, str]:
    """Runs ``command`` on ``node`` with the sudo password line on stdin; (exit code, stdout, stderr)."""
    creds = reach.credentials
    keys = [asyncssh.import_private_key(creds.private_key)] if creds.private_key else []
    async with asyncssh.connect(
        str(node.ip),
        username=settings.ssh_user,
        config=[str(reach.ssh_config)] if reach.ssh_config else (),
        known_hosts=_known_hosts(node),
        client_keys=keys or None,
        password=creds.password,
        agent_path=None,
        connect_timeout=reach.timeout,
    ) as conn:
        result = await conn.run(command, input=f"{creds.password or ''}\n", check=False, timeout=reach.timeout * 20)
    return int(result.exit_status or 0), str(result.stdout or ""), str(result.stderr or "")


def nodes_ready(settings: cfg.Settings, reach: Reach, wait_seconds: int = 30) -> Check:
    """``node.ready``: the health gate on the primary, for every configured hostname."""
    primary = settings.primary_node
    command = scripts.health_command([n.hostname for n in settings.nodes], wait_seconds)
    try:
        code, _, err = asyncio.run(run_on_node(settings, primary, reach, command))
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        return failed(
            "node.ready",
            primary.hostname,
            f"cannot run the health gate on the primary {primary.hostname} ({primary.ip}): {exc}",
            "Check that the primary answers SSH as gateway-cluster:sshUser (and its pinned sshHostKey)",
        )
    if code != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
        return failed(
            "node.ready",
            primary.hostname,
            f"not every node is Ready under its hostname: {last}",
            "Look at the node named (`microk8s kubectl get nodes` on the primary) before going on",
        )
    return ok("node.ready", primary.hostname, f"all {len(settings.nodes)} node(s) Ready")


def manager_answers(address: str, timeout: float, port: int = MANAGER_PORT) -> Check:
    """``manager.https``: an HTTP answer over TLS on ``address:port``."""
    target = f"{address}:{port}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    try:
        connection.request("GET", "/")
        status = connection.getresponse().status
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return failed(
            "manager.https",
            target,
            f"the Gateway Manager does not answer HTTPS on {target}: {exc}",
            "Check the gateway-manager pods and MetalLB's pool (`microk8s kubectl get pods -A`)",
        )
    finally:
        connection.close()
    return ok("manager.https", target, f"the Gateway Manager answers on {target} (HTTP {status})")


def cluster_health(settings: cfg.Settings, reach: Reach) -> list[Check]:
    return [nodes_ready(settings, reach), manager_answers(str(settings.floating_ip), reach.timeout)]


def wait_healthy(
    probe: Callable[[], Sequence[Check]],
    *,
    timeout: float,
    interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Runs ``probe`` until every row passes (``None``) or ``timeout`` runs out (what still fails)."""
    deadline = clock() + timeout
    while True:
        rows = probe()
        bad = [r for r in rows if r.status == "fail"]
        if not bad:
            return None
        if clock() + interval > deadline:
            return "; ".join(f"{r.id} {r.target}: {r.message}" for r in bad)
        sleep(interval)
