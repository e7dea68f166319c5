"""What every remote step shares: the SSH connection to a node, and how a step's secrets are handled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.config import NodeSettings, Secrets


@dataclass(frozen=True)
class RemoteNode:
    """One node as the remote steps see it."""

    node: NodeSettings
    """Hostname, IP and (optionally) the pinned SSH host key, from config."""
    vm_id: pulumi.Input[str]
    """The node's VM: a step that must run again on a new VM of the same name uses it as a trigger."""
    connection: command.remote.ConnectionArgs
    """How to reach the node over SSH as ``sshUser``."""

    @property
    def hostname(self) -> str:
        return self.node.hostname

    @property
    def ip(self) -> str:
        return str(self.node.ip)


def connection(node: NodeSettings, ssh_user: str, secrets: Secrets) -> command.remote.ConnectionArgs:
    """SSH to the node's address as the appliance's non-root user, with the key and/or password from config.

    The provider stores the whole connection as a secret. ``host_key`` pins the node's SSH host key when the
    config gives one (without it, the provider accepts any key)."""
    return command.remote.ConnectionArgs(
        host=str(node.ip),
        port=22,
        user=ssh_user,
        private_key=secrets.ssh_private_key,
        password=secrets.ssh_password,
        host_key=node.ssh_host_key,
    )


def secret_stdin(*lines: pulumi.Input[str]) -> pulumi.Output[str]:
    """Lines for a step's stdin, as one secret string (the steps read their secrets from stdin)."""
    parts: list[pulumi.Input[str]] = []
    for line in lines:
        parts.extend([line, "\n"])
    return pulumi.Output.secret(pulumi.Output.concat(*parts))


def sudo_stdin(secrets: Secrets) -> pulumi.Output[str] | None:
    """The sudo password line for ``sudo -S``, when the stack has one (otherwise sudo must not ask)."""
    return secret_stdin(secrets.ssh_password) if secrets.ssh_password is not None else None


def sudo_and_token_stdin(secrets: Secrets, token: pulumi.Input[str]) -> pulumi.Output[str]:
    """The sudo password line (empty when the stack has none: sudo must not ask), then the join token line."""
    return secret_stdin(secrets.ssh_password if secrets.ssh_password is not None else "", token)


def step(
    name: str,
    target: RemoteNode,
    create: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    delete: pulumi.Input[str] | None = None,
    stdin: pulumi.Input[str] | None = None,
    stdout_secret: bool = False,
    triggers: Sequence[pulumi.Input[str]] = (),
    delete_before_replace: bool = False,
) -> command.remote.Command:
    """One remote step on ``target``.

    Whatever a step writes could carry what it read, so a step given a secret on stdin gets its stdout and
    stderr stored as secrets. ``stdout_secret`` marks a step whose stdout *is* a secret (the kubeconfig) or
    could hold one (``microk8s add-node`` prints the token): its logging is off. Every other step logs its
    stderr only, which is where the scripts write their progress."""
    handles_secret = stdin is not None or stdout_secret
    return command.remote.Command(
        name,
        connection=target.connection,
        create=create,
        delete=delete,
        stdin=stdin,
        # No `environment`: a stock sshd accepts only LANG and LC_* (AcceptEnv), and pulumi-command fails the step
        # when the server refuses a variable ("could not set environment variable"; docs/upstream-facts.md).
        # Nor the previous stdout/stderr as PULUMI_COMMAND_STDOUT/STDERR (the provider's default): on an update or
        # delete that would send the old output, the kubeconfig say, to the (maybe new) host's sshd.
        add_previous_output_in_env=False,
        triggers=list(triggers) or None,
        logging=command.remote.Logging.NONE if stdout_secret else command.remote.Logging.STDERR,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            additional_secret_outputs=["stdout", "stderr"] if handles_secret else None,
            delete_before_replace=delete_before_replace,
        ),
    )
