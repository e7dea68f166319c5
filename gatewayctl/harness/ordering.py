"""Display ordering: registrations arrive from a thread pool in any order; plans and tests need one order.

Re-check on every SDK upgrade: that ``dependencies`` still holds explicit and property dependencies (never the
parent or the provider), which the step computation below relies on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gatewayctl.harness.records import Resource


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts gw-node-2 before gw-node-10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name))


#: The step of a component that registers nothing and waits for nothing.
_NOTHING_TO_DO = 1 << 30


def stable_order(records: Sequence[Resource]) -> list[Resource]:
    """Registrations arrive from a thread pool in any order: order them as a tree (parents before children)
    whose siblings come in the order the engine can act on them, ties broken by name, so that plans read like
    the run-book and plans and tests are deterministic.

    A resource's step is one more than the latest step it waits for (its provider, and for a dependency on a
    component, all of the component's descendants). A component's step is that of its earliest descendant
    that waits for anything (free-standing children such as random tokens say nothing about when the
    component acts), or else one more than the latest step of what the component itself waits for; an empty
    component that waits for nothing comes after its siblings.
    """
    by_urn = {r.urn: r for r in records}
    children: dict[str | None, list[Resource]] = {}
    for r in records:
        children.setdefault(r.parent if r.parent in by_urn else None, []).append(r)

    def descendants(urn: str) -> list[str]:
        out: list[str] = []
        for child in children.get(urn, []):
            out += [child.urn, *descendants(child.urn)]
        return out

    steps: dict[str, int] = {}

    def step(urn: str, visiting: frozenset[str] = frozenset()) -> int:
        if urn in steps:
            return steps[urn]
        if urn in visiting:  # a cycle cannot come from the SDK; do not loop on one
            return 0
        r = by_urn[urn]
        inner = visiting | {urn}
        waits: list[int] = []
        for dep in [*r.dependencies, r.provider or ""]:
            if dep in by_urn:
                waits += [step(d, inner) for d in [dep, *descendants(dep)] if by_urn[d].custom]
        if r.custom:
            steps[urn] = 1 + max(waits, default=0)
        else:
            acting = [step(d, inner) for d in descendants(urn) if by_urn[d].custom and steps_waiting(d)]
            if acting:
                steps[urn] = min(acting)
            elif waits or any(by_urn[d].custom for d in descendants(urn)):
                steps[urn] = 1 + max(waits, default=0)
            else:
                steps[urn] = _NOTHING_TO_DO  # an empty component (a skipped step): listed after its siblings
        return steps[urn]

    def steps_waiting(urn: str) -> bool:
        r = by_urn[urn]
        return any(d in by_urn for d in [*r.dependencies, r.provider or ""])

    ordered: list[Resource] = []

    def walk(parent: str | None) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (step(r.urn), _natural(r.name))):
            ordered.append(r)
            walk(r.urn)

    walk(None)
    return ordered
