"""The committed prod stack's three nodes on SSH test hosts: the hosts, the program's runs for them, and what the
SSH tests check of a formed cluster (tests/test_formation_ssh.py, tests/test_rebuild_ssh.py).

The program runs under the mock runtime on prod's config (sentinel secrets; the SSH host keys of the test hosts
pinned in its config). The hosts run stock sshd with the appliance's non-root login user, a sudo that wants the
sshPassword on stdin, and the MicroK8s stand-in (tests/support/standins).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from gatewayctl import harness
from tests.support.pulumi_up import Update, failures
from tests.support.sshhosts import COMMAND, Outcome, SshHosts, start_hosts
from tests.support.stacks import SENTINELS, run_stack, stack_raw
from tests.support.standins import microk8s as standin
from tests.support.vendor_standin import (
    MANAGER_PASSWORD,
    MANAGER_USER,
    ApplianceStandIn,
    ApplianceState,
    Certificate,
)

NS = "gateway-cluster"
PRIMARY, SECOND, THIRD = "10.20.30.41", "10.20.30.42", "10.20.30.43"
NAMES = {PRIMARY: "gw-prod-1", SECOND: "gw-prod-2", THIRD: "gw-prod-3"}
PASSWORD = SENTINELS[f"{NS}:sshPassword"]


def prod_hosts(first_boot: str = "microk8s-first") -> Iterator[SshHosts]:
    """The body of the ``hosts`` fixture: prod's three test hosts, booted as fresh clones (``first_boot``)."""
    if os.geteuid() != 0:
        # Not a skip: these tests are the acceptance, and CI (root) must run them.
        pytest.fail("SSH test hosts need root (mount namespaces, bind mounts, sshd); run the suite as root")
    raw = stack_raw("prod")
    started = start_hosts(
        [n["ip"] for n in raw[f"{NS}:nodes"]], raw[f"{NS}:sshUser"], first_boot=first_boot, hostnames=NAMES
    )
    started.require_sudo_password(PASSWORD)
    yield started
    started.close()


def program(
    hosts: SshHosts,
    nodes: Sequence[str] = (PRIMARY, SECOND, THIRD),
    primary: str | None = None,
    *,
    rebuild: Sequence[str] = (),
    generations: Mapping[str, int] | None = None,
    **secrets: str | None,
) -> harness.Run:
    """The program's run on prod's config, for the nodes given, each node's host key pinned to its test host;
    ``rebuild`` (node addresses) sets the config key, ``generations`` (node addresses) gives those nodes' VMs
    the ID of their Nth replacement, as the engine would after rebuilding them."""
    raw = stack_raw("prod")
    raw[f"{NS}:nodes"] = [n for n in raw[f"{NS}:nodes"] if n["ip"] in nodes]
    if primary is not None:
        raw[f"{NS}:primary"] = NAMES[primary]
    if rebuild:
        raw[f"{NS}:rebuild"] = [NAMES[ip] for ip in rebuild]
    for node in raw[f"{NS}:nodes"]:
        node["sshHostKey"] = hosts.hosts[node["ip"]].host_key
    values = {k: v for k, v in {**SENTINELS, **{f"{NS}:{k}": v for k, v in secrets.items()}}.items() if v is not None}
    vms = {f"{NAMES[ip]}-vm": n for ip, n in (generations or {}).items()}
    return run_stack(raw=raw, secrets=values, generations=vms)


def form(hosts: SshHosts, run: harness.Run) -> list[Outcome]:
    """Every step's create, as a first `pulumi up` runs them; all must succeed."""
    outcomes = hosts.apply(run)
    assert len(outcomes) == len(run.by_type(COMMAND)), failures(outcomes) or "not every step ran"
    assert all(o.code == 0 for o in outcomes), failures(outcomes)
    return outcomes


def by_name(outcomes: Sequence[Outcome]) -> dict[str, Outcome]:
    return {o.name: o for o in outcomes}


def cluster_of(state: dict[str, Any], ip: str) -> dict[str, Any]:
    """The stand-in's cluster that the machine at ``ip`` is in."""
    cluster: dict[str, Any] = state["clusters"][state["machines"][ip]["cluster"]]
    return cluster


def primary_cluster(state: dict[str, Any]) -> dict[str, Any]:
    return cluster_of(state, PRIMARY)


def counters(state: dict[str, Any]) -> dict[str, Any]:
    """Everything a second run must leave alone."""
    return {
        "machines": {
            ip: {k: m[k] for k in ("starts", "stops", "leaves", "resets")} for ip, m in state["machines"].items()
        },
        "tokens": {k: state[k] for k in ("tokens_issued", "tokens_consumed", "joins", "join_attempts")},
        "enables": {cid: c["enables"] for cid, c in state["clusters"].items()},
        "members": {cid: c["members"] for cid, c in state["clusters"].items()},
        "nodes": {cid: c["nodes"] for cid, c in state["clusters"].items()},
    }


def assert_formed(hosts: SshHosts, members: Sequence[str], leader: str = PRIMARY) -> None:
    """One cluster of exactly ``members`` (with ``leader``'s datastore), each running and Ready under its name,
    with exactly their node objects, and every member's hosts block listing them all."""
    state = hosts.state()
    cluster = cluster_of(state, leader)
    assert sorted(cluster["members"]) == sorted(members)
    assert sorted(cluster["nodes"]) == sorted(NAMES[ip] for ip in members), "stale or missing node objects"
    for ip in members:
        machine = state["machines"][ip]
        assert machine["cluster"] == state["machines"][leader]["cluster"], ip
        assert machine["running"] and machine["kubelet_name"] == NAMES[ip], ip
        assert hosts.hosts[ip].hostname == NAMES[ip], ip
        assert hosts.hosts[ip].hosts_block() == [f"{m} {NAMES[m]}" for m in members], ip


def assert_left_then_removed(update: Update, ip: str, remover: str | None = None) -> None:
    """``update`` deleted the node's membership steps, dependents first, and nothing else: the node left on its own
    host, then a remaining member (``remover``, when given) removed its node object, without a warning."""
    name = NAMES[ip]
    deleted = update.of("delete")
    assert [o.name for o in deleted] == [f"{name}-join", f"{name}-add-node"]
    assert deleted[0].host == ip and f"{name} left the cluster" in deleted[0].stderr, deleted[0].describe()
    assert deleted[1].host != ip and f"removed {name} from the cluster" in deleted[1].stderr, deleted[1].describe()
    assert remover is None or deleted[1].host == remover, deleted[1].describe()
    assert "WARNING" not in "".join(o.stderr for o in deleted)


def loopback_stack(hosts: SshHosts, floating_ip: str, manager_user: str) -> dict[str, Any]:
    """prod's config for the day-2 tests: every node's host key pinned to its test host, and a floating IP on
    loopback (127.0.0.0/8), so that the manager probe reaches the HTTPS stand-in there and nothing else."""
    raw = stack_raw("prod")
    raw[f"{NS}:floatingIp"] = floating_ip
    raw[f"{NS}:metallbRange"] = f"{floating_ip}-{floating_ip}"
    raw[f"{NS}:registration"] = {**raw[f"{NS}:registration"], "managerUser": manager_user}
    for node in raw[f"{NS}:nodes"]:
        node["sshHostKey"] = hosts.hosts[node["ip"]].host_key
    return raw


def seed_gateway_workloads(hosts: SshHosts, manager_node: str, storage_node: str) -> None:
    """What the charts would have started: the manager's StatefulSet pod, the storage pod, a DaemonSet pod on
    every node, and a Bound claim."""
    pods = [
        standin.workload("default", "gateway-manager-0", "Running", manager_node, "StatefulSet"),
        standin.workload("default", "gateway-persistent-storage-7c9", "Running", storage_node, "ReplicaSet"),
        *(
            standin.workload("kube-system", f"calico-node-{i}", "Running", n, "DaemonSet")
            for i, n in enumerate(NAMES.values())
        ),
    ]
    with standin.locked_state(hosts.state_dir) as state:
        standin.seed_workloads(state, PRIMARY, pods, [standin.workload("default", "gateway-data", "Bound")])


def ssh_config(hosts: SshHosts, path: Path) -> Path:
    """An OpenSSH client config that sends each node's configured address to its test host's loopback port."""
    path.write_text("".join(f"Host {ip}\n  HostName 127.0.0.1\n  Port {h.port}\n" for ip, h in hosts.hosts.items()))
    return path


def day2_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `validate` and `drill` read besides the options: the SSH and manager passwords from the environment,
    no Pulumi CLI (so no stack secrets) and no ssh-agent."""
    monkeypatch.setenv("GATEWAY_SSH_PASSWORD", PASSWORD)
    monkeypatch.setenv("GATEWAY_MANAGER_PASSWORD", MANAGER_PASSWORD)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def manager_standin(cert: Certificate, folder: Path, floating_ip: str) -> ApplianceStandIn:
    """The Gateway Manager's HTTPS stand-in on the floating IP (loopback), port 5480; not started."""
    state = ApplianceState(users={MANAGER_USER: MANAGER_PASSWORD}, valid_keys=set())
    return ApplianceStandIn(cert, folder, state, bind=(floating_ip, 5480))


def formed_prod(floating_ip: str, manager_node: str, storage_node: str) -> Iterator[tuple[SshHosts, dict[str, Any]]]:
    """The body of a module's ``formed_hosts`` fixture: prod's three test hosts formed once by the program's own
    steps (:func:`loopback_stack`), with the gateway's workloads seeded; each test then ``restore``s the snapshot
    this yields (``hosts.snapshot()`` taken here) through its own fixture."""
    for hosts in prod_hosts():
        raw = loopback_stack(hosts, floating_ip, MANAGER_USER)
        form(hosts, run_stack(raw=raw, secrets=SENTINELS))
        seed_gateway_workloads(hosts, manager_node=manager_node, storage_node=storage_node)
        yield hosts, raw
