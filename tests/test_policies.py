"""The policy pack's validators, called directly on passing and failing resource sets.

Props reach each validator as the engine passes them (``analyzer.policy_props``: marshalled, then
pulumi-policy's own deserializer and unknown-checking proxy), so unknowns behave as in a real preview.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gatewayctl import harness
from policies import gateway_policies as gp
from policies.gateway_policies.facts import ClusterFacts, NodeFacts, fact_path
from tests.support.policy_fixtures import (
    DELETE,
    FACTS,
    changed,
    check_resource,
    check_stack,
    cluster_set,
    record,
    unknown_output,
    vm_inputs,
)

#: Every message tells how to fix what it reports.
FIX = re.compile(r"\b(Add|Set|Pick|Give|Raise|Rename|Use|Move|Narrow|Pin|Serve|Write|go back)\b")


def assert_fixable(messages: list[str]) -> None:
    for message in messages:
        assert FIX.search(message), f"message says no fix: {message}"


# ------------------------------------------------------------------------------- ha-minimum-three-hosts

HA_CASES = [
    # hosts of the VMs, policy config, expected violation text (None: passes)
    pytest.param(["host-1"], {}, None, id="one-node-allowed-by-default"),
    pytest.param(["host-1"], {"allowSingleNode": True}, None, id="one-node-allowed"),
    pytest.param(["host-1"], {"allowSingleNode": False}, "forbids single-node", id="one-node-forbidden"),
    pytest.param(["host-1", "host-2"], {}, "two nodes", id="two-nodes-two-hosts"),
    pytest.param(["host-1", "host-1"], {}, "two nodes", id="two-nodes-one-host"),
    pytest.param(["host-1", "host-2", "host-3"], {}, None, id="three-nodes-three-hosts"),
    pytest.param(["host-1", "host-2", "host-3"], {"allowSingleNode": False}, None, id="three-nodes-prod-config"),
    pytest.param(["h1", "h2", "h3", "h4", "h5"], {}, None, id="five-nodes-five-hosts"),
    pytest.param(["host-1", "host-2", "host-2"], {}, "only 2 distinct", id="three-nodes-two-hosts"),
    pytest.param(["host-1"] * 3, {}, "only 1 distinct", id="three-nodes-one-host"),
    pytest.param(["h1", "h1", "h2", "h2"], {}, "only 2 distinct", id="four-nodes-two-hosts"),
    pytest.param(["h1", "h2", "h3", "h3"], {}, None, id="four-nodes-three-hosts"),
    # Unknown hosts are not judged: only a shortfall that holds whatever they turn out to be is reported.
    pytest.param(["host-1", "host-2", harness.UNKNOWN], {}, None, id="unknown-host-could-be-third"),
    pytest.param([harness.UNKNOWN] * 3, {}, None, id="all-hosts-unknown"),
    pytest.param(["host-1", "host-1", harness.UNKNOWN], {}, "only 1 distinct", id="unknown-host-cannot-help"),
    pytest.param(["host-1", "host-2", DELETE], {}, None, id="host-left-to-drs"),
]


@pytest.mark.parametrize(("hosts", "config", "expected"), HA_CASES)
def test_ha_minimum_three_hosts(hosts: list[Any], config: dict[str, Any], expected: str | None):
    resources = cluster_set(hosts)
    reports = check_stack(gp.ha_minimum_three_hosts_validator, resources, config)
    if expected is None:
        assert reports == []
    else:
        assert len(reports) == 1, reports
        message, where = reports[0]
        assert expected in message
        assert where == resources[0].urn, "reported on the cluster component"
        assert_fixable([message])


def test_ha_judges_each_cluster_on_its_own():
    healthy = cluster_set(["a1", "a2", "a3"], cluster="east")
    broken = cluster_set(["b1", "b2"], cluster="west")
    reports = check_stack(gp.ha_minimum_three_hosts_validator, healthy + broken)
    assert [where for _, where in reports] == [broken[0].urn]
    assert "gateway cluster 'west'" in reports[0][0]


def test_ha_counts_vms_outside_any_cluster_together():
    vms = [record(gp.VM, f"loose-{i}", vm_inputs(f"loose-{i}", f"host-{i}")) for i in (1, 2)]
    reports = check_stack(gp.ha_minimum_three_hosts_validator, vms)
    assert len(reports) == 1
    assert "the stack's gateway VMs" in reports[0][0]
    assert reports[0][1] is None, "no cluster component to attribute it to: the stack"


def test_ha_reads_allow_single_node_as_the_engine_sends_it():
    # Config reaches validators through a protobuf Struct; a bool stays a bool.
    resources = cluster_set(["host-1"])
    assert check_stack(gp.ha_minimum_three_hosts_validator, resources, {"allowSingleNode": False})


# ------------------------------------------------------------------------------------ one-node-per-host

PER_HOST_CASES = [
    pytest.param(["h1", "h2", "h3"], [], id="distinct-hosts"),
    pytest.param(["h1", "h1", "h2"], [2], id="two-on-one-host"),
    pytest.param(["h1", "h1", "h1"], [2, 3], id="three-on-one-host"),
    pytest.param(["h1", "h2", "h1", "h2"], [3, 4], id="two-pairs"),
    pytest.param(["h1", harness.UNKNOWN, harness.UNKNOWN], [], id="unknown-hosts-not-judged"),
    pytest.param(["h1", DELETE, DELETE], [], id="hosts-left-to-drs-not-judged"),
    pytest.param(["h1"], [], id="single-node"),
]


@pytest.mark.parametrize(("hosts", "offenders"), PER_HOST_CASES)
def test_one_node_per_host(hosts: list[Any], offenders: list[int]):
    resources = cluster_set(hosts)
    reports = check_stack(gp.one_node_per_host_validator, resources)
    vm_urns = [r.urn for r in resources if r.type == gp.VM]
    assert [where for _, where in reports] == [vm_urns[i - 1] for i in offenders]
    for message, _ in reports:
        assert "on ESXi host" in message
    assert_fixable([m for m, _ in reports])


def test_one_node_per_host_spans_clusters():
    reports = check_stack(
        gp.one_node_per_host_validator, cluster_set(["h1"], cluster="east") + cluster_set(["h1"], cluster="west")
    )
    assert len(reports) == 1
    assert "'west-n1'" in reports[0][0] and "'east-n1'" in reports[0][0]


# ------------------------------------------------------------------------------- static-ips-same-subnet

SUBNET_CASES = [
    pytest.param({}, [], id="prod-like"),
    pytest.param({("nodes", 1, "ip"): "10.20.31.42"}, ["10.20.31.42 is outside the subnet"], id="node-outside"),
    pytest.param({("floatingIp",): "192.168.1.50"}, ["floating IP", "outside the subnet"], id="floating-outside"),
    pytest.param({("nodes", 0, "ip"): "10.20.30.0"}, ["network address"], id="network-address"),
    pytest.param({("nodes", 0, "ip"): "10.20.30.255"}, ["broadcast address"], id="broadcast-address"),
    pytest.param({("floatingIp",): "10.20.30.1"}, ["subnet's gateway"], id="floating-is-gateway"),
    pytest.param({("nodes", 2, "ip"): "10.20.30.41"}, ["also used by node 'gw-1'"], id="duplicate-node-ips"),
    pytest.param({("floatingIp",): "10.20.30.43"}, ["also used by node 'gw-3'"], id="floating-is-node-ip"),
    pytest.param({("nodes", 0, "ip"): "10.20.30.410"}, ["is not an IP address"], id="not-an-address"),
    pytest.param({("nodes", 0, "ip"): "fd00::41"}, ["fd00::41 is outside the subnet"], id="ipv6-in-ipv4-subnet"),
    pytest.param({("network", "cidr"): "10.20.30.0/33"}, ["is not a subnet"], id="bad-cidr"),
    pytest.param({("network", "cidr"): "10.20.30.32/28"}, ["10.20.30.50 is outside"], id="narrower-subnet"),
    pytest.param(
        {
            ("network", "cidr"): "fd00:20::/64",
            ("network", "gateway"): "fd00:20::1",
            ("nodes", 0, "ip"): "fd00:20::41",
            ("nodes", 1, "ip"): "fd00:20::42",
            ("nodes", 2, "ip"): "fd00:20::43",
            ("floatingIp",): "fd00:20::50",
        },
        [],
        id="ipv6-subnet",
    ),
    # Unknown values are not judged; the known ones still are.
    pytest.param({("floatingIp",): harness.UNKNOWN}, [], id="unknown-floating-ip"),
    pytest.param(
        {("floatingIp",): harness.UNKNOWN, ("nodes", 0, "ip"): "10.9.9.9"}, ["10.9.9.9 is outside"], id="partly-known"
    ),
    pytest.param({("network", "cidr"): harness.UNKNOWN, ("nodes", 0, "ip"): "10.9.9.9"}, [], id="unknown-subnet"),
]


@pytest.mark.parametrize(("changes", "expected"), SUBNET_CASES)
def test_static_ips_same_subnet(changes: dict[tuple[Any, ...], Any], expected: list[str]):
    facts = changed(FACTS, changes)
    messages = check_resource(gp.static_ips_same_subnet_validator, gp.CLUSTER, facts)
    if not expected:
        assert messages == []
        return
    assert messages, "expected a violation"
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert_fixable(messages)


def test_static_ips_ignores_other_resource_types():
    facts = changed(FACTS, {("nodes", 0, "ip"): "10.9.9.9"})
    assert check_resource(gp.static_ips_same_subnet_validator, gp.VM, facts) == []


def test_static_ips_reports_every_bad_address():
    facts = changed(
        FACTS, {("nodes", 0, "ip"): "10.9.9.1", ("nodes", 1, "ip"): "10.9.9.2", ("floatingIp",): "10.9.9.3"}
    )
    messages = check_resource(gp.static_ips_same_subnet_validator, gp.CLUSTER, facts)
    assert len(messages) == 3
    assert "gateway-cluster:nodes[1].ip" in messages[1]


# ------------------------------------------------------------------------------------- ips-outside-dhcp

DHCP_CASES = [
    pytest.param({}, [], id="prod-like"),
    pytest.param({("nodes", 0, "ip"): "10.20.30.150"}, ["10.20.30.150 lies in the DHCP range"], id="node-inside"),
    pytest.param(
        {("floatingIp",): "10.20.30.100"},
        ["floating IP (gateway-cluster:floatingIp) 10.20.30.100 lies in"],
        id="floating",
    ),
    pytest.param({("nodes", 2, "ip"): "10.20.30.199"}, ["10.20.30.199 lies in"], id="node-on-last-address"),
    pytest.param({("nodes", 2, "ip"): "10.20.30.200"}, [], id="just-past-the-range"),
    pytest.param(
        {("network", "dhcpRanges"): ["10.20.30.100-10.20.30.199", "10.20.30.40-10.20.30.42"]},
        ["10.20.30.41 lies in the DHCP range 10.20.30.40-10.20.30.42", "10.20.30.42 lies in"],
        id="second-range",
    ),
    pytest.param({("network", "dhcpRanges"): []}, [], id="no-dhcp"),
    pytest.param(
        {("network", "dhcpRanges"): ["10.20.30.0/26"]},
        ["10.20.30.41 lies in", "10.20.30.42 lies in", "10.20.30.43 lies in", "10.20.30.50 lies in"],
        id="cidr-range",
    ),
    pytest.param({("network", "dhcpRanges"): ["10.20.30.100"]}, ["is not a range"], id="malformed-range"),
    pytest.param({("network", "dhcpRanges"): ["10.20.30.199-10.20.30.100"]}, ["is not a range"], id="reversed-range"),
    pytest.param({("network", "dhcpRanges"): harness.UNKNOWN, ("nodes", 0, "ip"): "10.20.30.150"}, [], id="unknown"),
    pytest.param(
        {("network", "dhcpRanges"): [harness.UNKNOWN, "10.20.30.40-10.20.30.41"]},
        ["10.20.30.41 lies in"],
        id="one-range-unknown",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), DHCP_CASES)
def test_ips_outside_dhcp(changes: dict[tuple[Any, ...], Any], expected: list[str]):
    messages = check_resource(gp.ips_outside_dhcp_validator, gp.CLUSTER, changed(FACTS, changes))
    assert len(messages) == len(expected), messages
    for fragment, message in zip(expected, messages, strict=True):
        assert fragment in message
    assert_fixable(messages)


# ------------------------------------------------------------------------------------ node-size-minimum

SIZE_CASES = [
    pytest.param({}, {}, [], id="at-the-minimum"),
    pytest.param({"cpus": 8, "memory": 16384, "disk": 100}, {}, [], id="above"),
    pytest.param({"cpus": 2}, {}, ["2 vCPUs (minimum 4)"], id="too-few-cpus"),
    pytest.param({"memory": 4096}, {}, ["4096 MB of memory (minimum 8192 MB)"], id="too-little-memory"),
    pytest.param({"disk": 20}, {}, ["a 20 GB system disk (minimum 40 GB)"], id="too-small-disk"),
    pytest.param(
        {"cpus": 1, "memory": 1024, "disk": 10},
        {},
        ["1 vCPUs", "1024 MB of memory", "a 10 GB system disk"],
        id="all-three",
    ),
    pytest.param({"disk": DELETE}, {}, ["no system disk size"], id="no-disk-size"),
    # Configured limits, as the engine sends them (numbers through a protobuf Struct: floats).
    pytest.param({}, {"minCpus": 8.0}, ["4 vCPUs (minimum 8)"], id="configured-min-cpus"),
    pytest.param({}, {"minMemoryMb": 16384.0}, ["(minimum 16384 MB)"], id="configured-min-memory"),
    pytest.param({"disk": 30}, {"minDiskGb": 20.0}, [], id="configured-smaller-disk"),
    pytest.param({"cpus": 2}, {"minCpus": 2}, [], id="configured-two-cpus"),
    # Unknowns are not judged; the known values still are.
    pytest.param({"cpus": harness.UNKNOWN}, {}, [], id="unknown-cpus"),
    pytest.param({"cpus": harness.UNKNOWN, "memory": 2048}, {}, ["2048 MB of memory"], id="unknown-cpus-small-memory"),
    pytest.param({"disk": unknown_output()}, {}, [], id="disk-size-an-unknown-output"),
]


@pytest.mark.parametrize(("size", "config", "expected"), SIZE_CASES)
def test_node_size_minimum(size: dict[str, Any], config: dict[str, Any], expected: list[str]):
    messages = check_resource(gp.node_size_minimum_validator, gp.VM, vm_inputs("gw-1", "host-1", **size), config)
    if not expected:
        assert messages == []
        return
    assert len(messages) == 1, messages
    assert messages[0].startswith("gateway VM 'gw-1' has ")
    for fragment in expected:
        assert fragment in messages[0]
    assert "gateway-cluster:nodeSize" in messages[0]


def test_node_size_applies_to_vms_only():
    assert check_resource(gp.node_size_minimum_validator, gp.RELEASE, {"numCpus": 1}) == []


# ----------------------------------------------------------------------------- nfs-storage-for-multi-node

NFS_OK = {"nfs": {"server": "nfs.example.com", "path": "/exports/gateway"}}

NFS_CASES = [
    pytest.param(3, NFS_OK, gp.STORAGE_RELEASE, [], id="multi-node-with-nfs"),
    pytest.param(
        3, {"persistence": {"size": "10Gi"}}, gp.STORAGE_RELEASE, ["no NFS server", "no absolute"], id="no-nfs"
    ),
    pytest.param(2, {}, gp.STORAGE_RELEASE, ["no NFS server"], id="two-nodes-no-values"),
    pytest.param(3, {"nfs": {"server": " ", "path": "/exports"}}, gp.STORAGE_RELEASE, ["no NFS server"], id="blank"),
    pytest.param(3, {"nfs": {"server": "nfs", "path": "exports"}}, gp.STORAGE_RELEASE, ["no absolute"], id="relative"),
    pytest.param(1, {}, gp.STORAGE_RELEASE, [], id="single-node-local-disk"),
    pytest.param(3, {}, "gateway-manager", [], id="other-release-not-judged"),
    pytest.param(3, {"nfs": {"server": harness.UNKNOWN, "path": "/x"}}, gp.STORAGE_RELEASE, [], id="unknown-server"),
    pytest.param(3, harness.UNKNOWN, gp.STORAGE_RELEASE, [], id="unknown-values"),
    pytest.param(3, harness.secret(NFS_OK), gp.STORAGE_RELEASE, [], id="secret-values-with-nfs"),
    pytest.param(3, DELETE, gp.STORAGE_RELEASE, [], id="no-storage-release-registered"),
]


def test_nfs_release_without_outputs_is_not_judged():
    # A first preview: the Kubernetes provider's kubeconfig is unknown, so the engine returns no outputs.
    resources = cluster_set(["h1", "h2", "h3"], storage_values={}, release_outputs={})
    assert check_stack(gp.nfs_storage_for_multi_node_validator, resources) == []


@pytest.mark.parametrize(("nodes", "values", "release", "expected"), NFS_CASES)
def test_nfs_storage_for_multi_node(nodes: int, values: Any, release: str, expected: list[str]):
    resources = cluster_set([f"h{i}" for i in range(nodes)], storage_values=values, release_name=release)
    reports = check_stack(gp.nfs_storage_for_multi_node_validator, resources)
    if not expected:
        assert reports == []
        return
    assert len(reports) == 1, reports
    message, where = reports[0]
    assert where == resources[-1].urn, "reported on the storage release"
    for fragment in expected:
        assert fragment in message
    assert "gateway-cluster:storage.nfsServer" in message


def test_nfs_judges_each_cluster_on_its_own():
    single = cluster_set(["a1"], cluster="east", storage_values={})
    multi = cluster_set(["b1", "b2", "b3"], cluster="west", storage_values={})
    reports = check_stack(gp.nfs_storage_for_multi_node_validator, single + multi)
    assert [where for _, where in reports] == [multi[-1].urn]


NFS_CONFIG_CASES = [
    pytest.param(3, FACTS["storage"], None, id="multi-node-with-nfs"),
    pytest.param(3, None, "3 nodes but no storage", id="multi-node-no-storage"),
    pytest.param(2, None, "2 nodes but no storage", id="two-nodes-no-storage"),
    pytest.param(1, None, None, id="single-node-no-storage"),
    pytest.param(3, {"nfsServer": "", "nfsPath": "/x"}, "nfsServer: ''", id="blank-server"),
    pytest.param(3, {"nfsServer": "nfs", "nfsPath": "x"}, "nfsPath: 'x'", id="relative-path"),
    pytest.param(3, {"nfsServer": "nfs"}, "nfsPath: None", id="no-path"),
    pytest.param(3, harness.UNKNOWN, None, id="unknown-storage"),
    pytest.param(3, {"nfsServer": harness.UNKNOWN, "nfsPath": "/x"}, None, id="unknown-server"),
]


@pytest.mark.parametrize(("nodes", "storage", "expected"), NFS_CONFIG_CASES)
def test_nfs_storage_configured(nodes: int, storage: Any, expected: str | None):
    facts = changed(FACTS, {("nodes",): FACTS["nodes"][:nodes], ("storage",): storage})
    messages = check_resource(gp.nfs_storage_configured_validator, gp.CLUSTER, facts)
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1 and expected in messages[0], messages
        assert_fixable(messages)


# ------------------------------------------------------------------------------------- unique-hostnames

HOSTNAME_CASES = [
    pytest.param(["gw-1", "gw-2", "gw-3"], [], id="distinct"),
    pytest.param(["gw-1", "gw-2", "gw-1"], ["nodes[2].hostname 'gw-1' duplicates nodes[0]"], id="duplicate"),
    pytest.param(["gw-1", "GW-2", "gw-3"], ["'GW-2' is not a lowercase RFC 1123 label"], id="uppercase"),
    pytest.param(["gw_1", "gw-2", "gw-3"], ["'gw_1' is not"], id="underscore"),
    pytest.param(["-gw", "gw-2", "gw-3"], ["'-gw' is not"], id="leading-hyphen"),
    pytest.param(["gw-", "gw-2", "gw-3"], ["'gw-' is not"], id="trailing-hyphen"),
    pytest.param(["a" * 64, "gw-2", "gw-3"], ["is not a lowercase"], id="too-long"),
    pytest.param(["a" * 63, "gw-2", "gw-3"], [], id="longest-label"),
    pytest.param(["gw.1", "gw-2", "gw-3"], ["'gw.1' is not"], id="dotted-name"),
    pytest.param(["1", "gw-2", "gw-3"], [], id="digits-only"),
    pytest.param([harness.UNKNOWN, harness.UNKNOWN, "gw-3"], [], id="unknown-not-judged"),
]


@pytest.mark.parametrize(("names", "expected"), HOSTNAME_CASES)
def test_unique_hostnames(names: list[Any], expected: list[str]):
    facts = changed(FACTS, {("nodes", i, "hostname"): name for i, name in enumerate(names)})
    messages = check_resource(gp.unique_hostnames_validator, gp.CLUSTER, facts)
    assert len(messages) == len(expected), messages
    for fragment, message in zip(expected, messages, strict=True):
        assert fragment in message
    assert_fixable(messages)


# --------------------------------------------------------------------------- rebuild-one-node-at-a-time

REBUILD_CASES = [
    pytest.param(3, [], False, id="no-rebuild"),
    pytest.param(3, ["gw-2"], False, id="one-node"),
    pytest.param(3, ["gw-2", "gw-3"], True, id="two-nodes"),
    pytest.param(3, ["gw-2", "gw-2"], False, id="one-node-listed-twice"),
    pytest.param(1, ["gw-1"], False, id="single-node-stack"),
    pytest.param(3, harness.UNKNOWN, False, id="unknown-list"),
    pytest.param(3, [harness.UNKNOWN, "gw-3"], False, id="unknown-entry-not-judged"),
]


@pytest.mark.parametrize(("nodes", "rebuild", "flagged"), REBUILD_CASES)
def test_rebuild_one_node_at_a_time(nodes: int, rebuild: Any, flagged: bool):
    facts = changed(FACTS, {("nodes",): FACTS["nodes"][:nodes], ("rebuild",): rebuild})
    messages = check_resource(gp.rebuild_one_node_at_a_time_validator, gp.CLUSTER, facts)
    assert bool(messages) == flagged, messages
    if flagged:
        [message] = messages
        assert "rebuild = [gw-2, gw-3]" in message and "one node at a time is down" in message
        assert "Set gateway-cluster:rebuild to one node ([gw-2]), apply, then rebuild the next" in message
    assert_fixable(messages)


def test_rebuild_one_node_at_a_time_ignores_other_resource_types():
    facts = changed(FACTS, {("rebuild",): ["gw-2", "gw-3"]})
    assert check_resource(gp.rebuild_one_node_at_a_time_validator, gp.VM, facts) == []


# --------------------------------------------------------------------------------------------- advisory


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        pytest.param([True, True, True], None, id="all-pinned"),
        pytest.param([True, False, True], "nodes[1] (gw-2)", id="one-unpinned"),
        pytest.param([harness.UNKNOWN, True, True], None, id="unknown-not-judged"),
    ],
)
def test_ssh_host_keys_pinned(pinned: list[Any], expected: str | None):
    facts = changed(FACTS, {("nodes", i, "sshHostKeyPinned"): p for i, p in enumerate(pinned)})
    messages = check_resource(gp.ssh_host_keys_pinned_validator, gp.CLUSTER, facts)
    assert (messages == []) == (expected is None)
    if expected:
        assert expected in messages[0] and "sshHostKey" in messages[0]


@pytest.mark.parametrize(
    ("type_", "inputs", "flagged"),
    [
        pytest.param(gp.LIBRARY_ITEM, {"fileUrl": "https://dl.example.com/gw.ova"}, False, id="library-https"),
        pytest.param(gp.LIBRARY_ITEM, {"fileUrl": "http://dl.example.com/gw.ova"}, True, id="library-http"),
        pytest.param(gp.LIBRARY_ITEM, {"fileUrl": "HTTP://dl.example.com/gw.ova"}, True, id="library-http-caps"),
        pytest.param(gp.LIBRARY_ITEM, {"fileUrl": "/srv/images/gw.ova"}, False, id="library-local-file"),
        pytest.param(gp.VM, {"ovfDeploy": {"remoteOvfUrl": "http://dl.example.com/gw.ova"}}, True, id="ovf-http"),
        pytest.param(gp.VM, {"ovfDeploy": {"remoteOvfUrl": "https://dl.example.com/g.ova"}}, False, id="ovf-https"),
        pytest.param(gp.VM, {"ovfDeploy": {"localOvfPath": "/srv/gw.ova"}}, False, id="ovf-local"),
        pytest.param(gp.LIBRARY_ITEM, {"fileUrl": harness.UNKNOWN}, False, id="unknown-url"),
    ],
)
def test_ova_over_https(type_: str, inputs: dict[str, Any], flagged: bool):
    messages = check_resource(gp.ova_over_https_validator, type_, inputs)
    assert bool(messages) == flagged
    assert_fixable(messages)


@pytest.mark.parametrize(
    ("inputs", "flagged"),
    [
        pytest.param({"chart": "gateway-manager", "version": "2.3.1"}, False, id="exact"),
        pytest.param({"chart": "gateway-manager", "version": "v2.3.1-rc.1+b5"}, False, id="exact-prerelease"),
        pytest.param({"chart": "gateway-manager"}, True, id="no-version"),
        pytest.param({"chart": "gateway-manager", "version": "^2.3"}, True, id="caret-range"),
        pytest.param({"chart": "gateway-manager", "version": "~2.3.1"}, True, id="tilde-range"),
        pytest.param({"chart": "gateway-manager", "version": ">=2.0.0"}, True, id="lower-bound"),
        pytest.param({"chart": "gateway-manager", "version": "2.x"}, True, id="wildcard"),
        pytest.param({"chart": "oci://registry.example.com/charts/gateway", "version": "1.0"}, True, id="oci-short"),
        pytest.param({"chart": "./charts/gateway-manager"}, False, id="local-chart-folder"),
        pytest.param({"chart": "/srv/charts/gateway-manager", "version": "latest"}, False, id="absolute-folder"),
        pytest.param({"chart": "gateway-manager", "version": harness.UNKNOWN}, False, id="unknown-version"),
    ],
)
def test_chart_versions_pinned(inputs: dict[str, Any], flagged: bool):
    messages = check_resource(gp.chart_versions_pinned_validator, gp.RELEASE, {"name": "gateway-manager", **inputs})
    assert bool(messages) == flagged, messages
    assert_fixable(messages)


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        pytest.param("10.20.30.50-10.20.30.50", [], id="floating-ip-only"),
        pytest.param("10.20.30.50-10.20.30.59", [], id="small-pool"),
        pytest.param("10.20.30.48/29", [], id="cidr-pool"),
        pytest.param("10.20.31.50-10.20.31.59", ["not inside the nodes' subnet"], id="outside-subnet"),
        pytest.param("10.20.30.40-10.20.30.50", ["contains node IP nodes[0].ip 10.20.30.41"], id="covers-node-ips"),
        pytest.param("10.20.30.190-10.20.30.210", ["overlaps the DHCP range"], id="overlaps-dhcp"),
        pytest.param("10.20.30.1-10.20.30.1", ["contains the gateway"], id="gateway"),
        pytest.param("10.20.30.50", ["is not a range"], id="malformed"),
    ],
)
def test_metallb_range_in_subnet(pool: str, expected: list[str]):
    messages = check_resource(
        gp.metallb_range_in_subnet_validator, gp.CLUSTER, changed(FACTS, {("metallbRange",): pool})
    )
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert (messages == []) == (not expected), messages


# ------------------------------------------------------------------------------------------ the pack


def test_the_required_policies_exist_with_their_levels():
    levels = {p.name: p.enforcement_level.value for p in gp.POLICIES if p.enforcement_level}
    mandatory = {
        "ha-minimum-three-hosts",
        "one-node-per-host",
        "static-ips-same-subnet",
        "ips-outside-dhcp",
        "node-size-minimum",
        "nfs-storage-for-multi-node",
        "unique-hostnames",
        "rebuild-one-node-at-a-time",
    }
    assert {n for n, level in levels.items() if level == "mandatory"} == mandatory | {"nfs-storage-configured"}
    assert {n for n, level in levels.items() if level == "advisory"} >= {"ssh-host-keys-pinned", "ova-over-https"}
    assert len(levels) == len(gp.POLICIES), "every policy sets its own level"
    schema_keys = {k for p in gp.POLICIES if p.config_schema for k in p.config_schema.properties}
    assert schema_keys == {"allowSingleNode", "minCpus", "minMemoryMb", "minDiskGb"}


def test_facts_fixture_has_the_components_shape():
    """The synthetic facts above must look like what ``cluster_facts`` really registers."""
    from tests.support.stacks import run_stack

    run = run_stack("prod")
    [cluster] = run.by_type(gp.CLUSTER)
    real = harness.reveal(cluster.inputs)
    assert set(real) == set(FACTS) == set(ClusterFacts.__annotations__)
    assert set(real["network"]) == set(FACTS["network"])
    assert {k for n in real["nodes"] for k in n} == {k for n in FACTS["nodes"] for k in n}


def test_fact_paths_are_checked_against_the_contract():
    """The pack reads the component's props through paths checked against ``ClusterFacts`` on import."""
    assert fact_path(ClusterFacts, "nodes", 0, "ip") == ("nodes", 0, "ip")
    assert fact_path(ClusterFacts, "storage", "nfsPath") == ("storage", "nfsPath"), "through `| None`"
    for within, steps in [
        (ClusterFacts, ("network", "cidrs")),
        (ClusterFacts, ("floatingIP",)),
        (ClusterFacts, ("floatingIp", 0)),
        (ClusterFacts, ("nodes", "ip")),
        (NodeFacts, ("nfsPath",)),
    ]:
        with pytest.raises(KeyError):
            fact_path(within, *steps)
