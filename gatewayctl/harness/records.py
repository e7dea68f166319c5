"""What one program run registered, as the engine would have received it: resources, invokes, stack outputs.

Re-check on every SDK upgrade: which request fields a :class:`Resource` keeps (see :mod:`.monitor`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatewayctl.harness.wire import reveal


@dataclass
class Resource:
    """One registered resource, as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    """Wire form: secrets wrapped at their exact position."""
    options: dict[str, Any]
    """Non-default resource options: ignoreChanges, replaceOnChanges, deleteBeforeReplace, protect, ..."""
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    """The (mock) outputs, wire form."""
    component_outputs: dict[str, Any] | None = None
    """What a component passed to ``register_outputs``, wire form."""

    def input(self, *path: str | int, mask: str | None = None) -> Any:
        """An input by path, as plain JSON: secrets revealed, or replaced by ``mask`` when given."""
        value: Any = reveal(self.inputs, mask=mask)
        for step in path:
            value = value[step]
        return value


@dataclass(frozen=True)
class Invoke:
    """One data-source call and what the inventory answered."""

    token: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Run:
    """What one program run registered."""

    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    """Stack exports, wire form."""
    invokes: list[Invoke]
    log: list[tuple[str, str]]

    def names_by_id(self) -> dict[str, str]:
        """vSphere managed object ID to the name it was looked up by."""
        return {str(i.result["id"]): str(i.args.get("name")) for i in self.invokes if "id" in i.result}

    def by_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def waits_for(self, resource: Resource, other: Resource) -> bool:
        """Whether ``resource`` (transitively) depends on ``other`` through dependencies or parents' deps."""
        seen: set[str] = set()
        todo = [resource.urn]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            r = self.by_urn(urn)
            for dep in r.dependencies:
                if dep == other.urn:
                    return True
                todo.append(dep)
                # A dependency on a component means waiting for all of its children.
                todo.extend(c.urn for c in self.resources if c.parent == dep)
        return False


def stack_urn(run: Run) -> str:
    """The URN of the run's root stack resource (the parent of the program's top-level resources)."""
    return f"urn:pulumi:{run.stack}::{run.project}::pulumi:pulumi:Stack::{run.project}-{run.stack}"
