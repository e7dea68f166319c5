"""The node-failure drill's timeline: power a node's VM off, watch the cluster recover, power it on again, and
record when each thing was seen. Pure orchestration over :class:`DrillPorts`, so that the order, the waits and the
promise to power the VM on again (also on failure, timeout and Ctrl-C) are the same code whatever answers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gatewayctl.checks import Check

StepName = Literal[
    "validate-before",
    "power-off",
    "node-notready",
    "manager-back",
    "pods-moved",
    "power-on",
    "node-ready",
    "validate-after",
]


@dataclass(frozen=True)
class Pod:
    """A pod as the drill follows it."""

    namespace: str
    name: str
    phase: str
    node: str
    owner: str


@dataclass(frozen=True)
class Observation:
    """The cluster as a surviving node sees it, and the manager: one poll."""

    node_ready: bool | None
    """Whether the drilled node is Ready (``None``: no surviving node answered)."""
    manager_up: bool
    pods: Sequence[Pod]


@dataclass
class DrillPorts:
    """What the drill acts on and watches (vCenter, the nodes, the manager), and its clock."""

    power_off: Callable[[], None]
    power_on: Callable[[], None]
    observe: Callable[[], Observation]
    validate: Callable[[], Sequence[Check]]
    clock: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass
class Step:
    step: StepName
    at: float | None
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "at": None if self.at is None else round(self.at, 1), "ok": self.ok}


@dataclass
class DrillResult:
    node: str
    steps: list[Step] = field(default_factory=list)
    times: dict[str, float | None] = field(default_factory=dict)
    failures: list[Check] = field(default_factory=list)
    """validate's failing rows, before (the drill did not start) or after."""
    interrupted: bool = False

    @property
    def recovered(self) -> bool:
        after = next((s for s in self.steps if s.step == "validate-after"), None)
        moved = next((s for s in self.steps if s.step == "pods-moved"), None)
        return bool(after and after.ok and moved and moved.ok)


def _moved(pods: Sequence[Pod], node: str, workloads: set[tuple[str, str]]) -> bool:
    """Every workload that ran on ``node`` (namespace and owner, or the pod's name without an owner) runs on
    another node: a replacement pod has another name, but the same owner."""
    elsewhere = {_workload(p) for p in pods if p.node != node and p.phase == "Running"}
    return workloads <= elsewhere


def _workload(pod: Pod) -> tuple[str, str]:
    return (pod.namespace, f"{pod.owner}:{pod.name.rsplit('-', 1)[0]}" if pod.owner else pod.name)


@dataclass
class _Watch:
    """What the watch after the power-off has seen so far, in seconds since the power-off."""

    notready: float | None = None
    manager_down: bool = False
    manager_back: float | None = None
    moved: float | None = None


def run_drill(
    node: str, ports: DrillPorts, *, timeout: float, interval: float = 5.0, leave_off: bool = False
) -> DrillResult:
    """The drill on ``node``: validate, power off, watch, power on, wait for Ready, validate again.

    After the power-off one loop watches, at every ``interval``, for the node to turn NotReady, the manager to
    answer again if it went away, and every pod that ran on the node (DaemonSets' aside) to run elsewhere. Each
    wait is bounded by ``timeout``: the NotReady from the power-off, the rest from the NotReady, the Ready from
    the power-on. The VM is powered on again in every case unless ``leave_off``, also on Ctrl-C (which is then
    raised again, after the power-on).
    """
    result = DrillResult(node)
    failing = [r for r in ports.validate() if r.status == "fail"]
    result.steps.append(Step("validate-before", None, not failing))
    if failing:
        result.failures = failing
        return result
    first = ports.observe()
    workloads = {_workload(p) for p in first.pods if p.node == node and p.owner != "DaemonSet"}
    watch = _Watch()
    off_at = ports.clock()
    powered_off = False

    def since() -> float:
        return ports.clock() - off_at

    try:
        ports.power_off()
        powered_off = True
        off_at = ports.clock()
        result.steps.append(Step("power-off", 0.0, True))
        deadline = off_at + timeout
        while True:
            seen = ports.observe()
            if watch.notready is None and seen.node_ready is False:
                watch.notready = since()
                deadline = ports.clock() + timeout
            if not seen.manager_up:
                watch.manager_down = True
            elif watch.manager_down and watch.manager_back is None:
                watch.manager_back = since()
            if watch.notready is not None and watch.moved is None and _moved(seen.pods, node, workloads):
                watch.moved = since()
            if watch.notready is not None and watch.moved is not None and seen.manager_up:
                break
            if ports.clock() + interval > deadline:
                break
            ports.sleep(interval)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if powered_off:
            _record_watch(result, watch)
            if not leave_off:
                ports.power_on()
                result.steps.append(Step("power-on", since(), True))
    if result.interrupted:
        raise KeyboardInterrupt
    if leave_off or not powered_off:
        return result
    deadline = ports.clock() + timeout
    while True:
        if ports.observe().node_ready is True:
            result.steps.append(Step("node-ready", since(), True))
            result.times["nodeReadyAfterS"] = since()
            break
        if ports.clock() + interval > deadline:
            result.steps.append(Step("node-ready", since(), False))
            result.times["nodeReadyAfterS"] = None
            return result
        ports.sleep(interval)
    result.failures = [r for r in ports.validate() if r.status == "fail"]
    result.steps.append(Step("validate-after", since(), not result.failures))
    return result


def _record_watch(result: DrillResult, watch: _Watch) -> None:
    result.steps.append(Step("node-notready", watch.notready, watch.notready is not None))
    # The manager that never went away needs no recovery: the step passes with no time.
    result.steps.append(
        Step("manager-back", watch.manager_back, watch.manager_back is not None or not watch.manager_down)
    )
    result.steps.append(Step("pods-moved", watch.moved, watch.moved is not None))
    result.times.update(
        nodeNotReadyAfterS=watch.notready, managerBackAfterS=watch.manager_back, podsMovedAfterS=watch.moved
    )
