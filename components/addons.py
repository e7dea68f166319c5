"""ClusterAddons: the MicroK8s addons the gateway needs, enabled once the cluster has formed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components import scripts
from components.remote import RemoteNode, step


@dataclass(frozen=True)
class ClusterAddonsArgs:
    """Where to enable the addons, with what, and after what."""

    primary: RemoteNode
    """The node the addons are enabled from (an addon is cluster-wide)."""
    metallb_range: str
    """MetalLB's address pool: the floating IP alone by default, or config ``metallbRange``."""
    sudo_stdin: pulumi.Input[str] | None
    """The secret password line ``sudo -S`` reads (MicroK8s runs as root), or ``None`` when sudo needs none."""
    after: Sequence[pulumi.Resource]
    """The last join (or, for one node, its bootstrap): addons enabled earlier would miss the later nodes."""


class ClusterAddons(pulumi.ComponentResource):
    """``dns`` and ``metallb:<range>`` enabled on the cluster, idempotently (``<name>-enable``)."""

    metallb_range: pulumi.Output[str]
    """The MetalLB pool the manager's floating IP is served from."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:ClusterAddons", name, None, opts)
        self.enable = step(
            f"{name}-enable",
            args.primary,
            scripts.addons_command(args.metallb_range),
            stdin=args.sudo_stdin,
            # A rebuilt primary (a new VM) starts without addons.
            triggers=[args.primary.vm_id],
            depends_on=args.after,
            parent=self,
        )
        self.metallb_range = pulumi.Output.from_input(args.metallb_range)
        self.register_outputs({"metallbRange": self.metallb_range})
