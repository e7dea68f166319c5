"""The ``GatewayCluster`` component's inputs (the facts contract, ``facts.py``) as the resource policies read
them.

The subnet, DHCP pools, floating IP and hostnames are inputs of that component only, so the policies that
judge them are resource policies on it. Each path read here is checked against the contract's types when
the pack is imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from .facts import CLUSTER, ClusterFacts, NodeFacts, StorageFacts, fact_path
from .readers import known_items, text, value

__all__ = [
    "CIDR",
    "CLUSTER",
    "DHCP_RANGES",
    "FLOATING_IP",
    "GATEWAY",
    "HOSTNAME",
    "IP",
    "JUDGED",
    "METALLB_RANGE",
    "NFS_PATH",
    "NFS_SERVER",
    "NODES",
    "REBUILD",
    "SSH_HOST_KEY_PINNED",
    "STORAGE",
    "ClusterAddress",
    "cluster_addresses",
]

CIDR: Final = fact_path(ClusterFacts, "network", "cidr")
GATEWAY: Final = fact_path(ClusterFacts, "network", "gateway")
DHCP_RANGES: Final = fact_path(ClusterFacts, "network", "dhcpRanges")
FLOATING_IP: Final = fact_path(ClusterFacts, "floatingIp")
METALLB_RANGE: Final = fact_path(ClusterFacts, "metallbRange")
NODES: Final = fact_path(ClusterFacts, "nodes")
REBUILD: Final = fact_path(ClusterFacts, "rebuild")
STORAGE: Final = fact_path(ClusterFacts, "storage")
HOSTNAME: Final = fact_path(NodeFacts, "hostname")
IP: Final = fact_path(NodeFacts, "ip")
SSH_HOST_KEY_PINNED: Final = fact_path(NodeFacts, "sshHostKeyPinned")
NFS_SERVER: Final = fact_path(StorageFacts, "nfsServer")
NFS_PATH: Final = fact_path(StorageFacts, "nfsPath")

#: The component's facts the policies judge (each must be known during a real preview; the tests check).
JUDGED: Final = frozenset(
    str(p[0]) for p in (CIDR, GATEWAY, DHCP_RANGES, FLOATING_IP, METALLB_RANGE, NODES, STORAGE, REBUILD)
)


@dataclass(frozen=True)
class ClusterAddress:
    """One static address of the cluster and what it is for, as the messages name it."""

    label: str
    """e.g. ``node 'gw-1' (gateway-cluster:nodes[0].ip)``."""
    raw: Any
    """The value as given (a string, or ``UNKNOWN``)."""


def cluster_addresses(props: Any) -> Iterator[ClusterAddress]:
    """Each node's IP, then the floating IP."""
    for i, node in enumerate(known_items(props, *NODES)):
        hostname = text(node, *HOSTNAME)
        name = hostname if isinstance(hostname, str) else f"#{i}"
        yield ClusterAddress(f"node '{name}' (gateway-cluster:nodes[{i}].ip)", value(node, *IP))
    yield ClusterAddress("the floating IP (gateway-cluster:floatingIp)", value(props, *FLOATING_IP))
