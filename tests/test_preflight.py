"""`gatewayctl preflight` end to end: the CLI against govmomi's vSphere simulator, inside a test network.

Every run happens inside the lab's client network namespace (tests/support/vcsim_fixture.py): the simulator listens
on that namespace's 127.0.0.1, the node and floating IPs are lab addresses on 198.18.0.0/24 (free ones are
assigned nowhere; busy ones are assigned in the peer namespace, one with a listener), and the NFS server is a
lab address with or without a listener on 2049. The committed stacks' private example IPs are never probed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.annotation import node_annotation
from tests.support import vcsim_fixture as lab_net
from tests.support.ova_builder import write_ova
from tests.support.stacks import make_project, stack_raw
from tests.support.vcsim_fixture import PYTHON, ROOT, NetnsLab, Simulator, netns_lab, variant, vcsim_binary

__all__ = ["netns_lab", "vcsim_binary"]  # fixtures used by this module

NS = "gateway-cluster"
PROBE_TIMEOUT = "0.5"
#: The lab's OVA: a small one from tests/support/ova_builder.py in the project directory (prod's URL is not
#: reachable here).
LAB_OVA = "gateway-17.0.0.ova"
Raw = dict[str, Any]


@pytest.fixture(scope="module")
def lab_vcsim(netns_lab: NetnsLab, vcsim_binary: Path) -> Iterator[Simulator]:
    """The prod-shaped simulator inside the lab's client namespace, shared by the module's read-only tests."""
    sim = Simulator(vcsim_binary, lab_net.prod_inventory(), netns=netns_lab.client).start()
    try:
        yield sim
    finally:
        sim.stop()


def lab_stack(sim: Simulator) -> Raw:
    """Pulumi.prod.yaml with the vCenter pointed at the simulator and every address moved into the lab."""
    raw = stack_raw("prod")
    raw["vsphere:vsphereServer"] = sim.server
    raw["vsphere:user"] = sim.user
    raw["vsphere:allowUnverifiedSsl"] = "true"
    raw[f"{NS}:network"] = {
        "cidr": lab_net.SUBNET,
        "gateway": lab_net.CLIENT_ADDRESS,
        "dns": [lab_net.CLIENT_ADDRESS],
        "dhcpRanges": ["198.18.0.100-198.18.0.199"],
    }
    for node, address in zip(raw[f"{NS}:nodes"], lab_net.FREE_ADDRESSES, strict=False):
        node["ip"] = address
    raw[f"{NS}:floatingIp"] = lab_net.FREE_ADDRESSES[3]
    raw[f"{NS}:storage"]["nfsServer"] = lab_net.NFS_NAME
    raw[f"{NS}:ova"] = {**{k: v for k, v in raw[f"{NS}:ova"].items() if k != "url"}, "path": LAB_OVA}
    return raw


def preflight(
    lab: NetnsLab,
    sim: Simulator,
    tmp: Path,
    raw: Raw,
    *args: str,
    password: str | None = None,
    json_out: bool = True,
) -> tuple[int, Any, str]:
    """Runs `python -m gatewayctl preflight --stack prod` in the lab; returns (exit code, JSON or text, stderr)."""
    project = make_project(tmp, {"prod": raw})
    write_ova(project / LAB_OVA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSPHERE_")}
    env["PYTHONPATH"] = str(ROOT)
    env["VSPHERE_PASSWORD"] = sim.password if password is None else password
    argv = [PYTHON, "-m", "gatewayctl", "preflight", "--stack", "prod", "--probe-timeout", PROBE_TIMEOUT, *args]
    if json_out:
        argv.append("--json")
    result = lab.run(argv, cwd=project, env=env)
    assert sim.password not in result.stdout + result.stderr, "the vCenter password leaked into the output"
    out: Any = result.stdout
    if json_out and result.returncode in (0, 1):
        out = json.loads(result.stdout)
    return result.returncode, out, result.stderr


def failing(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["id"], c["target"]) for c in doc["checks"] if c["status"] == "fail"}


def row(doc: dict[str, Any], id_: str, target: str) -> dict[str, Any]:
    matches = [c for c in doc["checks"] if c["id"] == id_ and c["target"] == target]
    assert len(matches) == 1, f"{len(matches)} rows {id_} {target}: {json.dumps(doc['checks'], indent=1)}"
    found: dict[str, Any] = matches[0]
    return found


# ------------------------------------------------------------------------------------------ the good stack


@pytest.fixture(scope="module")
def good_run(netns_lab: NetnsLab, lab_vcsim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Any:
    code, doc, err = preflight(netns_lab, lab_vcsim, tmp_path_factory.mktemp("good"), lab_stack(lab_vcsim))
    assert code == 0, f"{err}\n{json.dumps(doc, indent=1)}"
    return doc, err


def test_lab_stack_is_prod_with_lab_addresses(lab_vcsim):
    prod, lab = stack_raw("prod"), lab_stack(lab_vcsim)
    changed = {k for k in prod if prod[k] != lab[k]}
    assert changed == {
        "vsphere:vsphereServer",
        "vsphere:allowUnverifiedSsl",
        f"{NS}:network",
        f"{NS}:nodes",
        f"{NS}:floatingIp",
        f"{NS}:storage",
        f"{NS}:ova",
    }
    for before, after in zip(prod[f"{NS}:nodes"], lab[f"{NS}:nodes"], strict=True):
        assert {**before, "ip": after["ip"]} == after, "only the addresses move into the lab"


def test_good_stack_all_green(good_run):
    doc, _ = good_run
    assert doc["stack"] == "prod"
    assert {c["status"] for c in doc["checks"]} == {"pass"}, json.dumps(doc["checks"], indent=1)
    ids = [c["id"] for c in doc["checks"]]
    for expected in (
        "vcenter",
        "datacenter",
        "cluster",
        "cluster.drs",
        "folder",
        "datastore",
        "datastore.space",
        "network",
        "hosts.distinct",
        "nfs.dns",
        "nfs.port",
    ):
        assert ids.count(expected) == 1, expected
    for check in ("host", "host.version", "host.connection", "host.maintenance", "host.placement"):
        assert {c["target"] for c in doc["checks"] if c["id"] == check} == set(lab_net.PROD_HOSTS), check
    assert {c["target"] for c in doc["checks"] if c["id"] == "vm.name"} == {"gw-prod-1", "gw-prod-2", "gw-prod-3"}
    assert {c["target"] for c in doc["checks"] if c["id"] == "ip.free"} == {
        "198.18.0.41 (gw-prod-1)",
        "198.18.0.42 (gw-prod-2)",
        "198.18.0.43 (gw-prod-3)",
        "198.18.0.50 (floating IP)",
    }


def test_json_rows_have_the_documented_shape(good_run):
    doc, _ = good_run
    assert set(doc) == {"stack", "checks"}
    for c in doc["checks"]:
        assert set(c) == {"id", "target", "status", "message", "fix"}, c
        assert c["status"] in ("pass", "fail", "warn") and c["message"], c


def test_rows_carry_the_simulator_ids(good_run, lab_vcsim):
    doc, _ = good_run
    assert "datacenter-" in row(doc, "datacenter", "dc-east")["message"]
    assert row(doc, "host", "esx-02.corp.example.com")["message"].startswith("found (host-")
    assert "ESXi 7.0.3" in row(doc, "host.version", "esx-01.corp.example.com")["message"]
    assert row(doc, "vcenter", lab_vcsim.server)["message"].startswith(f"logged in as {lab_vcsim.user}")


def test_progress_goes_to_stderr(good_run):
    _, err = good_run
    assert "preflight: connecting to vCenter" in err
    assert "preflight: probing 4 address(es)" in err


def test_text_table(netns_lab, lab_vcsim, tmp_path):
    code, text, _ = preflight(netns_lab, lab_vcsim, tmp_path, lab_stack(lab_vcsim), json_out=False)
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "Preflight of stack 'prod'"
    assert lines[2].split() == ["STATUS", "CHECK", "TARGET", "DETAIL"]
    assert any(line.startswith("PASS    host.maintenance  esx-02.corp.example.com") for line in lines), text
    assert lines[-1].endswith("0 failed: ready for `pulumi up`"), text


# ----------------------------------------------------------------------------------------- failure modes


def set_node(index: int, **changes: str) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw[f"{NS}:nodes"][index].update(changes)

    return change


def set_key(path: str, value: Any) -> Callable[[Raw], None]:
    """``vsphere.network`` → raw["gateway-cluster:vsphere"]["network"] = value."""

    def change(raw: Raw) -> None:
        top, _, leaf = path.partition(".")
        if leaf:
            raw[f"{NS}:{top}"][leaf] = value
        else:
            raw[f"{NS}:{top}"] = value

    return change


def own_vm(name: str, host: str, stack: str = "prod", annotation: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "annotation": node_annotation("gateway-cluster", stack, "17.0.0") if annotation is None else annotation,
        "host": host,
        "datastore": "vsanDatastore",
        "folder": "gateways/prod",
    }


ESX1, ESX2, ESX3 = lab_net.PROD_HOSTS

#: (stack change, inventory or None for the shared prod-shaped one, expected failing rows, words in the first).
FAILURES = [
    pytest.param(
        set_node(2, esxiHost="esx-09.corp.example.com"),
        None,
        {("host", "esx-09.corp.example.com")},
        "no host named 'esx-09.corp.example.com' in datacenter 'dc-east' (hosts there: esx-01",
        id="missing-host",
    ),
    pytest.param(
        None,
        variant(hosts={ESX2: {"maintenance": True}}),
        {("host.maintenance", ESX2)},
        "is in maintenance mode",
        id="host-in-maintenance",
    ),
    pytest.param(
        None,
        variant(hosts={ESX3: {"version": "5.5.0"}}),
        {("host.version", ESX3)},
        "runs ESXi 5.5.0; the gateway appliance needs ESXi 6.0 or later",
        id="esxi-too-old",
    ),
    pytest.param(
        None,
        variant(hosts={ESX3: {"disconnected": True}}),
        {("host.connection", ESX3)},
        "is disconnected in vCenter",
        id="host-disconnected",
    ),
    pytest.param(
        set_node(2, esxiHost="esx-lab-09.corp.example.com"),
        None,
        {("host.placement", "esx-lab-09.corp.example.com")},
        "not in compute-01 where the nodes' pool is; datastore vsanDatastore is not mounted on it; "
        "network gw-mgmt-pg does not reach it",
        id="host-outside-cluster",
    ),
    pytest.param(
        set_node(1, esxiHost=ESX1),
        None,
        {("hosts.distinct", f"{ESX1}, {ESX3}")},
        "nodes would share a host: gw-prod-1 and gw-prod-2 on one host (host-",
        id="nodes-share-a-host",
    ),
    pytest.param(
        None,
        variant(drs=False),
        {("cluster.drs", "compute-01")},
        "DRS is off",
        id="drs-off",
    ),
    pytest.param(
        set_key("nodeSize", {"cpus": 4, "memoryMb": 8192, "diskGb": 400}),
        None,
        {("datastore.space", "vsanDatastore")},
        "too little space: 3 node(s) x (400 GB disk + 8 GB swap) = 1224 GB, plus 10% headroom = 1346 GB; "
        "1024 GB free of 2048 GB",
        id="datastore-too-small",
    ),
    pytest.param(
        set_key("vsphere.network", "gw-missing-pg"),
        None,
        {("network", "gw-missing-pg")},
        "no network named 'gw-missing-pg' in datacenter 'dc-east' (networks there:",
        id="missing-network",
    ),
    pytest.param(
        set_key("vsphere.folder", "gateways/staging"),
        None,
        {("folder", "gateways/staging")},
        "no 'staging' in 'gateways'",
        id="missing-folder",
    ),
    pytest.param(
        set_key("vsphere.resourcePool", "compute-01/Resources/nope"),
        None,
        {("resourcePool", "compute-01/Resources/nope")},
        "no 'nope' in 'Resources'",
        id="missing-resource-pool",
    ),
    pytest.param(
        set_key("vsphere.cluster", "compute-02"),
        None,
        {("cluster", "compute-02")},
        "no cluster named 'compute-02' in datacenter 'dc-east' (clusters there: compute-01)",
        id="missing-cluster",
    ),
    pytest.param(
        None,
        variant(vms=[own_vm("gw-prod-2", ESX2, annotation="Jenkins agent, do not delete")]),
        {("vm.name", "gw-prod-2")},
        "a VM named gw-prod-2 already exists (vm-",
        id="duplicate-vm-name",
    ),
    pytest.param(
        None,
        variant(vms=[own_vm("gw-prod-3", ESX3, stack="dev")]),
        {("vm.name", "gw-prod-3")},
        "managed by stack dev of project gateway-cluster",
        id="vm-of-another-stack",
    ),
    pytest.param(
        set_node(1, ip=lab_net.BUSY_ADDRESS),
        None,
        {("ip.free", f"{lab_net.BUSY_ADDRESS} (gw-prod-2)")},
        "already in use, answers: tcp/22 accepted a connection",
        id="node-ip-answers-listener",
    ),
    pytest.param(
        set_key("floatingIp", lab_net.QUIET_HOST_ADDRESS),
        None,
        {("ip.free", f"{lab_net.QUIET_HOST_ADDRESS} (floating IP)")},
        "tcp/22 refused (a reset came back)",
        id="floating-ip-answers-reset",
    ),
    pytest.param(
        set_key("storage.nfsServer", lab_net.NFS_DOWN_ADDRESS),
        None,
        {("nfs.port", f"{lab_net.NFS_DOWN_ADDRESS}:2049")},
        "no NFS service: connection refused",
        id="nfs-port-closed",
    ),
    pytest.param(
        set_key("storage.nfsServer", "198.18.0.70"),
        None,
        {("nfs.port", "198.18.0.70:2049")},
        # Silence, or "no route to host" once the kernel has given up finding the address on the subnet.
        "no NFS service: no",
        id="nfs-server-silent",
    ),
    pytest.param(
        set_key("storage.nfsServer", "nfs-gone.lab.test"),
        None,
        {("nfs.dns", "nfs-gone.lab.test")},
        "nfs-gone.lab.test does not resolve",
        id="nfs-name-does-not-resolve",
    ),
]


@pytest.mark.parametrize(("change", "inventory", "expected", "words"), FAILURES)
def test_failure_mode_gives_the_right_failing_row(
    netns_lab, lab_vcsim, vcsim_binary, tmp_path, change, inventory, expected, words
):
    raw = lab_stack(lab_vcsim)
    if change is not None:
        change(raw)
    if inventory is None:
        code, doc, err = preflight(netns_lab, lab_vcsim, tmp_path, raw)
    else:
        # A changed inventory gets its own simulator, so the shared one stays as the other tests expect.
        sim = Simulator(vcsim_binary, inventory, netns=netns_lab.client).start()
        try:
            raw["vsphere:vsphereServer"] = sim.server
            code, doc, err = preflight(netns_lab, sim, tmp_path, raw)
        finally:
            sim.stop()
    assert code == 1, err
    assert failing(doc) == expected, json.dumps([c for c in doc["checks"] if c["status"] != "pass"], indent=1)
    (id_, target) = next(iter(expected))
    failed_row = row(doc, id_, target)
    assert words in failed_row["message"], failed_row
    assert failed_row["fix"], failed_row
    assert {c["status"] for c in doc["checks"]} == {"pass", "fail"}


def test_missing_datacenter_stops_the_inventory_checks(netns_lab, lab_vcsim, tmp_path):
    raw = lab_stack(lab_vcsim)
    set_key("vsphere.datacenter", "dc-west")(raw)
    code, doc, _ = preflight(netns_lab, lab_vcsim, tmp_path, raw)
    assert code == 1
    assert failing(doc) == {("datacenter", "dc-west")}
    assert "datacenters there: dc-east" in row(doc, "datacenter", "dc-west")["message"]
    assert not [c for c in doc["checks"] if c["id"].startswith(("host", "vm.", "datastore", "network"))]
    assert [c["id"] for c in doc["checks"] if c["id"].startswith(("ip.", "nfs."))], "network checks still run"


def test_warning_alone_exits_zero(netns_lab, lab_vcsim, tmp_path):
    raw = lab_stack(lab_vcsim)
    # 3 x (250 + 8) GB = 774 GB fits in 1024 GB free (851 GB with headroom), but fills the 2048 GB datastore
    # to 88 %, past vCenter's 85 % alarm.
    set_key("nodeSize", {"cpus": 4, "memoryMb": 8192, "diskGb": 250})(raw)
    code, doc, err = preflight(netns_lab, lab_vcsim, tmp_path, raw)
    assert code == 0, err
    warning = row(doc, "datastore.space", "vsanDatastore")
    assert warning["status"] == "warn" and "88% full" in warning["message"], warning
    assert {c["status"] for c in doc["checks"]} == {"pass", "warn"}


def test_own_vm_and_its_answering_ip_pass(netns_lab, vcsim_binary, tmp_path):
    """A node whose VM this stack already made: its name and its (answering) address are expected."""
    inventory = variant(vms=[own_vm("gw-prod-2", ESX2)])
    sim = Simulator(vcsim_binary, inventory, netns=netns_lab.client).start()
    try:
        raw = lab_stack(sim)
        set_node(1, ip=lab_net.BUSY_ADDRESS)(raw)
        code, doc, err = preflight(netns_lab, sim, tmp_path, raw)
    finally:
        sim.stop()
    assert code == 0, f"{err}\n{json.dumps(doc, indent=1)}"
    assert "managed by this stack" in row(doc, "vm.name", "gw-prod-2")["message"]
    images = row(doc, "nodes.images", "nodes")
    assert images["status"] == "pass" and images["message"] == "nodes run: gw-prod-2 17.0.0", images
    ip_row = row(doc, "ip.free", f"{lab_net.BUSY_ADDRESS} (gw-prod-2)")
    assert ip_row["status"] == "pass" and "expected" in ip_row["message"], ip_row


# ------------------------------------------------------------------------------------------- credentials


def test_secure_password_without_variable_says_use_vsphere_password(netns_lab, lab_vcsim, tmp_path):
    raw = lab_stack(lab_vcsim)
    raw["vsphere:password"] = {"secure": "v1:Zm9vYmFy:c2VjcmV0"}
    code, doc, _ = preflight(netns_lab, lab_vcsim, tmp_path, raw, password="")
    assert code == 1
    vc = row(doc, "vcenter", lab_vcsim.server)
    assert vc["status"] == "fail"
    assert "vsphere:password is encrypted (secure:) in Pulumi.prod.yaml" in vc["message"]
    assert "VSPHERE_PASSWORD" in vc["fix"]
    # Without vCenter, the address and NFS checks still run and pass.
    assert failing(doc) == {("vcenter", lab_vcsim.server)}


def test_secure_password_with_variable_connects(netns_lab, lab_vcsim, tmp_path):
    raw = lab_stack(lab_vcsim)
    raw["vsphere:password"] = {"secure": "v1:Zm9vYmFy:c2VjcmV0"}
    code, doc, _ = preflight(netns_lab, lab_vcsim, tmp_path, raw)
    assert code == 0
    assert row(doc, "vcenter", lab_vcsim.server)["status"] == "pass"


@pytest.mark.parametrize(
    ("change", "password", "words"),
    [
        pytest.param({}, "wrong-password", "rejected the login of 'svc-gateway@vsphere.local'", id="wrong-password"),
        pytest.param({"vsphere:allowUnverifiedSsl": "false"}, None, "is not trusted", id="untrusted-certificate"),
        pytest.param({"vsphere:vsphereServer": "127.0.0.1:9"}, None, "nothing accepts connections", id="no-server"),
    ],
)
def test_vcenter_connection_failures(netns_lab, lab_vcsim, tmp_path, change, password, words):
    raw = {**lab_stack(lab_vcsim), **change}
    code, doc, _ = preflight(netns_lab, lab_vcsim, tmp_path, raw, password=password)
    assert code == 1
    (target,) = [c["target"] for c in doc["checks"] if c["id"] == "vcenter"]
    vc = row(doc, "vcenter", target)
    assert vc["status"] == "fail" and words in vc["message"], vc
    assert vc["fix"]
