"""The drill's timeline (gatewayctl/commands/drill/timeline.py) against a simulated cluster and clock: Kubernetes'
own waits (node-monitor grace period, the 300 s NoExecute toleration) take simulated seconds, not real ones."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gatewayctl.checks import Check, failed, ok
from gatewayctl.commands.drill.timeline import DrillPorts, Observation, Pod, run_drill

NODES = ("gw-1", "gw-2", "gw-3")
GRACE = 40.0  # node-monitor grace period: NotReady after this long without a heartbeat
TOLERATION = 300.0  # the default NoExecute toleration: pods are evicted this long after NotReady


@dataclass
class World:
    """One drilled node's VM, the pods and the manager, on a simulated clock."""

    now: float = 0.0
    off_at: float | None = None
    on_at: float | None = None
    comes_back: bool = True
    manager_on: str = "gw-1"
    healthy_before: bool = True
    interrupt_at: float | None = None
    events: list[str] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            raise KeyboardInterrupt

    def power_off(self) -> None:
        self.events.append("off")
        self.off_at = self.now

    def power_on(self) -> None:
        self.events.append("on")
        self.on_at = self.now

    def down(self) -> bool:
        return self.off_at is not None and (self.on_at is None or not self.comes_back)

    def evicted(self) -> bool:
        return self.down() and self.off_at is not None and self.now - self.off_at >= GRACE + TOLERATION

    def observe(self) -> Observation:
        if self.down():
            # Ready until the grace period without a heartbeat has passed.
            ready = self.off_at is not None and self.now - self.off_at < GRACE
        else:
            # Booting again: Ready once the kubelet has registered.
            ready = self.on_at is None or self.now - self.on_at >= 30
        manager_node = "gw-2" if self.manager_on == "gw-1" and self.evicted() else self.manager_on
        # The manager is away from the moment its node goes down until its pod runs elsewhere.
        manager_up = not (self.manager_on == "gw-1" and self.down() and not self.evicted())
        pods = [
            Pod("default", "gateway-manager-0", "Running", manager_node, "StatefulSet"),
            Pod("kube-system", "calico-node-a", "Running", "gw-1", "DaemonSet"),
        ]
        return Observation(node_ready=ready, manager_up=manager_up, pods=pods)

    def validate(self) -> list[Check]:
        if not self.healthy_before and self.off_at is None:
            return [failed("node.ready", "gw-3", "gw-3 is NotReady", "look")]
        return [ok("node.ready", n, "Ready") for n in NODES]

    def ports(self) -> DrillPorts:
        return DrillPorts(self.power_off, self.power_on, self.observe, self.validate, self.clock, self.sleep)


def test_the_cluster_recovers_and_the_timeline_says_when():
    world = World()
    result = run_drill("gw-1", world.ports(), timeout=900, interval=5)
    assert result.recovered
    assert [s.step for s in result.steps] == [
        *("validate-before", "power-off", "node-notready", "manager-back"),
        *("pods-moved", "power-on", "node-ready", "validate-after"),
    ]
    assert result.times["nodeNotReadyAfterS"] == GRACE
    assert result.times["podsMovedAfterS"] == GRACE + TOLERATION
    assert result.times["managerBackAfterS"] == GRACE + TOLERATION
    assert world.events == ["off", "on"]
    assert result.times["nodeReadyAfterS"] is not None and result.times["nodeReadyAfterS"] > GRACE + TOLERATION


def test_a_manager_elsewhere_never_goes_away():
    world = World(manager_on="gw-2")
    result = run_drill("gw-1", world.ports(), timeout=900, interval=5)
    assert result.recovered
    assert result.times["managerBackAfterS"] is None, "it never went away"
    assert next(s for s in result.steps if s.step == "manager-back").ok


def test_an_unhealthy_cluster_is_not_drilled():
    world = World(healthy_before=False)
    result = run_drill("gw-1", world.ports(), timeout=900)
    assert not result.recovered and world.events == []
    assert [f.target for f in result.failures] == ["gw-3"]


def test_a_node_that_never_comes_back_is_reported_and_still_powered_on():
    world = World(comes_back=False)
    result = run_drill("gw-1", world.ports(), timeout=120, interval=5)
    assert world.events == ["off", "on"]
    ready = next(s for s in result.steps if s.step == "node-ready")
    assert not ready.ok and result.times["nodeReadyAfterS"] is None
    assert not result.recovered


def test_pods_that_never_move_time_out_and_the_vm_is_powered_on():
    world = World()
    result = run_drill("gw-1", world.ports(), timeout=100, interval=5)
    moved = next(s for s in result.steps if s.step == "pods-moved")
    assert not moved.ok and result.times["podsMovedAfterS"] is None
    assert world.events == ["off", "on"]
    assert not result.recovered


def test_ctrl_c_powers_the_vm_on_again():
    world = World(interrupt_at=100)
    with pytest.raises(KeyboardInterrupt):
        run_drill("gw-1", world.ports(), timeout=900, interval=5)
    assert world.events == ["off", "on"]


def test_leave_off_leaves_it_off():
    world = World()
    result = run_drill("gw-1", world.ports(), timeout=900, interval=5, leave_off=True)
    assert world.events == ["off"]
    assert [s.step for s in result.steps][-1] == "pods-moved"


REFUSALS = [
    pytest.param(["--stack", "dev", "--node", "gw-dev-1", "--yes"], "has 1 node(s)", id="fewer-than-three-nodes"),
    pytest.param(
        ["--stack", "prod", "--node", "gw-prod-9", "--yes"], "--node gw-prod-9: not a node", id="unknown-node"
    ),
    pytest.param(["--stack", "prod", "--node", "gw-prod-3"], "no terminal to confirm on", id="no-yes-no-terminal"),
]


@pytest.mark.parametrize(("argv", "message"), REFUSALS)
def test_refusals_exit_2_before_anything_is_reached(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch):
    from gatewayctl import vcenter
    from tests.support.stacks import gatewayctl

    def no_vcenter(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("vCenter was contacted")

    monkeypatch.setattr(vcenter, "connect", no_vcenter)
    code, out, err = gatewayctl("drill", *argv)
    assert code == 2, err
    assert message in err and "Traceback" not in err + out
