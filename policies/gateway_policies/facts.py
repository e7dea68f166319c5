"""The facts contract: what a ``GatewayCluster`` component passes as its inputs, which the policies judge.

One definition of the keys, used by all three sides: the program builds the facts
(``components/cluster.py``: ``cluster_facts``, typed :class:`ClusterFacts`), the pack reads them
(``cluster_inputs.py``, through paths :func:`fact_path` checks against these types when the pack is
imported), and the tests fake them (``tests/support/policy_fixtures.py``: ``FACTS``, typed :class:`ClusterFacts`).

The facts are plain values known at preview time (config values, no resource outputs), so a real
``pulumi preview`` and the offline ``gatewayctl plan`` judge the same facts. Standard library only: the
program imports this module without the pack's dependencies, and the pack stays publishable on its own.
"""

from __future__ import annotations

import types
from typing import Any, Final, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

#: The component's type token, as the program registers it.
CLUSTER: Final = "gateway-cluster:index:GatewayCluster"


class NetworkFacts(TypedDict):
    cidr: str
    """The nodes' subnet in CIDR form, e.g. ``10.20.30.0/24``."""
    gateway: str
    dns: list[str]
    dhcpRanges: list[str]
    """Each ``first-last``."""


class NodeFacts(TypedDict):
    hostname: str
    ip: str
    esxiHost: str
    sshHostKeyPinned: bool
    """Whether the node's SSH host key is pinned (the key itself is not a fact the pack needs)."""


class NodeSizeFacts(TypedDict):
    cpus: int
    memoryMb: int
    diskGb: int


class StorageFacts(TypedDict):
    nfsServer: str
    nfsPath: str


class OvaFacts(TypedDict):
    version: str
    source: str
    """The OVA's URL or local path."""
    deploy: str
    """``library`` or ``ovf``."""


class ClusterFacts(TypedDict):
    """The inputs of one ``GatewayCluster`` component (config keys without the ``gateway-cluster:`` prefix)."""

    network: NetworkFacts
    floatingIp: str
    metallbRange: str
    primary: str
    rebuild: list[str]
    """Hostnames of the nodes this update rebuilds from the current image (empty: none)."""
    nodes: list[NodeFacts]
    nodeSize: NodeSizeFacts
    storage: StorageFacts | None
    """``None`` for a single node on local disks."""
    ova: OvaFacts


FactPath = tuple[str | int, ...]


def fact_path(within: type, *steps: str | int) -> FactPath:
    """``steps`` as a path into facts of type ``within`` (e.g. :class:`ClusterFacts`), checked: each key must
    be one the type declares, each index must step into a list. A path the contract does not have raises
    ``KeyError``, so a misspelt key in the pack fails as soon as the pack is imported, not silently at preview."""
    current: Any = within
    for step in steps:
        if get_origin(current) in (Union, types.UnionType):  # `X | None`: step into X
            current = next(arm for arm in get_args(current) if arm is not type(None))
        if isinstance(step, int):
            if get_origin(current) is not list:
                raise KeyError(f"{steps}: {step} indexes {current}, not a list")
            current = get_args(current)[0]
            continue
        fields = get_type_hints(current) if is_typeddict(current) else {}
        if step not in fields:
            raise KeyError(f"{steps}: {step!r} is not a key of {getattr(current, '__name__', current)}")
        current = fields[step]
    return steps
