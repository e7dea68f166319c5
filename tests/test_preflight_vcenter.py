"""The live vCenter side: credentials, look-ups and `plan --vcenter`, against the simulator on 127.0.0.1.

Nothing here probes addresses: the simulator runs in the main namespace on loopback and only vCenter calls
are made (preflight's address checks are tested inside the lab network, tests/test_preflight.py). Every test
runs under the loopback-only guard: a path that would reach the committed stacks' example vCenter, addresses
or NFS name from this namespace is stopped before any packet leaves, and fails the test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.annotation import annotation_image, annotation_owner, node_annotation
from gatewayctl import harness, probe, stackfile, vcenter
from gatewayctl.commands.preflight import network_checks, ova_checks, report, vcenter_checks
from tests.support import vcsim_fixture
from tests.support.stacks import gatewayctl, make_project, run_stack, stack_raw
from tests.support.vcsim_fixture import LoopbackGuard, Simulator, loopback_only, vcsim, vcsim_binary

__all__ = ["loopback_only", "vcsim", "vcsim_binary"]  # fixtures used by this module


@pytest.fixture(autouse=True)
def _stay_on_loopback(loopback_only: LoopbackGuard) -> LoopbackGuard:
    return loopback_only


def test_guard_stops_what_leaves_loopback(loopback_only: LoopbackGuard):
    for target in (("127.0.0.2", 443), ("::1", 443, 0, 0), ("localhost", 443), "/run/x.sock"):
        assert vcsim_fixture.loopback_target(target), target
    for target in (("10.20.30.41", 22), ("fd00::5", 443, 0, 0), ("198.18.0.1", 0), ("vcenter.corp.example.com", 443)):
        assert not vcsim_fixture.loopback_target(target), target
    assert [h for h in ("127.0.0.1", "::1", "localhost") if not vcsim_fixture.loopback_host(h)] == []
    assert [h for h in ("nfs01.corp.example.com", "10.20.30.41", "fd00::5") if vcsim_fixture.loopback_host(h)] == []
    # A name under .invalid (RFC 6761) is harmless even if the guard failed to stop it.
    with pytest.raises(probe.ResolveError):
        probe.resolve("guard-check.invalid", 5)
    assert loopback_only.blocked == ["resolve 'guard-check.invalid'"]
    loopback_only.blocked.clear()


NS = "gateway-cluster"
VM = "vsphere:index/virtualMachine:VirtualMachine"


@pytest.fixture(scope="module")
def truth(vcsim: Simulator) -> dict[str, Any]:
    """Managed object IDs read straight from the simulator with pyVmomi, by walking the inventory tree."""
    si = vcsim.connect()
    try:
        content = si.RetrieveContent()
        (dc,) = content.rootFolder.childEntity
        ids: dict[str, Any] = {"datacenter": dc._moId, "hosts": {}, "hostPools": {}}
        for compute in dc.hostFolder.childEntity:
            for host in compute.host:
                ids["hosts"][host.name] = host._moId
                ids["hostPools"][host.name] = compute.resourcePool._moId
            if compute.name == "compute-01":
                ids["cluster"] = compute._moId
                ids["clusterPool"] = compute.resourcePool._moId
                ids["gatewaysPool"] = next(p._moId for p in compute.resourcePool.resourcePool if p.name == "gateways")
        ids["datastore"] = next(d._moId for d in dc.datastoreFolder.childEntity if d.name == "vsanDatastore")
        ids["network"] = next(n._moId for n in dc.networkFolder.childEntity if n.name == "gw-mgmt-pg")
        return ids
    finally:
        vcenter.disconnect(si)


@pytest.fixture(scope="module")
def inventory(vcsim: Simulator) -> Iterator[vcenter.LiveInventory]:
    creds = vcenter.Credentials("127.0.0.1", vcsim.port, vcsim.user, vcsim.password, insecure=True)
    live = vcenter.LiveInventory(vcenter.VCenter(vcenter.connect(creds, timeout=10)))
    yield live
    vcenter.disconnect(live.vc.si)


def sim_stack(sim: Simulator) -> dict[str, Any]:
    raw = stack_raw("prod")
    raw.update({"vsphere:vsphereServer": sim.server, "vsphere:user": sim.user, "vsphere:allowUnverifiedSsl": "true"})
    return raw


# ------------------------------------------------------------------------------------------ credentials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vcenter.corp.example.com", ("vcenter.corp.example.com", 443)),
        ("vcenter:8443", ("vcenter", 8443)),
        ("127.0.0.1:40123", ("127.0.0.1", 40123)),
        ("[fd00::5]:9443", ("fd00::5", 9443)),
        ("fd00::5", None),
        ("https://vcenter.example.com/sdk", ("vcenter.example.com", 443)),
        ("vcenter:http", None),
    ],
    ids=["name", "name-port", "ip-port", "ipv6-port", "bare-ipv6", "url", "bad-port"],
)
def test_parse_server(text, expected):
    if expected is None:
        with pytest.raises(ValueError, match=text.replace(":", ".")):
            vcenter.parse_server(text)
    else:
        assert vcenter.parse_server(text) == expected


SECURE = {"secure": "v1:abc:def"}


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (
            {"vsphere:vsphereServer": "vc:8443", "vsphere:user": "u", "vsphere:password": "pw-stack"},
            {"VSPHERE_SERVER": "other", "VSPHERE_USER": "x", "VSPHERE_PASSWORD": "pw-env"},
            ("vc", 8443, "u", "pw-stack", False),
        ),
        (
            {},
            {"VSPHERE_SERVER": "vc", "VSPHERE_USER": "x", "VSPHERE_PASSWORD": "pw-env"},
            ("vc", 443, "x", "pw-env", False),
        ),
        (
            {"vsphere:vsphereServer": "vc", "vsphere:user": "u", "vsphere:password": SECURE},
            {"VSPHERE_PASSWORD": "from-env"},
            ("vc", 443, "u", "from-env", False),
        ),
        (
            {"vsphere:vsphereServer": "vc", "vsphere:user": "u", "vsphere:allowUnverifiedSsl": "true"},
            {"VSPHERE_PASSWORD": "pw-env", "VSPHERE_ALLOW_UNVERIFIED_SSL": "false"},
            ("vc", 443, "u", "pw-env", True),
        ),
        (
            {"vsphere:vsphereServer": "vc", "vsphere:user": "u"},
            {"VSPHERE_PASSWORD": "pw-env", "VSPHERE_ALLOW_UNVERIFIED_SSL": "true"},
            ("vc", 443, "u", "pw-env", True),
        ),
    ],
    ids=["stack-wins", "env-only", "secure-password-from-env", "stack-ssl-flag-wins", "env-ssl-flag"],
)
def test_credentials_sources(config, env, expected):
    creds = vcenter.credentials(config, "prod", env)
    assert (creds.host, creds.port, creds.user, creds.password, creds.insecure) == expected
    assert creds.password not in repr(creds)


@pytest.mark.parametrize(
    ("config", "env", "words"),
    [
        ({}, {}, "no vCenter address: neither vsphere:vsphereServer in Pulumi.prod.yaml nor VSPHERE_SERVER"),
        ({"vsphere:vsphereServer": "vc"}, {}, "no vCenter user"),
        ({"vsphere:vsphereServer": "vc", "vsphere:user": "u"}, {}, "no vCenter password"),
        (
            {"vsphere:vsphereServer": "vc", "vsphere:user": "u", "vsphere:password": SECURE},
            {},
            "vsphere:password is encrypted (secure:) in Pulumi.prod.yaml and cannot be decrypted without the "
            "Pulumi CLI. Export VSPHERE_PASSWORD",
        ),
        ({"vsphere:vsphereServer": "vc:port"}, {}, "vsphere:vsphereServer = 'vc:port' is not a vCenter address"),
    ],
    ids=["no-server", "no-user", "no-password", "secure-password", "bad-server"],
)
def test_credentials_errors_say_what_to_set(config, env, words):
    with pytest.raises(vcenter.VCenterError) as caught:
        vcenter.credentials(config, "prod", env)
    assert words in str(caught.value)


# --------------------------------------------------------------------------------------- live inventory

DC = "vsphere:index/getDatacenter:getDatacenter"


def test_every_data_source_answers_with_the_simulators_ids(inventory, truth):
    dc = inventory.invoke(DC, {"name": "dc-east"})
    assert dc == {"id": truth["datacenter"], "name": "dc-east"}
    dc_id = dc["id"]
    host = inventory.invoke("vsphere:index/getHost:getHost", {"name": "esx-02.corp.example.com", "datacenterId": dc_id})
    assert host["id"] == truth["hosts"]["esx-02.corp.example.com"]
    assert host["resourcePoolId"] == truth["clusterPool"]
    cluster = inventory.invoke(
        "vsphere:index/getComputeCluster:getComputeCluster", {"name": "compute-01", "datacenterId": dc_id}
    )
    assert (cluster["id"], cluster["resourcePoolId"]) == (truth["cluster"], truth["clusterPool"])
    ds = inventory.invoke("vsphere:index/getDatastore:getDatastore", {"name": "vsanDatastore", "datacenterId": dc_id})
    assert ds["id"] == truth["datastore"]
    net = inventory.invoke("vsphere:index/getNetwork:getNetwork", {"name": "gw-mgmt-pg", "datacenterId": dc_id})
    assert net["id"] == truth["network"]
    for name in ("compute-01/Resources/gateways", "/dc-east/host/compute-01/Resources/gateways", "gateways"):
        pool = inventory.invoke("vsphere:index/getResourcePool:getResourcePool", {"name": name, "datacenterId": dc_id})
        assert pool["id"] == truth["gatewaysPool"], name


def test_standalone_hosts_answer_with_their_own_pool(inventory, truth):
    dc_id = truth["datacenter"]
    name = "esx-lab-09.corp.example.com"
    host = inventory.invoke("vsphere:index/getHost:getHost", {"name": name, "datacenterId": dc_id})
    assert (host["id"], host["resourcePoolId"]) == (truth["hosts"][name], truth["hostPools"][name])
    assert host["resourcePoolId"] != truth["clusterPool"]


@pytest.mark.parametrize("token", sorted(harness.DATA_SOURCES))
def test_result_keys_match_the_declared_inventory(inventory, truth, token):
    names = {
        DC: "dc-east",
        "vsphere:index/getHost:getHost": "esx-01.corp.example.com",
        "vsphere:index/getDatastore:getDatastore": "vsanDatastore",
        "vsphere:index/getNetwork:getNetwork": "gw-mgmt-pg",
        "vsphere:index/getComputeCluster:getComputeCluster": "compute-01",
        "vsphere:index/getResourcePool:getResourcePool": "compute-01/Resources/gateways",
    }
    args = {"name": names[token]} if token == DC else {"name": names[token], "datacenterId": truth["datacenter"]}
    live = inventory.invoke(token, args)
    declared = harness.DeclaredInventory().invoke(token, args)
    assert set(live) == set(declared)
    assert live["name"] == declared["name"]


@pytest.mark.parametrize(
    ("token", "name", "words"),
    [
        (DC, "dc-west", "no datacenter named 'dc-west' in vCenter (datacenters there: dc-east)"),
        (
            "vsphere:index/getHost:getHost",
            "esx-09.corp.example.com",
            "no host named 'esx-09.corp.example.com' in datacenter 'dc-east' (hosts there: esx-01.corp.example.com, "
            "esx-02.corp.example.com, esx-03.corp.example.com, esx-lab-09.corp.example.com)",
        ),
        ("vsphere:index/getDatastore:getDatastore", "nfs-ds", "no datastore named 'nfs-ds'"),
        ("vsphere:index/getNetwork:getNetwork", "gw-missing-pg", "no network named 'gw-missing-pg'"),
        ("vsphere:index/getComputeCluster:getComputeCluster", "compute-02", "no cluster named 'compute-02'"),
        (
            "vsphere:index/getResourcePool:getResourcePool",
            "compute-01/Resources/nope",
            "resource pool 'compute-01/Resources/nope' in datacenter 'dc-east': no 'nope' in 'Resources' "
            "(it holds: gateways)",
        ),
        ("vsphere:index/getFolder:getFolder", "gateways", "cannot answer vsphere:index/getFolder:getFolder"),
    ],
    ids=["datacenter", "host", "datastore", "network", "cluster", "resource-pool", "unknown-data-source"],
)
def test_missing_objects_raise_inventory_errors(inventory, truth, token, name, words):
    args = {"name": name} if token == DC else {"name": name, "datacenterId": truth["datacenter"]}
    with pytest.raises(harness.InventoryError) as caught:
        inventory.invoke(token, args)
    assert words in str(caught.value)


def test_vms_carry_their_notes(vcsim):
    creds = vcenter.Credentials("127.0.0.1", vcsim.port, vcsim.user, vcsim.password, insecure=True)
    vc = vcenter.VCenter(vcenter.connect(creds, timeout=10))
    try:
        vms = {props["name"]: props.get("config.annotation") for _, props in vc.vms(vc.datacenter("dc-east"))}
    finally:
        vcenter.disconnect(vc.si)
    assert vms == {"build-agent-7": "CI build agent"}


# ----------------------------------------------------------------------------------------- plan --vcenter


@pytest.fixture
def vsphere_password(vcsim: Simulator, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_ALLOW_UNVERIFIED_SSL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VSPHERE_PASSWORD", vcsim.password)
    return vcsim.password


def plan_vms(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["name"]: r["inputs"] for r in doc["resources"] if r["type"] == VM}


def test_plan_vcenter_uses_the_simulators_ids(vcsim, truth, tmp_path, vsphere_password):
    project = make_project(tmp_path, {"prod": sim_stack(vcsim)})
    code, out, err = gatewayctl("plan", "--stack", "prod", "--vcenter", "--json", "--no-policies", cwd=project)
    assert code == 0, err
    vms = plan_vms(json.loads(out))
    hosts = {n["hostname"]: n["esxiHost"] for n in stack_raw("prod")[f"{NS}:nodes"]}
    assert {name: vm["hostSystemId"] for name, vm in vms.items()} == {
        name: truth["hosts"][host] for name, host in hosts.items()
    }
    for name, vm in vms.items():
        assert vm["datastoreId"] == truth["datastore"], name
        assert vm["resourcePoolId"] == truth["clusterPool"], name
        assert vm["networkInterfaces"][0]["networkId"] == truth["network"], name
    assert vsphere_password not in out + err


def test_plan_without_vcenter_uses_declared_ids(vcsim, truth, tmp_path, vsphere_password):
    project = make_project(tmp_path, {"prod": sim_stack(vcsim)})
    code, out, err = gatewayctl("plan", "--stack", "prod", "--json", "--no-policies", cwd=project)
    assert code == 0, err
    declared = {vm["hostSystemId"] for vm in plan_vms(json.loads(out)).values()}
    assert declared.isdisjoint(truth["hosts"].values()), "the switch to the live inventory is what changes IDs"


def open_sessions(sim: Simulator) -> list[str]:
    """The users of the sessions open on ``sim``, not counting the session that asks."""
    si = sim.connect()
    try:
        own = si.content.sessionManager.currentSession.key
        return [s.userName for s in si.content.sessionManager.sessionList if s.key != own]
    finally:
        vcenter.disconnect(si)


def scratch(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir()
    return tmp / name


def test_plan_vcenter_logs_out(vcsim_binary, tmp_path, monkeypatch):
    """`plan --vcenter` closes its session (a leaked one counts against vCenter's session limit until it
    times out), on success and when the program fails on a missing host alike."""
    with vcsim_fixture.running(binary=vcsim_binary) as sim:
        monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
        for name in ("VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_ALLOW_UNVERIFIED_SSL"):
            monkeypatch.delenv(name, raising=False)
        assert open_sessions(sim) == []
        good = make_project(scratch(tmp_path, "good"), {"prod": sim_stack(sim)})
        code, _, err = gatewayctl("plan", "--stack", "prod", "--vcenter", "--no-policies", cwd=good)
        assert code == 0, err
        assert open_sessions(sim) == []
        raw = sim_stack(sim)
        raw[f"{NS}:nodes"][1]["esxiHost"] = "esx-09.corp.example.com"
        project = make_project(scratch(tmp_path, "missing-host"), {"prod": raw})
        result = cli("plan", "--stack", "prod", "--vcenter", "--no-policies", cwd=project, password=sim.password)
        assert result.returncode == 3, result.stderr
        assert open_sessions(sim) == []


def cli(*argv: str, cwd: Path, password: str) -> subprocess.CompletedProcess[str]:
    """`python -m gatewayctl` in a process of its own: a failed program run leaves the Pulumi runtime of its
    process unusable for another run, as it leaves any real `gatewayctl plan` process (which then exits)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSPHERE_")}
    env.update(PYTHONPATH=str(vcsim_fixture.ROOT), VSPHERE_PASSWORD=password)
    return subprocess.run(
        [vcsim_fixture.PYTHON, "-m", "gatewayctl", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_plan_vcenter_reports_a_missing_host(vcsim, tmp_path):
    raw = sim_stack(vcsim)
    raw[f"{NS}:nodes"][1]["esxiHost"] = "esx-09.corp.example.com"
    project = make_project(tmp_path, {"prod": raw})
    result = cli("plan", "--stack", "prod", "--vcenter", "--no-policies", cwd=project, password=vcsim.password)
    assert result.returncode == 3, result.stdout
    assert result.stderr.startswith(
        "gatewayctl plan: vSphere look-up failed: no host named 'esx-09.corp.example.com' in datacenter 'dc-east' "
        "(hosts there: esx-01.corp.example.com,"
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_plan_vcenter_reports_a_refused_login(vcsim, tmp_path):
    project = make_project(tmp_path, {"prod": sim_stack(vcsim)})
    result = cli("plan", "--stack", "prod", "--vcenter", "--no-policies", cwd=project, password="not-the-password")
    assert result.returncode == 3
    assert result.stderr == (
        f"gatewayctl plan: vCenter 127.0.0.1:{vcsim.port} rejected the login of 'svc-gateway@vsphere.local'. "
        "Check vsphere:user / VSPHERE_USER and the password in VSPHERE_PASSWORD\n"
    )


# ---------------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (f"{NS}:floatingIp", "10.20.30.500"),
        (f"{NS}:nodeSize", {"cpus": 0}),
        (f"{NS}:nodesize", {"cpus": 4}),
    ],
    ids=["bad-ip", "bad-size", "typo-key"],
)
def test_invalid_config_exits_2_with_the_programs_messages(tmp_path, key, value):
    raw = stack_raw("prod")
    raw[key] = value
    project = make_project(tmp_path, {"prod": raw})
    code, out, err = gatewayctl("preflight", "--stack", "prod", cwd=project)
    plan_code, _, plan_err = gatewayctl("plan", "--stack", "prod", "--no-policies", cwd=project)
    assert (code, plan_code) == (2, 2)
    assert out == ""
    assert err.removeprefix("gatewayctl preflight: ") == plan_err.removeprefix("gatewayctl plan: ")
    assert key in err
    code, out, _ = gatewayctl("preflight", "--stack", "prod", "--json", cwd=project)
    _, plan_out, _ = gatewayctl("plan", "--stack", "prod", "--json", "--no-policies", cwd=project)
    assert code == 2
    assert json.loads(out) == json.loads(plan_out)


def test_unknown_stack_exits_3(tmp_path):
    project = make_project(tmp_path, {"prod": stack_raw("prod")})
    code, _, err = gatewayctl("preflight", "--stack", "staging", cwd=project)
    assert code == 3
    assert "no stack file Pulumi.staging.yaml" in err


def test_settings_are_the_programs():
    settings, raw = stackfile.load_settings(vcsim_fixture.ROOT, "prod", {f"{NS}:primary": "gw-prod-2"})
    assert settings.primary == "gw-prod-2"
    assert [str(n.ip) for n in settings.nodes] == ["10.20.30.41", "10.20.30.42", "10.20.30.43"]
    assert raw[f"{NS}:primary"] == "gw-prod-2"


# ------------------------------------------------------------------------------------------ annotations


def test_program_writes_the_annotation_preflight_reads():
    run = run_stack("prod")
    notes = {r.input("annotation") for r in run.by_type(VM)}
    assert notes == {node_annotation("gateway-cluster", "prod", "17.0.0")}
    note = notes.pop()
    assert annotation_owner(note) == ("gateway-cluster", "prod")
    assert annotation_image(note) == "17.0.0", "the image version the VM is made from"


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        (node_annotation("gateway-cluster", "dev"), ("gateway-cluster", "dev")),
        (node_annotation("my.project", "org_a-prod.2"), ("my.project", "org_a-prod.2")),
        ("Gateway cluster node", None),
        ("managed by Pulumi (project gateway-cluster, stack prod)", None),
        ("", None),
        (None, None),
    ],
    ids=["dev", "unusual-names", "prefix-only", "not-at-start", "empty", "unset"],
)
def test_annotation_owner(text, owner):
    assert annotation_owner(text) == owner


@pytest.mark.parametrize(
    ("text", "image"),
    [
        (node_annotation("gateway-cluster", "prod", "18.0.0"), "18.0.0"),
        (node_annotation("gateway-cluster", "prod", "17.10"), "17.10"),
        (node_annotation("gateway-cluster", "prod"), None),
        (
            "Gateway cluster node, managed by Pulumi (project gateway-cluster, stack prod). Changes made here are "
            "overwritten by the next `pulumi up`.",
            None,
        ),
        ("image 17.0.0", None),
    ],
    ids=["version", "two-part-version", "no-version", "older-notes", "not-ours"],
)
def test_annotation_image(text, image):
    assert annotation_image(text) == image
    if image is None and text.startswith("Gateway"):
        assert annotation_owner(text) == ("gateway-cluster", "prod"), "older notes still say who owns the VM"


# -------------------------------------------------------------------------------------------- simulator


def test_simulator_cleans_up(vcsim_binary):
    sim = Simulator(vcsim_binary, vcsim_fixture.prod_inventory()).start()
    proc, tmp = sim._proc, sim._tmp
    assert proc is not None and tmp is not None
    assert list(tmp.glob("govcsim-*")), "its datastore folder lives in its own TMPDIR"
    sim.stop()
    assert proc.poll() is not None
    assert not tmp.exists()


def test_simulator_dies_with_its_parent(vcsim_binary, tmp_path):
    """If the test process is killed, the closed stdin pipe stops the simulator (no orphans)."""
    spec = tmp_path / "inventory.json"
    spec.write_text(json.dumps(vcsim_fixture.prod_inventory()))
    proc = subprocess.Popen(
        [str(vcsim_binary), "-spec", str(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert json.loads(proc.stdout.readline())["url"].startswith("https://127.0.0.1:")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()
    assert not list(tmp_path.glob("govcsim-*")), "it removed its datastore folders on the way out"


def test_build_is_cached(vcsim_binary: Path):
    before = vcsim_binary.stat().st_mtime_ns
    assert vcsim_fixture.build_vcsim() == vcsim_binary
    assert vcsim_binary.stat().st_mtime_ns == before
    assert vcsim_binary.parent == vcsim_fixture.BUILD_DIR


# ------------------------------------------------------------------------------------ robustness of the run


def prod_settings(**storage: str) -> Any:
    settings, _ = stackfile.load_settings(vcsim_fixture.ROOT, "prod")
    assert settings.storage is not None
    return dataclasses.replace(settings, storage=dataclasses.replace(settings.storage, **storage))


def test_nfs_name_is_resolved_once(monkeypatch):
    """The port check connects to the addresses just resolved: a second look-up that fails (or takes another
    timeout) cannot turn a resolved, answering server into a crash."""
    calls: list[str] = []

    def resolve(name: str, timeout: float) -> list[str]:
        calls.append(name)
        if len(calls) > 1:
            raise probe.ResolveError(f"{name} did not resolve within {timeout:g} s")
        return ["127.0.0.1"]

    with socket.create_server(("127.0.0.1", 0)) as server:
        monkeypatch.setattr(network_checks, "NFS_PORT", server.getsockname()[1])
        monkeypatch.setattr(probe, "resolve", resolve)
        rows = network_checks.check_nfs(prod_settings(nfs_server="nfs.lab.test"), 2)
    assert [(r.id, r.status) for r in rows] == [("nfs.dns", "pass"), ("nfs.port", "pass")], rows
    assert calls == ["nfs.lab.test"]


def test_an_address_that_could_not_be_probed_is_a_warning():
    settings = prod_settings()

    def probe_addresses(addresses: Any, timeout: float) -> dict[str, Any]:
        reached = {"10.20.30.41", "10.20.30.42"}
        return {a: probe.AddressAnswer(a, False, probed=a in reached) for a in addresses}

    rows = network_checks.check_addresses(settings, vcenter_checks.Placement(), 0.1, probe_addresses)
    assert [(r.target, r.status) for r in rows] == [
        ("10.20.30.41 (gw-prod-1)", "pass"),
        ("10.20.30.42 (gw-prod-2)", "pass"),
        ("10.20.30.43 (gw-prod-3)", "warn"),
        ("10.20.30.50 (floating IP)", "warn"),
    ]
    assert "could not be probed from this machine, so it may be in use" in rows[2].message
    assert rows[2].fix is not None and "10.20.30.0/24" in rows[2].fix


def test_a_check_that_breaks_midway_still_gives_the_table(vcsim_binary, monkeypatch):
    """An error nothing expected, in the vCenter, OVA, address and NFS checks alike: each becomes a failing row,
    the rows found before it stay, the session is closed, and the table prints."""
    settings = prod_settings()

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(vcenter_checks, "check_hosts", broken)
    monkeypatch.setattr(network_checks, "check_nfs", broken)
    monkeypatch.setattr(ova_checks, "check_ova", broken)
    with vcsim_fixture.running(binary=vcsim_binary) as sim:
        raw = {**sim_stack(sim), "vsphere:password": sim.password}
        result = report.run_checks(vcsim_fixture.ROOT, "prod", settings, raw, env={}, probe_addresses=broken)
        assert open_sessions(sim) == []
    rows = [(c.id, c.status) for c in result.checks]
    assert rows[:2] == [("vcenter", "pass"), ("datacenter", "pass")]
    assert ("datastore.space", "pass") in rows
    assert rows[-4:] == [("vcenter", "fail"), ("ova.source", "fail"), ("ip.free", "fail"), ("nfs", "fail")], rows
    assert all("unexpected error (RuntimeError: boom)" in c.message for c in result.checks[-4:])
    assert result.failed
    assert "the check stopped on an unexpected error (RuntimeError: boom)" in report.to_text(result)


def test_a_silent_dns_server_costs_one_timeout(monkeypatch):
    """pyVmomi looks the vCenter name up without a deadline; connect() looks it up first, within its timeout."""
    release = threading.Event()

    def silent_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # a resolver that never answers (bounded, so that a regression fails, not hangs)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", silent_dns)
    creds = vcenter.Credentials("vcenter.lab.invalid", 443, "svc", "pw", insecure=True)
    try:
        with pytest.raises(vcenter.VCenterError) as caught:
            vcenter.connect(creds, timeout=0.2)
    finally:
        release.set()
    assert caught.value.message == "the vCenter name vcenter.lab.invalid did not resolve within 0.2 s"
    assert "VSPHERE_SERVER" in caught.value.fix
