"""`gatewayctl drill` for real, on simulated time: the vSphere simulator powers the node's VM off and on (found by
name and notes, through pyVmomi), three SSH test hosts formed by the program's own steps answer through the
MicroK8s and ping stand-ins, and an HTTPS stand-in plays the Gateway Manager on a loopback floating IP.

The stand-ins follow the simulator's power state on the drill's clock (:class:`Coupling`), as Kubernetes would
on a real one: a powered-off node turns NotReady after the node-monitor grace period (40 s), its pods (but a
DaemonSet's) are evicted after the default NoExecute toleration (300 s) and run on another Ready node; the
manager answers while its pod runs on a powered node; a powered-on node is Ready again once booted (30 s).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyVim import connect, task

from components.annotation import node_annotation
from gatewayctl.commands import drill
from tests.support import prod_ssh
from tests.support.prod_ssh import NAMES, PRIMARY, THIRD
from tests.support.sshhosts import SshHosts
from tests.support.stacks import gatewayctl, make_project
from tests.support.standins import microk8s as standin
from tests.support.vcsim_fixture import PROD_HOSTS, Simulator, variant, vcsim_binary

__all__ = ["vcsim_binary"]  # the fixture this module uses
pytest_plugins = ["tests.support.registration_fixtures"]

FLOATING = "127.0.30.52"
GRACE, TOLERATION, BOOT = 40.0, 300.0, 30.0
IP_OF = {name: ip for ip, name in NAMES.items()}
#: pyVmomi's helpers, typed.
wait_for: Callable[[Any], Any] = task.WaitForTask
disconnect: Callable[[Any], Any] = connect.Disconnect


@dataclass
class Coupling:
    """The drill's simulated clock, and the stand-ins following the simulator's power states on it."""

    hosts: SshHosts
    vms: dict[str, Any]
    """VM managed objects by node address."""
    now: float = 0.0
    off_since: dict[str, float] = field(default_factory=dict)
    on_since: dict[str, float] = field(default_factory=dict)
    never_back: set[str] = field(default_factory=set)
    interrupt_at: float | None = None

    def clock(self) -> float:
        # Every look at the clock also looks at the simulator: a power-off is seen the moment the drill reads
        # the time after it.
        self.sync()
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sync()
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            raise KeyboardInterrupt

    def powered(self, ip: str) -> bool:
        return str(self.vms[ip].runtime.powerState) == "poweredOn"

    def sync(self) -> None:
        with standin.locked_state(self.hosts.state_dir) as state:
            for ip, machine in state["machines"].items():
                on = self.powered(ip) and ip not in self.never_back
                if not on:
                    self.off_since.setdefault(ip, self.now)
                    self.on_since.pop(ip, None)
                    machine["powered"] = False
                    if self.now - self.off_since[ip] >= GRACE:
                        machine["running"] = False  # the cluster has noticed: NotReady
                    if self.now - self.off_since[ip] >= GRACE + TOLERATION:
                        evict(state, ip)
                elif ip in self.off_since:
                    self.on_since.setdefault(ip, self.now)
                    machine["powered"] = True
                    if self.now - self.on_since[ip] >= BOOT:
                        machine["running"] = True
                        del self.off_since[ip]

    def manager_up(self) -> bool:
        state = standin.read_state(self.hosts.state_dir)
        cluster = standin.cluster_of(state, PRIMARY)
        pod = next(p for p in cluster["pods"] if p[".metadata.name"] == "gateway-manager-0")
        node = pod[".spec.nodeName"]
        return bool(node and state["machines"][IP_OF[node]].get("powered", True))


def evict(state: dict[str, Any], ip: str) -> None:
    """The pods on the node at ``ip`` (but a DaemonSet's) run on the first other node that is up."""
    cluster = standin.cluster_of(state, PRIMARY)
    gone = NAMES[ip]
    target = next(n for i, n in NAMES.items() if i != ip and state["machines"][i].get("powered", True))
    for pod in cluster["pods"]:
        if pod[".spec.nodeName"] == gone and pod[".metadata.ownerReferences[0].kind"] != "DaemonSet":
            pod[".spec.nodeName"] = target
            pod[".status.phase"] = "Running"


@dataclass
class Drill:
    project: Path
    coupling: Coupling
    options: list[str]
    sim: Simulator

    def run(self, *argv: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = gatewayctl("drill", "--stack", "prod", "--json", *self.options, *argv, cwd=self.project)
        return code, json.loads(out) if out.strip() else {}, err


@dataclass
class Formed:
    """The module's simulator, with the three nodes' VMs powered on, and its formed cluster."""

    hosts: SshHosts
    raw: dict[str, Any]
    snapshot: dict[Path, bytes]
    sim: Simulator
    vms: dict[str, Any]
    """VM managed objects by node address."""


@pytest.fixture(scope="module")
def formed_hosts(vcsim_binary: Path) -> Iterator[Formed]:
    """The simulator and the cluster, made once per module; each test starts from them as they were made."""
    vms = [
        {"name": n, "annotation": node_annotation("gateway-cluster", "prod", "17.0.0"), "host": h,
         "datastore": "vsanDatastore", "folder": "gateways/prod"}
        for n, h in zip(NAMES.values(), PROD_HOSTS, strict=True)
    ]  # fmt: skip
    sim = Simulator(vcsim_binary, variant(vms=vms)).start()
    si = sim.connect()
    try:
        from pyVmomi import vim

        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        by_name = {vm.name: vm for vm in view.view}
        for hosts, raw in prod_ssh.formed_prod(FLOATING, manager_node="gw-prod-3", storage_node="gw-prod-3"):
            raw.update(
                {"vsphere:vsphereServer": sim.server, "vsphere:user": sim.user, "vsphere:allowUnverifiedSsl": "true"}
            )
            yield Formed(hosts, raw, hosts.snapshot(), sim, {ip: by_name[name] for ip, name in NAMES.items()})
    finally:
        disconnect(si)
        sim.stop()


@pytest.fixture
def world(formed_hosts: Formed, tmp_path: Path, appliance_cert, monkeypatch: pytest.MonkeyPatch) -> Iterator[Drill]:
    formed = formed_hosts
    hosts = formed.hosts
    hosts.restore(formed.snapshot)
    for ip, vm in formed.vms.items():
        if vm.name != NAMES[ip]:
            wait_for(vm.Rename_Task(NAMES[ip]))
        if str(vm.runtime.powerState) != "poweredOn":
            wait_for(vm.PowerOnVM_Task())
    (tmp_path / "project").mkdir()
    project = make_project(tmp_path / "project", {"prod": formed.raw})
    config = prod_ssh.ssh_config(hosts, tmp_path / "ssh_config")
    coupling = Coupling(hosts, formed.vms)
    monkeypatch.setattr(drill, "CLOCK", (coupling.clock, coupling.sleep))
    monkeypatch.setenv("VSPHERE_PASSWORD", formed.sim.password)
    prod_ssh.day2_environment(monkeypatch)
    manager = prod_ssh.manager_standin(appliance_cert, tmp_path, FLOATING)
    monkeypatch.setattr(manager, "available", coupling.manager_up)
    manager.start()
    options = ["--ssh-config", str(config), "--identity", str(hosts.key_path), "--yes", "--interval", "20"]
    try:
        yield Drill(project, coupling, options, formed.sim)
    finally:
        manager.stop()


def test_the_cluster_survives_a_node_power_off(world: Drill):
    code, doc, err = world.run("--node", "gw-prod-3")
    assert code == 0, f"{err}\n{json.dumps(doc, indent=1)}"
    assert doc["recovered"] is True and doc["node"] == "gw-prod-3" and doc["vm"].startswith("vm-")
    assert [s["step"] for s in doc["steps"]] == [
        *("validate-before", "power-off", "node-notready", "manager-back"),
        *("pods-moved", "power-on", "node-ready", "validate-after"),
    ]
    assert all(s["ok"] for s in doc["steps"]), doc["steps"]
    assert doc["nodeNotReadyAfterS"] == GRACE
    assert doc["podsMovedAfterS"] == GRACE + TOLERATION
    assert doc["managerBackAfterS"] == GRACE + TOLERATION, "the manager ran on the drilled node"
    assert doc["nodeReadyAfterS"] > doc["podsMovedAfterS"]
    assert world.coupling.powered(THIRD), "powered on again"


def test_an_unhealthy_cluster_is_refused_untouched(world: Drill):
    world.coupling.hosts.set_running(PRIMARY, False)
    code, doc, _ = world.run("--node", "gw-prod-3")
    assert code == 1
    assert [s["step"] for s in doc["steps"]] == ["validate-before"] and not doc["recovered"]
    assert {(f["id"], f["target"]) for f in doc["failures"]} >= {("microk8s.running", "gw-prod-1")}
    assert all(world.coupling.powered(ip) for ip in NAMES), "nothing was powered off"


def test_a_node_that_never_comes_back_fails_and_is_powered_on(world: Drill):
    world.coupling.never_back.add(THIRD)
    code, doc, _ = world.run("--node", "gw-prod-3", "--timeout", "60")
    assert code == 1 and doc["recovered"] is False
    ready = next(s for s in doc["steps"] if s["step"] == "node-ready")
    assert ready["ok"] is False and doc["nodeReadyAfterS"] is None
    assert world.coupling.powered(THIRD), "the VM is powered on even so"


def test_ctrl_c_during_the_drill_powers_the_vm_on(world: Drill):
    world.coupling.interrupt_at = 100
    code, _, err = world.run("--node", "gw-prod-3")
    assert code == 3 and "interrupted" in err
    assert world.coupling.powered(THIRD)


def test_an_unknown_vm_exits_3(world: Drill):
    wait_for(world.coupling.vms[THIRD].Rename_Task("someone-elses-vm"))
    code, _, err = world.run("--node", "gw-prod-3")
    assert code == 3 and "no VM named gw-prod-3 managed by project gateway-cluster, stack prod" in err
