"""The health checks judged from nodes' facts (gatewayctl/health/judge.py): a healthy prod cluster passes every
check, and each check fails for each of its causes. The facts are written in facts.sh's own output format and
parsed, so the parser is exercised too; tests/test_validate_ssh.py reads real ones over SSH."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from gatewayctl import stackfile
from gatewayctl.health import facts as health_facts
from gatewayctl.health import judge
from tests.support.stacks import PROJECT

SETTINGS, _ = stackfile.load_settings(PROJECT, "prod")
NODES = [(n.hostname, str(n.ip)) for n in SETTINGS.nodes]


def healthy() -> dict[str, dict[str, Any]]:
    """Per node: section name -> (exit code, text), as facts.sh prints them for a healthy cluster."""
    status = (
        "microk8s is running\nhigh-availability: yes\n"
        "  datastore master nodes: " + " ".join(f"{ip}:19001" for _, ip in NODES) + "\n"
        "  datastore standby nodes: none\naddons:\n  enabled:\n    dns\n    ha-cluster\n    metallb\n"
        "  disabled:\n    dashboard"
    )
    pods = (
        "default  gateway-manager-0  Running  gw-prod-1  StatefulSet\n"
        "default  gateway-storage-nfs-6d  Running  gw-prod-2  ReplicaSet\n"
        "kube-system  calico-node-x1  Running  gw-prod-3  DaemonSet"
    )
    out: dict[str, dict[str, Any]] = {}
    for name, _ in NODES:
        sections: dict[str, Any] = {"hostname": (0, name), "status": (0, status)}
        for other, ip in NODES:
            sections[f"resolve {other}"] = (0, f"{ip}       {other}")
            sections[f"ping {other}"] = (0, "1 packets transmitted, 1 received")
        sections["nodes"] = (0, "\n".join(f"{n}   Ready    <none>   5m   v1.29.4" for n, _ in NODES))
        sections["pool"] = (0, "10.20.30.50-10.20.30.50")
        sections["pods"] = (0, pods)
        sections["pvcs"] = (0, "default  gateway-data  Bound")
        out[name] = sections
    return out


def render(sections: dict[str, Any]) -> str:
    return "".join(f"##facts {name} {code}\n{text}\n" for name, (code, text) in sections.items())


def as_facts(raw: dict[str, dict[str, Any]], down: tuple[str, ...] = ()) -> dict[str, health_facts.NodeFacts]:
    return {
        h: health_facts.NodeFacts(h, {}, error="OSError: connection refused")
        if h in down
        else health_facts.NodeFacts(h, health_facts.parse(render(s)))
        for h, s in raw.items()
    }


def failing(rows: list[Any]) -> set[tuple[str, str]]:
    return {(r.id, r.target) for r in rows if r.status == "fail"}


def test_a_healthy_cluster_passes_every_check():
    rows = judge.judge(SETTINGS, as_facts(healthy()))
    assert failing(rows) == set(), [r for r in rows if r.status != "pass"]
    ids = {r.id for r in rows}
    assert ids == {
        "ssh", "hostname", "hosts.resolve", "hosts.ping", "microk8s.running", "node.ready", "nodes.stale",
        "cluster.members", "addons.dns", "addons.metallb", "pods.running", "pvc.bound",
    }  # fmt: skip


def on(node: str, section: str, code: int, text: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        raw[node][section] = (code, text)

    return change


def everywhere(section: str, code: int, text: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        for sections in raw.values():
            sections[section] = (code, text)

    return change


def edit(section: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        for sections in raw.values():
            code, text = sections[section]
            assert old in text
            sections[section] = (code, text.replace(old, new))

    return change


CAUSES = [
    pytest.param(
        on("gw-prod-2", "hostname", 0, "opsramp-gateway"),
        {("hostname", "gw-prod-2")},
        "opsramp-gateway",
        id="hostname-not-set",
    ),
    pytest.param(
        on("gw-prod-1", "resolve gw-prod-3", 2, ""),
        {("hosts.resolve", "gw-prod-1")},
        "gw-prod-3 does not resolve",
        id="name-missing",
    ),
    pytest.param(
        on("gw-prod-1", "resolve gw-prod-3", 0, "10.20.30.99 gw-prod-3"),
        {("hosts.resolve", "gw-prod-1")},
        "resolves to 10.20.30.99",
        id="name-wrong-ip",
    ),
    pytest.param(
        on("gw-prod-3", "ping gw-prod-1", 1, "1 packets transmitted, 0 received"),
        {("hosts.ping", "gw-prod-3")},
        "gw-prod-1",
        id="no-ping",
    ),
    pytest.param(
        on("gw-prod-2", "status", 0, "microk8s is not running, try microk8s start"),
        {("microk8s.running", "gw-prod-2")},
        "not running",
        id="microk8s-stopped",
    ),
    pytest.param(
        edit("nodes", "gw-prod-3   Ready", "gw-prod-3   NotReady"),
        {("node.ready", "gw-prod-3")},
        "NotReady",
        id="node-not-ready",
    ),
    pytest.param(
        edit("nodes", "gw-prod-2   Ready    <none>   5m   v1.29.4\n", ""),
        {("node.ready", "gw-prod-2")},
        "not in the cluster",
        id="node-missing",
    ),
    pytest.param(
        edit("nodes", "gw-prod-1   Ready", "opsramp-gateway   NotReady    <none>   9d   v1.29.4\ngw-prod-1   Ready"),
        {("nodes.stale", "cluster")},
        "opsramp-gateway",
        id="stale-node-object",
    ),
    pytest.param(
        edit("status", "10.20.30.43:19001", "10.20.30.43:19001 10.20.30.44:19001"),
        {("cluster.members", "cluster")},
        "10.20.30.44",
        id="dead-voter",
    ),
    pytest.param(
        edit("status", " 10.20.30.43:19001", ""),
        {("cluster.members", "cluster")},
        "gw-prod-3 (10.20.30.43)",
        id="member-missing",
    ),
    pytest.param(edit("status", "    dns\n", ""), {("addons.dns", "cluster")}, "dns", id="no-dns"),
    pytest.param(edit("status", "    metallb\n", ""), {("addons.metallb", "cluster")}, "not enabled", id="no-metallb"),
    pytest.param(
        everywhere("pool", 0, "10.20.30.60-10.20.30.69"),
        {("addons.metallb", "cluster")},
        "does not hold the floating IP",
        id="pool-without-floating-ip",
    ),
    pytest.param(
        edit("pods", "gateway-manager-0  Running", "gateway-manager-0  Pending"),
        {("pods.running", "cluster")},
        "Pending: default/gateway-manager-0",
        id="pod-pending",
    ),
    pytest.param(
        edit("pods", "gateway-storage-nfs-6d  Running", "gateway-storage-nfs-6d  Failed"),
        {("pods.running", "cluster")},
        "Failed",
        id="pod-failed",
    ),
    pytest.param(
        everywhere("pods", 0, "kube-system  calico-node-x1  Running  gw-prod-3  DaemonSet"),
        {("pods.running", "cluster")},
        "no gateway pods",
        id="no-gateway-pods",
    ),
    pytest.param(
        everywhere("pvcs", 0, "default  gateway-data  Pending"),
        {("pvc.bound", "cluster")},
        "gateway-data (Pending)",
        id="claim-pending",
    ),
    pytest.param(everywhere("pvcs", 0, ""), {("pvc.bound", "cluster")}, "no persistent-storage claim", id="no-claim"),
]


@pytest.mark.parametrize(("change", "expected", "words"), CAUSES)
def test_each_check_fails_for_each_cause(
    change: Callable[[dict[str, Any]], None], expected: set[tuple[str, str]], words: str
):
    raw = copy.deepcopy(healthy())
    change(raw)
    rows = judge.judge(SETTINGS, as_facts(raw))
    assert failing(rows) == expected
    [row] = [r for r in rows if (r.id, r.target) in expected]
    assert words in row.message, row
    assert row.fix, "a failing row says what to do"


def test_an_unreachable_primary_hands_the_cluster_view_to_the_next_node():
    raw = healthy()
    rows = judge.judge(SETTINGS, as_facts(raw, down=("gw-prod-1",)))
    assert failing(rows) == {("ssh", "gw-prod-1")}, "the cluster is read from gw-prod-2, and is healthy"
    # Its own checks are not judged; its readiness is, from the cluster's view (a node may be Ready yet not
    # answer SSH).
    assert {r.id for r in rows if r.target == "gw-prod-1"} == {"ssh", "node.ready"}
    ready = [r for r in rows if r.id == "node.ready"]
    assert all("as gw-prod-2 sees the cluster" in r.message for r in ready)


def test_single_node_has_no_claim_check():
    settings, _ = stackfile.load_settings(PROJECT, "dev")
    assert len(settings.nodes) == 1
    node = settings.nodes[0].hostname
    # A node that answered, with no claim at all: a multi-node cluster would fail (see `no-claim` above).
    facts = as_facts({node: {"hostname": (0, node), "pvcs": (0, "")}})
    assert judge.cluster_source(settings, facts) is not None
    assert judge.pvc_bound(settings, facts) == []


REGISTRATION = [
    pytest.param("registered", True, "pass", id="recorded-registered"),
    pytest.param("skipped", True, "warn", id="recorded-skipped"),
    pytest.param(None, False, "warn", id="no-password"),
]


@pytest.mark.parametrize(("recorded", "password", "status"), REGISTRATION)
def test_registration_row(recorded: str | None, password: bool, status: str):
    row = judge.registration_row(recorded, password)
    assert (row.id, row.status) == ("registration", status)
    if status == "warn":
        assert row.fix


@pytest.mark.parametrize(("listed", "fails"), [(6, False), (5, True)], ids=["six-listed-one-spare", "five-listed"])
def test_beyond_six_nodes_a_spare_is_not_listed(listed: int, fails: bool):
    """`microk8s status` lists three voters and three stand-bys, never spares: a seventh node is not missing."""
    nodes = [{"hostname": f"gw-{i}", "esxiHost": f"esx-{i}", "ip": f"10.20.30.{10 + i}"} for i in range(1, 8)]
    settings, _ = stackfile.load_settings(PROJECT, "prod", {"gateway-cluster:nodes": json.dumps(nodes)})
    members = " ".join(f"10.20.30.{10 + i}:19001" for i in range(1, listed + 1))
    status = (0, f"microk8s is running\n  datastore master nodes: {members}\n  datastore standby nodes: none")
    node = health_facts.NodeFacts(settings.primary, health_facts.parse(render({"status": status})))
    [row] = judge.cluster_members(settings, {settings.primary: node})
    assert (row.status == "fail") is fails, row
