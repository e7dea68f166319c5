"""`gatewayctl validate` for real: the read-only facts script over SSH (asyncssh, through an OpenSSH client config
that maps the nodes' addresses to the test hosts' loopback ports) on three test hosts formed by the program's own
steps, the MicroK8s and ping stand-ins answering, and an HTTPS stand-in playing the Gateway Manager on a loopback
floating IP. Every probe stays on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import prod_ssh
from tests.support.prod_ssh import NAMES, NS, PASSWORD, PRIMARY, SECOND, THIRD
from tests.support.sshhosts import SshHosts
from tests.support.stacks import gatewayctl, make_project
from tests.support.standins import microk8s as standin
from tests.support.vendor_standin import MANAGER_PASSWORD, MANAGER_USER

pytest_plugins = ["tests.support.registration_fixtures"]

#: A floating IP on loopback, so that the manager probe reaches the stand-in and nothing else.
FLOATING = "127.0.30.50"


@pytest.fixture(scope="module")
def formed_hosts() -> Iterator[tuple[SshHosts, dict[str, Any], dict[Path, bytes]]]:
    """Formed once per module; every test starts from the snapshot taken right after."""
    for hosts, raw in prod_ssh.formed_prod(FLOATING, manager_node="gw-prod-1", storage_node="gw-prod-2"):
        yield hosts, raw, hosts.snapshot()


@pytest.fixture
def cluster(
    formed_hosts: tuple[SshHosts, dict[str, Any], dict[Path, bytes]],
    tmp_path: Path,
    appliance_cert: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SshHosts, Path, list[str]]]:
    """The formed cluster as it was formed, its manager, a project with its stack file, and validate's options."""
    hosts, raw, snapshot = formed_hosts
    hosts.restore(snapshot)
    (tmp_path / "project").mkdir()
    project = make_project(tmp_path / "project", {"prod": raw})
    config = prod_ssh.ssh_config(hosts, tmp_path / "ssh_config")
    prod_ssh.day2_environment(monkeypatch)
    manager = prod_ssh.manager_standin(appliance_cert, tmp_path, FLOATING).start()
    try:
        yield hosts, project, ["--ssh-config", str(config), "--identity", str(hosts.key_path), "--timeout", "10"]
    finally:
        manager.stop()


def validate(project: Path, options: list[str]) -> tuple[int, dict[str, Any], str]:
    code, out, err = gatewayctl("validate", "--stack", "prod", "--json", *options, cwd=project)
    return code, json.loads(out) if out.strip() else {}, err


def rows(doc: dict[str, Any], status: str) -> set[tuple[str, str]]:
    return {(c["id"], c["target"]) for c in doc["checks"] if c["status"] == status}


def test_a_formed_cluster_validates(cluster):
    hosts, project, options = cluster
    before = len(hosts.state()["calls"])
    code, doc, err = validate(project, options)
    assert code == 0, f"{err}\n{json.dumps(doc, indent=1)}"
    assert rows(doc, "fail") == set()
    assert rows(doc, "warn") == {("registration", "manager")}, "no read of the registration without the stack's outputs"
    ids = {c["id"] for c in doc["checks"]}
    assert ids == {
        "ssh", "hostname", "hosts.resolve", "hosts.ping", "microk8s.running", "node.ready", "nodes.stale",
        "cluster.members", "addons.dns", "addons.metallb", "pods.running", "pvc.bound", "manager.https", "registration",
    }  # fmt: skip
    assert {c["target"] for c in doc["checks"] if c["id"] == "ssh"} == set(NAMES.values())
    assert PASSWORD not in json.dumps(doc) + err and MANAGER_PASSWORD not in json.dumps(doc) + err
    # Read-only: nothing in MicroK8s changed.
    calls = hosts.state()["calls"][before:]
    assert calls and all(c[1] == "status" or c[1:3] == ["kubectl", "get"] for c in calls), calls


def break_hosts_line(hosts: SshHosts) -> None:
    path = hosts.hosts[SECOND].hosts_file
    path.write_text("\n".join(line for line in path.read_text().splitlines() if "gw-prod-3" not in line) + "\n")


def stop_microk8s(hosts: SshHosts) -> None:
    hosts.set_running(THIRD, False)


def drop_icmp(hosts: SshHosts) -> None:
    """gw-prod-3's firewall drops ICMP echo: SSH still works, ping by name does not."""
    with standin.locked_state(hosts.state_dir) as state:
        state["machines"][THIRD]["icmp"] = False


BREAKS = [
    pytest.param(
        break_hosts_line, {("hosts.resolve", "gw-prod-2"), ("hosts.ping", "gw-prod-2")}, id="hosts-line-removed"
    ),
    pytest.param(
        stop_microk8s, {("microk8s.running", "gw-prod-3"), ("node.ready", "gw-prod-3")}, id="microk8s-stopped"
    ),
    pytest.param(drop_icmp, {("hosts.ping", "gw-prod-1"), ("hosts.ping", "gw-prod-2")}, id="no-ping-answer"),
]


@pytest.mark.parametrize(("change", "failing"), BREAKS)
def test_a_broken_cluster_fails_naming_what(cluster, change, failing):
    hosts, project, options = cluster
    change(hosts)
    code, doc, err = validate(project, options)
    assert code == 1, err
    assert rows(doc, "fail") == failing, json.dumps(doc, indent=1)
    for check in (c for c in doc["checks"] if c["status"] == "fail"):
        assert check["fix"], check


def test_a_host_key_other_than_the_pinned_one_is_refused(cluster, tmp_path: Path):
    hosts, _, options = cluster
    raw = prod_ssh.loopback_stack(hosts, FLOATING, MANAGER_USER)
    raw[f"{NS}:nodes"][2]["sshHostKey"] = hosts.hosts[PRIMARY].host_key
    (tmp_path / "other").mkdir()
    other = make_project(tmp_path / "other", {"prod": raw})
    code, doc, _ = validate(other, options)
    assert code == 1
    [ssh] = [c for c in doc["checks"] if c["id"] == "ssh" and c["status"] == "fail"]
    assert ssh["target"] == "gw-prod-3" and "sshHostKey" in ssh["fix"]
