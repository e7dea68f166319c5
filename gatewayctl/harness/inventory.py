"""The fake vSphere inventory: answers the program's data-source invokes (``vsphere.get_host`` and the like).

Re-check on every vSphere provider upgrade: the data-source tokens and the result keys the program reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayctl.harness.fakes import stable_number


class InventoryError(Exception):
    """A vSphere look-up found nothing: the message is the provider's kind of error."""


class Inventory(Protocol):
    """Answers the program's vSphere data-source invokes (``vsphere:index/getHost:getHost`` and the like)."""

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]: ...


#: The vSphere data sources the program calls: token to (kind, managed object ID prefix).
DATA_SOURCES: Mapping[str, tuple[str, str]] = {
    "vsphere:index/getDatacenter:getDatacenter": ("datacenter", "datacenter-"),
    "vsphere:index/getHost:getHost": ("host", "host-"),
    "vsphere:index/getDatastore:getDatastore": ("datastore", "datastore-"),
    "vsphere:index/getNetwork:getNetwork": ("network", "network-"),
    "vsphere:index/getComputeCluster:getComputeCluster": ("cluster", "domain-c"),
    "vsphere:index/getResourcePool:getResourcePool": ("resourcePool", "resgroup-"),
}


@dataclass(frozen=True)
class DeclaredInventory:
    """Everything the config names exists, with managed object IDs derived from the names.

    ``missing`` holds ``(kind, name)`` pairs that do not exist, e.g. ``("host", "esx-09")``, to test how the
    program reports a look-up that finds nothing.
    """

    missing: frozenset[tuple[str, str]] = frozenset()

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if token not in DATA_SOURCES:
            raise InventoryError(f"the offline inventory cannot answer {token}")
        kind, prefix = DATA_SOURCES[token]
        name = str(args.get("name") or args.get("path") or "")
        if (kind, name) in self.missing:
            raise InventoryError(f"{kind} '{name}' not found")
        result: dict[str, Any] = {"id": f"{prefix}{stable_number(kind, name)}", "name": name}
        if "datacenterId" in args:
            result["datacenterId"] = args["datacenterId"]
        if kind in ("host", "cluster"):
            result["resourcePoolId"] = f"resgroup-{stable_number('pool', kind, name)}"
        return result
