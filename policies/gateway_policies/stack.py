"""The resource types the policies judge, and how stack policies group resources by gateway cluster.

Stack policies get every resource's *outputs* (for a component: what it passed to ``register_outputs``).
They judge facts spread over several VMs or releases: node count, ESXi hosts, the storage release. A VM's
or release's inputs are among its outputs, so these stay inputs, as the program wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pulumi_policy import PolicyResource

from .facts import CLUSTER
from .readers import text

VM: Final = "vsphere:index/virtualMachine:VirtualMachine"
LIBRARY_ITEM: Final = "vsphere:index/contentLibraryItem:ContentLibraryItem"
RELEASE: Final = "kubernetes:helm.sh/v3:Release"
STORAGE_RELEASE: Final = "gateway-persistent-storage"


def cluster_of(resource: PolicyResource) -> PolicyResource | None:
    """The nearest ``GatewayCluster`` ancestor, if any."""
    parent = resource.parent
    while parent is not None:
        if parent.resource_type == CLUSTER:
            return parent
        parent = parent.parent
    return None


def by_cluster(resources: Sequence[PolicyResource], type_: str) -> dict[str | None, list[PolicyResource]]:
    """Resources of one type grouped by the URN of their cluster (``None``: not inside any cluster)."""
    groups: dict[str | None, list[PolicyResource]] = {}
    for r in resources:
        if r.resource_type == type_:
            cluster = cluster_of(r)
            groups.setdefault(cluster.urn if cluster else None, []).append(r)
    return groups


def vm_name(vm: PolicyResource) -> str:
    name = text(vm.props, "name")
    return name if isinstance(name, str) else vm.name


def cluster_label(resources: Sequence[PolicyResource], urn: str | None) -> str:
    for r in resources:
        if r.urn == urn:
            return f"gateway cluster '{r.name}'"
    return "the stack's gateway VMs"
