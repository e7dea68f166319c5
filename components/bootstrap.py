"""ClusterBootstrap: every node prepared for clustering, all nodes in parallel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components import scripts
from components.remote import RemoteNode, step


@dataclass(frozen=True)
class ClusterBootstrapArgs:
    """The nodes to prepare and how to become root on them."""

    nodes: Sequence[RemoteNode]
    """Every node of the cluster, in config order."""
    sudo_stdin: pulumi.Input[str] | None
    """The secret password line ``sudo -S`` reads, or ``None`` when sudo needs no password."""


class ClusterBootstrap(pulumi.ComponentResource):
    """Per node, two steps that run in parallel with every other node's:

    - ``<hostname>-bootstrap``: the hostname set, MicroK8s registered under it (restarted only when it is not),
      the stale node object of the OVA's original hostname deleted. Its inputs name only this node, so a node
      added or removed elsewhere never runs it again: MicroK8s is never restarted on every node at once.
    - ``<hostname>-hosts``: the managed block of ``/etc/hosts`` listing every node. Adding or removing a node
      rewrites this block on every node, and nothing else.
    """

    hostnames: pulumi.Output[list[str]]
    """The nodes prepared, in config order."""

    def __init__(self, name: str, args: ClusterBootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:ClusterBootstrap", name, None, opts)
        entries = [(n.ip, n.hostname) for n in args.nodes]
        self.bootstraps: dict[str, command.remote.Command] = {}
        self.hosts: dict[str, command.remote.Command] = {}
        for node in args.nodes:
            # The VM's ID as a trigger: a node rebuilt under the same name (a new VM) is bootstrapped again.
            self.bootstraps[node.hostname] = step(
                f"{node.hostname}-bootstrap",
                node,
                scripts.bootstrap_command(node.hostname),
                stdin=args.sudo_stdin,
                triggers=[node.vm_id],
                parent=self,
            )
            self.hosts[node.hostname] = step(
                f"{node.hostname}-hosts",
                node,
                scripts.hosts_command(entries),
                stdin=args.sudo_stdin,
                triggers=[node.vm_id],
                parent=self,
            )
        self.steps: list[command.remote.Command] = [*self.bootstraps.values(), *self.hosts.values()]
        self.hostnames = pulumi.Output.from_input([n.hostname for n in args.nodes])
        self.register_outputs({"hostnames": self.hostnames})
