"""ClusterFormation: N fresh gateway VMs turned into one MicroK8s cluster, step by step as in the run-book."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components import scripts
from components.addons import ClusterAddons, ClusterAddonsArgs
from components.bootstrap import ClusterBootstrap, ClusterBootstrapArgs
from components.config import Secrets, Settings
from components.join import ClusterJoin, ClusterJoinArgs
from components.remote import RemoteNode, connection, step, sudo_stdin


@dataclass(frozen=True)
class ClusterFormationArgs:
    """The validated config and the nodes' VMs."""

    settings: Settings
    """Nodes, primary, SSH user and MetalLB range, validated by ``components.config``."""
    secrets: Secrets
    """The SSH key and/or password (also sudo's password), as Pulumi secrets."""
    vm_ids: Sequence[pulumi.Input[str]]
    """Each node's VM ID, in the order of ``settings.nodes``: every step on a node waits for its VM."""


class ClusterFormation(pulumi.ComponentResource):
    """The run-book's cluster steps, in order:

    1. bootstrap (``ClusterBootstrap``): hostname, MicroK8s, stale node object, /etc/hosts; all nodes at once;
    2. join (``ClusterJoin``): one token per joining node, issued on the primary, joins one node at a time
       (every node has its join steps, the primary's do nothing, so that moving the primary deletes none);
    3. addons (``ClusterAddons``): dns and MetalLB, after the last join;
    4. ``<name>-kubeconfig``: the cluster's kubeconfig from the primary, a secret;
    5. ``<name>-health``: the health gate, every node Ready; what comes next waits for :attr:`ready`.

    Scale-in is the delete side of the join steps: ``microk8s leave`` on the node, then ``remove-node`` on the
    primary, before the node's VM is deleted.
    """

    kubeconfig: pulumi.Output[str]
    """The cluster's kubeconfig, server ``https://<primary IP>:16443``. Secret."""
    members: pulumi.Output[list[str]]
    """The cluster's nodes: the primary first, then the others in join order."""

    def __init__(self, name: str, args: ClusterFormationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:ClusterFormation", name, None, opts)
        settings = args.settings
        if len(args.vm_ids) != len(settings.nodes):
            raise ValueError(f"{len(settings.nodes)} nodes but {len(args.vm_ids)} VM IDs")
        nodes = [
            RemoteNode(node=n, vm_id=vm_id, connection=connection(n, settings.ssh_user, args.secrets))
            for n, vm_id in zip(settings.nodes, args.vm_ids, strict=True)
        ]
        primary = next(n for n in nodes if n.hostname == settings.primary)
        child = pulumi.ResourceOptions(parent=self)
        # Every step runs MicroK8s as root (see lib.sh), so every step gets the sudo password line on stdin.
        sudo = sudo_stdin(args.secrets)

        self.bootstrap = ClusterBootstrap(
            f"{name}-bootstrap",
            ClusterBootstrapArgs(nodes=nodes, sudo_stdin=sudo),
            opts=child,
        )
        self.join = ClusterJoin(
            f"{name}-join",
            ClusterJoinArgs(
                primary=primary,
                nodes=nodes,
                secrets=args.secrets,
                after=self.bootstrap.steps,
            ),
            opts=child,
        )
        formed: Sequence[pulumi.Resource] = [self.join.last] if self.join.last is not None else self.bootstrap.steps
        self.addons = ClusterAddons(
            f"{name}-addons",
            ClusterAddonsArgs(primary=primary, metallb_range=settings.metallb_range, sudo_stdin=sudo, after=formed),
            opts=child,
        )
        kubeconfig = step(
            f"{name}-kubeconfig",
            primary,
            scripts.kubeconfig_command(primary.ip),
            stdin=sudo,
            stdout_secret=True,
            triggers=[primary.vm_id],
            depends_on=[self.addons.enable],
            parent=self,
        )
        # The gate names every node, so adding or removing one runs it again; a rebuilt VM does too.
        self.ready: command.remote.Command = step(
            f"{name}-health",
            primary,
            scripts.health_command([n.hostname for n in nodes]),
            stdin=sudo,
            triggers=[n.vm_id for n in nodes],
            depends_on=[*self.bootstrap.steps, *self.join.joins.values(), self.addons.enable, kubeconfig],
            parent=self,
        )
        """The health gate: every node Ready. Later steps (the Helm releases) depend on it."""
        self.kubeconfig = pulumi.Output.secret(kubeconfig.stdout)
        self.kubeconfig_vm: pulumi.Input[str] = primary.vm_id
        """The VM the kubeconfig is read from (the primary's). Clones of one OVA share MicroK8s' CA
        (docs/upstream-facts.md M16), so when the only node is rebuilt, this, not the kubeconfig, tells that the
        cluster is a new one."""
        self.members = self.join.members
        self.register_outputs({"kubeconfig": self.kubeconfig, "members": self.members})
