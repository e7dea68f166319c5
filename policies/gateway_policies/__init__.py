"""The gateway cluster's rules as CrossGuard policies: HA layout, one node per host, addressing, sizes, storage.

This package only defines the policies; ``policies/__main__.py`` builds the ``PolicyPack`` from them
(building it starts a gRPC server and never returns). ``gatewayctl plan`` imports this package and calls
the same validators over the resources the program registers, so the rules live here once.

- ``rules/``: one module per policy, named after it: its validator, then its config schema and policy.
- ``facts.py``: the facts contract, the ``GatewayCluster`` component's inputs (a ``TypedDict`` the program
  builds and the tests fake); ``cluster_inputs.py`` reads them.
- ``stack.py``: the resource types judged, and stack resources grouped by cluster.
- ``readers.py``: reading props and config, unknowns kept apart; ``addresses.py``: IP addresses and ranges.

What each policy may look at, and why:

- Resource policies get a resource's *inputs* (``pulumi preview`` calls them on every resource, components
  included). The subnet, DHCP pools, floating IP and hostnames are inputs of the ``GatewayCluster`` component
  only, so the policies that judge them are resource policies on that component.
- Stack policies get every resource's *outputs* (for a component: what it passed to ``register_outputs``).
  They judge facts spread over several VMs or releases: node count, ESXi hosts, the storage release.
- Values that cannot be known during a preview (outputs of resources not created yet) reach a policy as
  unknowns. A policy never judges an unknown, so what is known is still judged.

Which rules the config parser (``components/config``) also enforces, and why: ``docs/policies-rules.md``.
Nothing here imports the program (``components/``) or ``gatewayctl/``: the pack is published on its own.
"""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import EnforcementLevel

from .facts import CLUSTER, ClusterFacts
from .rules import POLICIES
from .rules.chart_versions_pinned import chart_versions_pinned_validator
from .rules.ha_minimum_three_hosts import ha_minimum_three_hosts_validator
from .rules.ips_outside_dhcp import ips_outside_dhcp_validator
from .rules.metallb_range_in_subnet import metallb_range_in_subnet_validator
from .rules.nfs_storage_configured import nfs_storage_configured_validator
from .rules.nfs_storage_for_multi_node import nfs_storage_for_multi_node_validator
from .rules.node_size_minimum import node_size_minimum_validator
from .rules.one_node_per_host import one_node_per_host_validator
from .rules.ova_over_https import ova_over_https_validator
from .rules.rebuild_one_node_at_a_time import rebuild_one_node_at_a_time_validator
from .rules.retained_images_in_use import retained_images_in_use_validator
from .rules.ssh_host_keys_pinned import ssh_host_keys_pinned_validator
from .rules.static_ips_same_subnet import static_ips_same_subnet_validator
from .rules.unique_hostnames import unique_hostnames_validator
from .stack import LIBRARY_ITEM, RELEASE, STORAGE_RELEASE, VM

__all__ = [
    "CLUSTER",
    "INITIAL_CONFIG",
    "LIBRARY_ITEM",
    "PACK_ENFORCEMENT_LEVEL",
    "PACK_NAME",
    "POLICIES",
    "RELEASE",
    "STORAGE_RELEASE",
    "VM",
    "ClusterFacts",
    "chart_versions_pinned_validator",
    "ha_minimum_three_hosts_validator",
    "ips_outside_dhcp_validator",
    "metallb_range_in_subnet_validator",
    "nfs_storage_configured_validator",
    "nfs_storage_for_multi_node_validator",
    "node_size_minimum_validator",
    "one_node_per_host_validator",
    "ova_over_https_validator",
    "rebuild_one_node_at_a_time_validator",
    "retained_images_in_use_validator",
    "ssh_host_keys_pinned_validator",
    "static_ips_same_subnet_validator",
    "unique_hostnames_validator",
]

PACK_NAME: Final = "gateway-cluster-policies"
#: The pack's default level; every policy sets its own all the same.
PACK_ENFORCEMENT_LEVEL: Final = EnforcementLevel.MANDATORY
#: Config the pack starts from, before the user's ``--policy-pack-config`` file (none: schema defaults rule).
INITIAL_CONFIG: Final[dict[str, EnforcementLevel | dict[str, Any]]] = {}
