"""The config model: valid stacks parse; every malformed config exits 2 naming its key, with nothing registered."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import config as cfg
from gatewayctl import harness
from tests.support.stacks import PROJECT, SENTINELS, flat_config, gatewayctl, make_project, stack_raw

NS = "gateway-cluster"
Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Mutation:
    def apply(raw: dict[str, Any]) -> None:
        raw[f"{NS}:{key}"] = value

    return apply


def _drop(key: str) -> Mutation:
    def apply(raw: dict[str, Any]) -> None:
        del raw[f"{NS}:{key}"]

    return apply


def _edit(key: str, fn: Callable[[Any], None]) -> Mutation:
    def apply(raw: dict[str, Any]) -> None:
        fn(raw[f"{NS}:{key}"])

    return apply


def _node(i: int, field: str, value: Any) -> Mutation:
    return _edit("nodes", lambda nodes: nodes[i].__setitem__(field, value))


# (id, mutation of the prod stack, the key the first error must name, the bad value it must show)
MALFORMED: list[tuple[str, Mutation, str, Any]] = [
    ("vsphere-missing", _drop("vsphere"), "vsphere", None),
    ("vsphere-not-a-map", _set("vsphere", "dc-east"), "vsphere", "dc-east"),
    (
        "vsphere-datacenter-missing",
        _edit("vsphere", lambda v: v.pop("datacenter")),
        "vsphere.datacenter",
        None,
    ),
    ("vsphere-typo", _edit("vsphere", lambda v: v.__setitem__("datastor", "x")), "vsphere.datastor", "x"),
    (
        "vsphere-empty-network",
        _edit("vsphere", lambda v: v.__setitem__("network", " ")),
        "vsphere.network",
        " ",
    ),
    ("ova-url-and-path", _edit("ova", lambda o: o.__setitem__("path", "/srv/gw.ova")), "ova", None),
    ("ova-neither", _edit("ova", lambda o: o.pop("url")), "ova", None),
    (
        "ova-url-ftp",
        _edit("ova", lambda o: o.__setitem__("url", "ftp://h/gw.ova")),
        "ova.url",
        "ftp://h/gw.ova",
    ),
    (
        "ova-path-not-ova",
        _edit("ova", lambda o: o.update(url=None, path="/srv/gw.iso")),
        "ova.path",
        "/srv/gw.iso",
    ),
    ("ova-deploy-bad", _edit("ova", lambda o: o.__setitem__("deploy", "clone")), "ova.deploy", "clone"),
    ("ova-version-missing", _edit("ova", lambda o: o.pop("version")), "ova.version", None),
    ("ova-firmware-bad", _edit("ova", lambda o: o.__setitem__("firmware", "uefi")), "ova.firmware", "uefi"),
    ("ova-firmware-not-text", _edit("ova", lambda o: o.__setitem__("firmware", True)), "ova.firmware", True),
    ("ova-scsi-type-bad", _edit("ova", lambda o: o.__setitem__("scsiType", "buslogic")), "ova.scsiType", "buslogic"),
    ("ova-nic-type-sriov", _edit("ova", lambda o: o.__setitem__("nicType", "sriov")), "ova.nicType", "sriov"),
    ("ova-nic-type-typo", _edit("ova", lambda o: o.__setitem__("nicTpe", "e1000")), "ova.nicTpe", "e1000"),
    (
        "ova-property-unknown",
        _edit("ova", lambda o: o.__setitem__("properties", {"hostnme": "x"})),
        "ova.properties.hostnme",
        "x",
    ),
    (
        "cidr-host-bits",
        _edit("network", lambda n: n.__setitem__("cidr", "10.20.30.5/24")),
        "network.cidr",
        "10.20.30.5/24",
    ),
    (
        "cidr-garbage",
        _edit("network", lambda n: n.__setitem__("cidr", "10.20.30/24x")),
        "network.cidr",
        "10.20.30/24x",
    ),
    (
        "gateway-not-ip",
        _edit("network", lambda n: n.__setitem__("gateway", "router")),
        "network.gateway",
        "router",
    ),
    ("dns-empty", _edit("network", lambda n: n.__setitem__("dns", [])), "network.dns", []),
    (
        "dhcp-reversed",
        _edit("network", lambda n: n.__setitem__("dhcpRanges", ["10.20.30.199-10.20.30.100"])),
        "network.dhcpRanges[0]",
        "10.20.30.199-10.20.30.100",
    ),
    (
        "dhcp-not-a-range",
        _edit("network", lambda n: n.__setitem__("dhcpRanges", ["10.20.30.100"])),
        "network.dhcpRanges[0]",
        "10.20.30.100",
    ),
    ("floating-missing", _drop("floatingIp"), "floatingIp", None),
    ("floating-bad", _set("floatingIp", "10.20.30.500"), "floatingIp", "10.20.30.500"),
    ("floating-is-node-ip", _set("floatingIp", "10.20.30.42"), "floatingIp", "10.20.30.42"),
    ("nodes-empty", _set("nodes", []), "nodes", []),
    ("nodes-not-a-list", _set("nodes", "gw-1,gw-2"), "nodes", "gw-1,gw-2"),
    ("hostname-uppercase", _node(1, "hostname", "GW-Prod-2"), "nodes[1].hostname", "GW-Prod-2"),
    ("hostname-underscore", _node(1, "hostname", "gw_prod_2"), "nodes[1].hostname", "gw_prod_2"),
    ("hostname-too-long", _node(0, "hostname", "g" * 64), "nodes[0].hostname", "g" * 64),
    ("hostname-duplicate", _node(2, "hostname", "gw-prod-1"), "nodes[2].hostname", "gw-prod-1"),
    ("ip-duplicate", _node(2, "ip", "10.20.30.41"), "nodes[2].ip", "10.20.30.41"),
    ("ip-invalid", _node(2, "ip", "10.20.30"), "nodes[2].ip", "10.20.30"),
    ("esxi-host-missing", _edit("nodes", lambda ns: ns[0].pop("esxiHost")), "nodes[0].esxiHost", None),
    ("node-typo", _node(0, "esxHost", "esx-01"), "nodes[0].esxHost", "esx-01"),
    ("ssh-host-key-bad", _node(0, "sshHostKey", "not-a-key"), "nodes[0].sshHostKey", "not-a-key"),
    ("primary-not-a-node", _set("primary", "gw-prod-9"), "primary", "gw-prod-9"),
    ("rebuild-not-a-node", _set("rebuild", ["gw-prod-2", "gw-prod-9"]), "rebuild[1]", "gw-prod-9"),
    ("rebuild-duplicate", _set("rebuild", ["gw-prod-2", "gw-prod-2"]), "rebuild[1]", "gw-prod-2"),
    ("rebuild-implicit-primary", _set("rebuild", ["gw-prod-1"]), "rebuild[0]", "gw-prod-1"),
    (
        "rebuild-explicit-primary",
        lambda raw: raw.update({f"{NS}:primary": "gw-prod-2", f"{NS}:rebuild": ["gw-prod-2"]}),
        "rebuild[0]",
        "gw-prod-2",
    ),
    ("rebuild-not-a-hostname", _set("rebuild", ["GW-Prod-2"]), "rebuild[0]", "GW-Prod-2"),
    ("cpus-not-number", _edit("nodeSize", lambda s: s.__setitem__("cpus", "four")), "nodeSize.cpus", "four"),
    ("cpus-bool", _edit("nodeSize", lambda s: s.__setitem__("cpus", True)), "nodeSize.cpus", True),
    (
        "memory-not-4mb",
        _edit("nodeSize", lambda s: s.__setitem__("memoryMb", 8190)),
        "nodeSize.memoryMb",
        8190,
    ),
    ("disk-zero", _edit("nodeSize", lambda s: s.__setitem__("diskGb", 0)), "nodeSize.diskGb", 0),
    (
        "nfs-path-relative",
        _edit("storage", lambda s: s.__setitem__("nfsPath", "exports")),
        "storage.nfsPath",
        "exports",
    ),
    ("nfs-server-missing", _edit("storage", lambda s: s.pop("nfsServer")), "storage.nfsServer", None),
    ("ssh-user-missing", _drop("sshUser"), "sshUser", None),
    ("metallb-without-floating", _set("metallbRange", "10.20.30.60-10.20.30.69"), "metallbRange", None),
    ("metallb-garbage", _set("metallbRange", "ten-twenty"), "metallbRange", "ten-twenty"),
    ("unknown-key", _set("nodesize", {"cpus": 8}), "nodesize", {"cpus": 8}),
    # The vSphere provider tells an OVA from an OVF by the source's ending, case-sensitively.
    (
        "ova-url-query-string",
        _edit("ova", lambda o: o.__setitem__("url", "https://h/gw.ova?sig=abc")),
        "ova.url",
        "https://h/gw.ova?sig=abc",
    ),
    (
        "ova-path-uppercase",
        _edit("ova", lambda o: o.update(url=None, path="/srv/GW-17.OVA")),
        "ova.path",
        "/srv/GW-17.OVA",
    ),
    ("ova-version-float", _edit("ova", lambda o: o.__setitem__("version", 17.1)), "ova.version", 17.1),
    ("disk-infinite", _edit("nodeSize", lambda s: s.__setitem__("diskGb", float("inf"))), "nodeSize.diskGb", "inf"),
]


def _not_json(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON: a strict reader of the error document would fail")


@pytest.fixture
def case_project(tmp_path: Path) -> Callable[[Mutation], Path]:
    def make(mutate: Mutation) -> Path:
        raw = stack_raw("prod")
        mutate(raw)
        return make_project(tmp_path, {"case": raw})

    return make


@pytest.mark.parametrize(("mutate", "key", "value"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_config_exits_2_naming_the_key(case_project, mutate, key, value):
    project = case_project(mutate)
    code, out, err = gatewayctl("plan", "--stack", "case", "--json", cwd=project)
    assert code == 2, f"exit {code}; stderr: {err}"
    doc = json.loads(out, parse_constant=_not_json)
    keys = [e["key"] for e in doc["errors"]]
    assert f"{NS}:{key}" in keys, f"no error names {NS}:{key}: {doc['errors']}"
    error = next(e for e in doc["errors"] if e["key"] == f"{NS}:{key}")
    if value is not None:
        assert error["value"] == value
    assert len(error["message"]) > 15 and "Traceback" not in out + err
    assert doc["stack"] == "case" and doc["error"] == doc["errors"][0]

    # The text form names the key and the fix on stderr, and prints nothing on stdout.
    code, out, err = gatewayctl("plan", "--stack", "case", cwd=project)
    assert (code, out) == (2, "")
    assert f"{NS}:{key}" in err and "Traceback" not in err


def test_malformed_config_registers_nothing():
    raw = stack_raw("prod")
    raw[f"{NS}:floatingIp"] = "not-an-ip"
    records: list[harness.Resource] = []
    with pytest.raises(cfg.ConfigError) as info:
        harness.run_program(PROJECT, "prod", flat_config(raw), secret_keys=sorted(SENTINELS), record_into=records)
    assert records == []
    assert [i.key for i in info.value.issues] == [f"{NS}:floatingIp"]


def test_every_problem_is_reported_at_once():
    raw = stack_raw("prod")
    raw[f"{NS}:floatingIp"] = "x"
    raw[f"{NS}:nodes"][0]["ip"] = "y"
    raw[f"{NS}:ova"]["deploy"] = "z"
    with pytest.raises(cfg.ConfigError) as info:
        harness.run_program(PROJECT, "prod", flat_config(raw), secret_keys=sorted(SENTINELS))
    assert {i.key for i in info.value.issues} == {f"{NS}:floatingIp", f"{NS}:nodes[0].ip", f"{NS}:ova.deploy"}


@pytest.mark.parametrize(
    ("present", "key"),
    [
        ({"sshPrivateKey": True}, "managerPassword"),
        ({"managerPassword": True}, "sshPrivateKey"),
    ],
    ids=["manager-password", "ssh-credential"],
)
def test_missing_secrets_are_config_errors_without_values(present, key):
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(raw, secrets_present=present)
    issue = next(i for i in info.value.issues if i.key == f"{NS}:{key}")
    assert issue.value is None and "--secret" in issue.message


def test_invalid_config_prints_no_traceback_even_at_interpreter_exit(case_project):
    project = case_project(_set("floatingIp", "bogus"))
    proc = subprocess.run(
        [sys.executable, "-m", "gatewayctl", "plan", "--stack", "case"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "gateway-cluster:floatingIp" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_prod_stack_parses_into_settings():
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    s = cfg.parse(raw, secrets_present={"managerPassword": True, "sshPrivateKey": True})
    assert [n.hostname for n in s.nodes] == ["gw-prod-1", "gw-prod-2", "gw-prod-3"]
    assert s.primary == "gw-prod-1"  # default: the first node
    assert s.network.cidr == ipaddress.ip_network("10.20.30.0/24")
    assert s.network.netmask == "255.255.255.0"
    assert s.metallb_range == "10.20.30.50-10.20.30.50"
    assert s.ova.deploy == "library" and s.ova.properties == cfg.DEFAULT_OVA_PROPERTIES
    assert s.storage is not None and s.storage.nfs_path == "/exports/gateway-prod"


def _prod_keys(**changes: Any) -> dict[str, Any]:
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    return {**raw, **changes}


def _rebuild_issues(**changes: Any) -> list[cfg.ConfigIssue]:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(_prod_keys(**changes), secrets_present={"managerPassword": True, "sshPrivateKey": True})
    return [i for i in info.value.issues if i.key.startswith(f"{NS}:rebuild")]


@pytest.mark.parametrize(
    ("rebuild", "expected"),
    [([], ()), (["gw-prod-2"], ("gw-prod-2",)), ("gw-prod-3", ("gw-prod-3",))],
    ids=["default-none", "one-node", "one-hostname-for-a-list"],
)
def test_rebuild_names_nodes(rebuild: Any, expected: tuple[str, ...]):
    s = cfg.parse(_prod_keys(rebuild=rebuild), secrets_present={"managerPassword": True, "sshPrivateKey": True})
    assert s.rebuild == expected
    assert cfg.parse(_prod_keys(), secrets_present={"managerPassword": True, "sshPrivateKey": True}).rebuild == ()


def test_rebuild_of_an_unknown_node_names_the_nodes():
    [issue] = _rebuild_issues(rebuild=["gw-prod-2", "gw-prod-9"])
    assert issue.key == f"{NS}:rebuild[1]" and issue.value == "gw-prod-9"
    assert "is not one of the nodes (gw-prod-1, gw-prod-2, gw-prod-3)" in issue.message


def test_rebuild_lists_each_node_once():
    [issue] = _rebuild_issues(rebuild=["gw-prod-2", "gw-prod-2"])
    assert issue.key == f"{NS}:rebuild[1]" and f"duplicates {NS}:rebuild[0]" in issue.message


@pytest.mark.parametrize(
    ("changes", "rebuilt", "fix"),
    [
        ({}, "gw-prod-1", "the first node (primary is unset)"),
        ({"primary": "gw-prod-3"}, "gw-prod-3", f"{NS}:primary"),
    ],
    ids=["implicit-primary", "explicit-primary"],
)
def test_rebuilding_the_primary_of_a_multi_node_stack_is_refused(changes: dict[str, Any], rebuilt: str, fix: str):
    [issue] = _rebuild_issues(rebuild=[rebuilt], **changes)
    assert issue.key == f"{NS}:rebuild[0]" and issue.value == rebuilt
    assert fix in issue.message
    assert "Make another node primary first: set gateway-cluster:primary to" in issue.message
    assert f"apply, then rebuild {rebuilt}" in issue.message


def test_a_single_node_stack_may_rebuild_its_only_node():
    raw = _prod_keys(rebuild=["gw-prod-1"])
    raw["nodes"] = raw["nodes"][:1]
    s = cfg.parse(raw, secrets_present={"managerPassword": True, "sshPrivateKey": True})
    assert s.rebuild == ("gw-prod-1",) and s.primary == "gw-prod-1"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("bios", "pvscsi", "vmxnet3")),
        ({"firmware": "efi", "scsiType": "lsilogic-sas", "nicType": "e1000e"}, ("efi", "lsilogic-sas", "e1000e")),
        ({"firmware": " efi ", "scsiType": "lsilogic"}, ("efi", "lsilogic", "vmxnet3")),
    ],
    ids=["provider-defaults", "all-pinned", "some-pinned"],
)
def test_ova_hardware_pins(given: dict[str, str], expected: tuple[str, str, str]):
    """The OVA's hardware: unset keys take the provider's own defaults, so that nothing changes silently."""
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    raw["ova"].update(given)
    s = cfg.parse(raw, secrets_present={"managerPassword": True, "sshPrivateKey": True})
    assert (s.ova.firmware, s.ova.scsi_type, s.ova.nic_type) == expected


def test_ova_hardware_error_lists_the_choices():
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    raw["ova"]["scsiType"] = "PVSCSI"
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(raw, secrets_present={"managerPassword": True, "sshPrivateKey": True})
    (issue,) = info.value.issues
    assert issue.key == f"{NS}:ova.scsiType" and issue.value == "PVSCSI"
    assert all(f"'{t}'" in issue.message for t in cfg.SCSI_TYPES), issue.message
    assert "preflight" in issue.message


def test_config_rejects_nothing_the_policy_pack_owns():
    """Two nodes on one host, a node in a DHCP pool, a small VM: structurally valid, so the program builds."""
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    raw["nodes"] = raw["nodes"][:2]
    raw["nodes"][1]["esxiHost"] = raw["nodes"][0]["esxiHost"]
    raw["nodes"][1]["ip"] = "10.20.30.150"
    raw["nodeSize"] = {"cpus": 2, "memoryMb": 4096, "diskGb": 20}
    raw.pop("storage")
    s = cfg.parse(raw, secrets_present={"managerPassword": True, "sshPassword": True})
    assert len(s.nodes) == 2 and s.node_size.cpus == 2


def _parsed(raw: dict[str, Any]) -> cfg.Settings:
    settings = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{NS}:")}
    return cfg.parse(settings, secrets_present={"managerPassword": True, "sshPrivateKey": True})


def test_numbers_where_text_is_expected_and_text_where_numbers_are():
    """`pulumi config set --path ova.version 17` stores the number 17; `cpus: "4"` is a quoted number."""
    raw = stack_raw("prod")
    raw[f"{NS}:ova"]["version"] = 17
    raw[f"{NS}:nodeSize"] = {"cpus": "8", "memoryMb": 16384.0, "diskGb": " 80 "}
    s = _parsed(raw)
    assert s.ova.version == "17"
    assert (s.node_size.cpus, s.node_size.memory_mb, s.node_size.disk_gb) == (8, 16384, 80)


def test_an_ipv6_network_parses():
    raw = stack_raw("prod")
    raw[f"{NS}:network"] = {"cidr": "fd00:20:30::/64", "gateway": "fd00:20:30::1", "dns": ["fd00:20::53"]}
    raw[f"{NS}:floatingIp"] = "fd00:20:30::50"
    for i, node in enumerate(raw[f"{NS}:nodes"]):
        node["ip"] = f"fd00:20:30::{41 + i}"
    # A single node: `microk8s join` takes only an IPv4 address, so only a one-node cluster can be IPv6.
    raw[f"{NS}:nodes"] = raw[f"{NS}:nodes"][2:]
    s = _parsed(raw)
    assert s.metallb_range == "fd00:20:30::50-fd00:20:30::50"
    assert str(s.nodes[0].ip) == "fd00:20:30::43"
    raw[f"{NS}:nodes"] = stack_raw("prod")[f"{NS}:nodes"][:1] + raw[f"{NS}:nodes"]
    raw[f"{NS}:nodes"][0]["ip"] = "fd00:20:30::41"
    with pytest.raises(cfg.ConfigError) as info:
        _parsed(raw)
    assert [(i.key, i.value) for i in info.value.issues] == [
        (f"{NS}:nodes[0].ip", "fd00:20:30::41"),
        (f"{NS}:nodes[1].ip", "fd00:20:30::43"),
    ]
    assert "`microk8s join` accepts only an IPv4 address" in info.value.issues[0].message


def test_errors_never_echo_what_looks_like_a_credential():
    raw = stack_raw("prod")
    settings = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{NS}:")}
    settings["vsphere"]["password"] = "SENTINEL-in-a-map"
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(
            settings,
            secrets_present={"managerPassword": True, "sshPrivateKey": True},
            other_keys={"managerPasword": "SENTINEL-typo", "nodesize": {"cpus": 8}},
        )
    shown = {i.key: i.value for i in info.value.issues}
    assert shown[f"{NS}:vsphere.password"] == "[secret]"
    assert shown[f"{NS}:managerPasword"] == "[secret]"
    assert shown[f"{NS}:nodesize"] == {"cpus": 8}  # an ordinary typo still shows its value
    assert "SENTINEL" not in str(info.value)
