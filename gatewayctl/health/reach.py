"""Reaching the nodes as the program does: SSH as ``sshUser``, with the stack's key or password (the password also
feeds sudo, on stdin), the pinned ``sshHostKey`` enforced where one is set.

Keys are tried in this order: ``--identity``, else the ssh-agent (``SSH_AUTH_SOCK``); then the stack's
``sshPrivateKey``. The password is ``GATEWAY_SSH_PASSWORD``, else the stack's ``sshPassword``. An OpenSSH client
config (``--ssh-config``) may give the nodes' addresses aliases, ports, users, known hosts and jump hosts
(``ProxyJump``), which asyncssh reads itself; the login user is always ``sshUser``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components import config as cfg

if TYPE_CHECKING:
    import asyncssh

#: The environment variable a password may come from, ahead of the stack's secret.
PASSWORD_ENV = "GATEWAY_SSH_PASSWORD"
#: The environment variable the Gateway Manager's password may come from, ahead of the stack's secret.
MANAGER_PASSWORD_ENV = "GATEWAY_MANAGER_PASSWORD"
#: The stack's secrets the commands that reach the cluster read (through the Automation API, where it can).
STACK_SECRETS: tuple[str, ...] = tuple(
    f"{cfg.NAMESPACE}:{k}" for k in ("sshPrivateKey", "sshPassword", "managerPassword")
)


def manager_password(stack_secrets: Mapping[str, str | None], env: Mapping[str, str] | None = None) -> str | None:
    """The manager's password: ``GATEWAY_MANAGER_PASSWORD``, else the stack's ``managerPassword``."""
    env = os.environ if env is None else env
    return env.get(MANAGER_PASSWORD_ENV) or stack_secrets.get(f"{cfg.NAMESPACE}:managerPassword")


@dataclass(frozen=True)
class Credentials:
    """How to log in to the nodes: private keys (in the order tried), the ssh-agent, a password."""

    private_key: str | None = None
    """The stack's ``sshPrivateKey``."""
    password: str | None = None
    identity: Path | None = None
    """``--identity``: tried first, and then the agent is not."""
    agent: str | None = None
    """The ssh-agent's socket, when one is to be used."""

    @classmethod
    def resolve(
        cls,
        stack_secrets: Mapping[str, str | None],
        *,
        identity: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        env = os.environ if env is None else env
        return cls(
            private_key=stack_secrets.get(f"{cfg.NAMESPACE}:sshPrivateKey"),
            password=env.get(PASSWORD_ENV) or stack_secrets.get(f"{cfg.NAMESPACE}:sshPassword"),
            identity=identity,
            agent=None if identity is not None else env.get("SSH_AUTH_SOCK") or None,
        )


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
    import asyncssh  # at first use, as in run_on_node

    return ([asyncssh.import_public_key(node.ssh_host_key)], [], [])


def _client_keys(creds: Credentials) -> list[asyncssh.SSHKey] | None:
    import asyncssh  # at first use, as in run_on_node

    keys = []
    if creds.identity is not None:
        keys.append(asyncssh.read_private_key(str(creds.identity)))
    if creds.private_key:
        keys.append(asyncssh.import_private_key(creds.private_key))
    # An explicit list: never the user's default key files, which the program would not use either.
    return keys or None


async def run_on_node(
    settings: cfg.Settings, node: cfg.NodeSettings, reach: Reach, command: str
) -> tuple[int, str, str]:
    """Runs ``command`` on ``node`` with the sudo password line on stdin; (exit code, stdout, stderr)."""
    # Imported at first use: asyncssh takes 0.2 s to import, which the checks' pure parts (and their tests) need not.
    import asyncssh

    creds = reach.credentials
    async with asyncssh.connect(
        str(node.ip),
        username=settings.ssh_user,
        config=[str(reach.ssh_config)] if reach.ssh_config else (),
        known_hosts=_known_hosts(node),
        client_keys=_client_keys(creds),
        password=creds.password,
        agent_path=creds.agent,
        connect_timeout=reach.timeout,
    ) as conn:
        result = await conn.run(command, input=f"{creds.password or ''}\n", check=False, timeout=reach.timeout * 20)
    return int(result.exit_status or 0), str(result.stdout or ""), str(result.stderr or "")


def reach_from(args: argparse.Namespace, stack_secrets: Mapping[str, str | None], *, timeout: float = 30.0) -> Reach:
    """The :class:`Reach` the command line and the stack's secrets give."""
    return Reach(
        Credentials.resolve(stack_secrets, identity=Path(args.identity) if args.identity else None),
        ssh_config=Path(args.ssh_config) if args.ssh_config else None,
        timeout=timeout,
    )
