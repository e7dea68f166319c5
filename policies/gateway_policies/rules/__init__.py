"""The pack's rules, one module each, named after its policy: the validator, then its config schema (if it
has one) and its policy.

Every message says what is wrong and how to fix it, in terms of the stack config (``gateway-cluster:...``).
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import Policy

from . import (
    chart_versions_pinned,
    ha_minimum_three_hosts,
    ips_outside_dhcp,
    metallb_range_in_subnet,
    nfs_storage_configured,
    nfs_storage_for_multi_node,
    node_size_minimum,
    one_node_per_host,
    ova_over_https,
    rebuild_one_node_at_a_time,
    retained_images_in_use,
    ssh_host_keys_pinned,
    static_ips_same_subnet,
    unique_hostnames,
)

#: In the order the pack lists them: mandatory (layout, network, nodes, storage, hostnames, rebuilds), then advisory.
POLICIES: Final[list[Policy]] = [
    ha_minimum_three_hosts.POLICY,
    one_node_per_host.POLICY,
    static_ips_same_subnet.POLICY,
    ips_outside_dhcp.POLICY,
    node_size_minimum.POLICY,
    nfs_storage_for_multi_node.POLICY,
    nfs_storage_configured.POLICY,
    unique_hostnames.POLICY,
    rebuild_one_node_at_a_time.POLICY,
    ssh_host_keys_pinned.POLICY,
    ova_over_https.POLICY,
    chart_versions_pinned.POLICY,
    metallb_range_in_subnet.POLICY,
    retained_images_in_use.POLICY,
]
