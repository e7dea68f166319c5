"""Carrying out the upgrade's steps on a stack: config changes through the Pulumi CLI, `pulumi up` after each
rebuild and primary move, then the cluster's health before the next.

The stack is reached through a :class:`StackDriver` (:mod:`gatewayctl.automation`: Pulumi's Automation
API), the cluster's health through a :class:`HealthGate` (:mod:`gatewayctl.health`), so the order,
the stops and the resumption are the same code whatever runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gatewayctl.automation import UpdateFailedError
from gatewayctl.commands.upgrade.steps import UPDATES, Step


class StackDriver(Protocol):
    def set_config(self, path: str, value: Any) -> None:
        """Sets ``path`` (a full key path, e.g. ``gateway-cluster:ova.retain[0].version``), or removes it (``None``)."""

    def up(self) -> None:
        """``pulumi up --yes --skip-preview``; raises :class:`UpdateFailedError` when the update fails."""


class HealthGate(Protocol):
    def __call__(self) -> str | None:
        """Waits for the cluster's health; ``None`` when healthy, else what is not."""


@dataclass
class Outcome:
    done: list[Step]
    failed: Step | None = None
    error: str | None = None


def apply_config(driver: StackDriver, config: Mapping[str, Any]) -> None:
    """A step's config changes, as ``pulumi config set/rm --path`` make them: a list is written element by element
    after the old value is removed, so no element of a longer old list is left behind."""
    for path, value in config.items():
        if isinstance(value, list):
            driver.set_config(path, None)
            for i, element in enumerate(value):
                driver.set_config(f"{path}[{i}]", element)
        else:
            driver.set_config(path, value)


def _pending_update(steps: Sequence[Step], index: int) -> bool:
    """Whether the config changes up to ``steps[index]`` still need a `pulumi up`: the last step is followed by
    one unless it is an update itself (whose `pulumi up` already ran)."""
    return index == len(steps) - 1 and steps[index].action not in UPDATES


def roll(
    steps: Sequence[Step],
    driver: StackDriver,
    health: HealthGate,
    progress: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Carries out ``steps`` in order and stops at the first failure, leaving the stack consistent: the config
    says what the failed update was doing, and a second run plans from there."""
    outcome = Outcome(done=[])
    for i, step in enumerate(steps):
        what = f"{step.action} {step.node}" if step.node else step.action
        progress(f"[{i + 1}/{len(steps)}] {what}")
        apply_config(driver, step.config)
        if step.action in UPDATES or _pending_update(steps, i):
            try:
                progress("  pulumi up")
                driver.up()
                if step.action in UPDATES:
                    progress("  waiting for the cluster's health")
                    problem = health()
                    if problem is not None:
                        raise UpdateFailedError(f"the cluster is not healthy after the update: {problem}")
            except UpdateFailedError as exc:
                outcome.failed, outcome.error = step, str(exc)
                return outcome
        outcome.done.append(step)
    return outcome
