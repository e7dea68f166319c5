"""Runs the Pulumi program under Pulumi's mock runtime and records everything it registers.

One harness serves the tests and the offline ``plan``: it executes ``__main__.py`` of the project for a stack
(its config already resolved), answers the program's vSphere look-ups from an :class:`Inventory`, and
records, for every resource, what the engine would receive: type, name, parent, provider, dependencies
(explicit and through inputs), options, and the inputs in wire form with every secret still wrapped at its
exact position. It also emulates the two things the engine (not the SDK) does with secrets: outputs whose
input was secret stay secret, and ``additional_secret_outputs`` become secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi
import pulumi.runtime
import pulumi.runtime.settings
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks

# Wire-format signatures (pulumi/sdk/proto: the "special signature key" scheme).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def secret(value: Any) -> dict[str, Any]:
    """A value wrapped as a secret, in wire form."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def reveal(value: Any, *, mask: str | None = "[secret]") -> Any:
    """Plain JSON from a wire value: secrets become ``mask`` (or their value when ``mask`` is None),
    resource references their URN, unknowns ``"[unknown]"``."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return mask if mask is not None else reveal(value.get("value"), mask=None)
        if sig == RESOURCE_REF_SIG:
            return value.get("urn")
        if sig == OUTPUT_SIG:
            if value.get("secret") and mask is not None:
                return mask
            return reveal(value.get("value", UNKNOWN), mask=mask)
        return {k: reveal(v, mask=mask) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, mask=mask) for v in value]
    if value == UNKNOWN:
        return "[unknown]"
    return value


def plain_strings(value: Any, *, inside_secret: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string in a wire value, with whether it sits inside a secret wrapper (for leak checks)."""
    if isinstance(value, dict):
        secret_here = inside_secret or value.get(SIG_KEY) == SECRET_SIG
        for k, v in value.items():
            yield str(k), inside_secret
            yield from plain_strings(v, inside_secret=secret_here)
    elif isinstance(value, list):
        for v in value:
            yield from plain_strings(v, inside_secret=inside_secret)
    elif isinstance(value, str):
        yield value, inside_secret


# ----------------------------------------------------------------------------------------- inventory


class InventoryError(Exception):
    """A vSphere look-up found nothing: the message is the provider's kind of error."""


class Inventory(Protocol):
    """Answers the program's vSphere data-source invokes (``vsphere:index/getHost:getHost`` and the like)."""

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]: ...


def stable_number(*parts: str, low: int = 1000, high: int = 99999) -> int:
    """A number derived from names, so that fake IDs are stable across runs and threads."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return low + int(digest[:12], 16) % (high - low)


#: The vSphere data sources the program calls: token to (kind, managed object ID prefix).
DATA_SOURCES: Mapping[str, tuple[str, str]] = {
    "vsphere:index/getDatacenter:getDatacenter": ("datacenter", "datacenter-"),
    "vsphere:index/getHost:getHost": ("host", "host-"),
    "vsphere:index/getDatastore:getDatastore": ("datastore", "datastore-"),
    "vsphere:index/getNetwork:getNetwork": ("network", "network-"),
    "vsphere:index/getComputeCluster:getComputeCluster": ("cluster", "domain-c"),
    "vsphere:index/getResourcePool:getResourcePool": ("resourcePool", "resgroup-"),
}


@dataclass(frozen=True)
class DeclaredInventory:
    """Everything the config names exists, with managed object IDs derived from the names.

    ``missing`` holds ``(kind, name)`` pairs that do not exist, e.g. ``("host", "esx-09")``, to test how the
    program reports a look-up that finds nothing.
    """

    missing: frozenset[tuple[str, str]] = frozenset()

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if token not in DATA_SOURCES:
            raise InventoryError(f"the offline inventory cannot answer {token}")
        kind, prefix = DATA_SOURCES[token]
        name = str(args.get("name") or args.get("path") or "")
        if (kind, name) in self.missing:
            raise InventoryError(f"{kind} '{name}' not found")
        result: dict[str, Any] = {"id": f"{prefix}{stable_number(kind, name)}", "name": name}
        if "datacenterId" in args:
            result["datacenterId"] = args["datacenterId"]
        if kind in ("host", "cluster"):
            result["resourcePoolId"] = f"resgroup-{stable_number('pool', kind, name)}"
        return result


# ------------------------------------------------------------------------------------------- records


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


# ------------------------------------------------------------------------------------- mocks/monitor

#: Per resource type: extra outputs a real provider would return, and the ID it would assign.
OutputFactory = Callable[[str, dict[str, Any]], dict[str, Any]]


def _vm_outputs(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = stable_number("vm", name)
    return {
        "moid": f"vm-{n}",
        "uuid": f"4210{n:08x}-0000-4000-8000-{n:012x}",
        "defaultIpAddress": "",
        "guestIpAddresses": [],
    }


OUTPUT_FACTORIES: dict[str, OutputFactory] = {
    "vsphere:index/virtualMachine:VirtualMachine": _vm_outputs,
    "command:remote:Command": lambda name, inputs: {"stdout": "", "stderr": ""},
    "command:local:Command": lambda name, inputs: {"stdout": "", "stderr": ""},
    "random:index/randomPassword:RandomPassword": lambda name, inputs: {
        "result": hashlib.sha256(f"mock-random:{name}".encode()).hexdigest()[: int(inputs.get("length", 32))],
    },
    # The program's dynamic resources (components/registration.py): what their providers return on create.
    "pulumi-python:dynamic/gateway:ManagementProfile": lambda name, inputs: {
        "profile_id": inputs.get("attach_profile_id") or f"profile-{stable_number('profile', name)}",
        "profile_name": inputs.get("create_profile_name"),
        "activation_token": f"mock-activation-{stable_number('activation', name)}",
        "created": not inputs.get("attach_profile_id"),
    },
    "pulumi-python:dynamic/gateway:Registration": lambda name, inputs: {
        "status": "registered",
        "outcome": "registered",
    },
}


def _mock_id(type_: str, name: str) -> str:
    if type_ == "vsphere:index/virtualMachine:VirtualMachine":
        n = stable_number("vm", name)
        return f"4210{n:08x}-0000-4000-8000-{n:012x}"
    short = type_.rsplit(":", 1)[-1].lower()
    return f"{short}-{stable_number(type_, name)}"


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, inventory: Inventory, invokes: list[Invoke], lock: threading.Lock) -> None:
        self.inventory = inventory
        self.invokes = invokes
        self.lock = lock

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        factory = OUTPUT_FACTORIES.get(args.typ)
        if factory is not None:
            state.update(factory(args.name, dict(args.inputs)))
        return _mock_id(args.typ, args.name), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        result = self.inventory.invoke(args.token, args.args)
        with self.lock:
            self.invokes.append(Invoke(args.token, dict(args.args), result))
        return result


def _integral(value: Any) -> Any:
    """Struct numbers are doubles on the wire; show whole numbers as ints, as `pulumi preview` does."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _wire(message: Any) -> dict[str, Any]:
    if not message:
        return {}
    result: dict[str, Any] = _integral(json_format.MessageToDict(message, preserving_proto_field_name=False))
    return result


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


def _options(request: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in ("ignoreChanges", "replaceOnChanges", "additionalSecretOutputs", "aliasURNs"):
        values = list(getattr(request, name, []))
        if values:
            options[name] = values
    for name in ("protect", "retainOnDelete", "deleteBeforeReplace"):
        if getattr(request, name, False):
            options[name] = True
    if getattr(request, "deletedWith", ""):
        options["deletedWith"] = request.deletedWith
    timeouts = getattr(request, "customTimeouts", None)
    if timeouts is not None and (timeouts.create or timeouts.update or timeouts.delete):
        options["customTimeouts"] = {
            "create": timeouts.create,
            "update": timeouts.update,
            "delete": timeouts.delete,
        }
    return options


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records every registration and emulates the engine's secret handling."""

    def __init__(self, mocks: _Mocks, lock: threading.Lock) -> None:
        super().__init__(mocks)
        self.lock = lock
        self.records: list[Resource] = []
        self.outputs_by_urn: dict[str, dict[str, Any]] = {}
        self.stack_urn: str | None = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine would assign (``Deployment.generateURN``): the parent's whole qualified type
        chain, except the root stack's, before the type. The SDK's mock keeps only the parent's last type and
        keeps the stack's, so its URNs would differ from `pulumi preview`'s (and from ``--target``/``--replace``
        arguments an operator copies from the plan)."""
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        inputs = _wire(request.object)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        state = _wire(response.object)
        # The engine keeps an output secret when the same input was secret, and applies
        # additionalSecretOutputs; the SDK relies on it, so a faithful record must do both here.
        secret_outputs = set(request.additionalSecretOutputs)
        secret_outputs.update(k for k, v in inputs.items() if contains_secret(v))
        for key in secret_outputs:
            if key in state and not is_secret(state[key]):
                state[key] = secret(state[key])
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        record = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            provider=provider,
            dependencies=list(dict.fromkeys(request.dependencies)),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            inputs=inputs,
            options=_options(request),
            id=response.id,
            state=state,
        )
        with self.lock:
            self.records.append(record)
        obj = json_format.ParseDict(state, struct_pb2.Struct())
        return type(response)(urn=urn, id=response.id, object=obj)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        with self.lock:
            self.outputs_by_urn[request.urn] = _wire(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class _LogCollector(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname.lower(), record.getMessage()))


# ---------------------------------------------------------------------------------------------- run


def project_name(project_dir: Path) -> str:
    import yaml

    data = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return str(data["name"])


_RUN_LOCK = threading.Lock()


def run_program(
    project_dir: Path,
    stack: str,
    config: Mapping[str, str],
    *,
    secret_keys: Sequence[str] = (),
    inventory: Inventory | None = None,
    preview: bool = True,
    record_into: list[Resource] | None = None,
) -> Run:
    """Runs the project's ``__main__.py`` for ``stack`` with ``config`` (full keys, string values; maps and
    lists as JSON) and returns what it registered. Exceptions the program raises (``ConfigError`` among
    them) propagate after the runtime has shut down; ``record_into`` then still receives what was registered.
    """
    project_dir = project_dir.resolve()
    project = project_name(project_dir)
    lock = threading.Lock()
    invokes: list[Invoke] = []
    messages: list[tuple[str, str]] = []
    logger = logging.getLogger(f"gatewayctl.harness.{id(messages)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(_LogCollector(messages))
    mocks = _Mocks(inventory or DeclaredInventory(), invokes, lock)
    monitor = RecordingMonitor(mocks, lock)
    if record_into is not None:
        monitor.records = record_into

    # One program run at a time per process: the Pulumi runtime's settings are process-wide.
    with _RUN_LOCK:
        previous_loop = _current_loop()
        loop = asyncio.new_event_loop()
        # Futures a failed program leaves unretrieved report through the loop's handler (even after the
        # loop closed): keep those reports in the run's log rather than on the user's terminal.
        loop.set_exception_handler(lambda _loop, context: messages.append(("debug", str(context.get("message")))))
        asyncio.set_event_loop(loop)
        added_path = str(project_dir) not in sys.path
        if added_path:
            sys.path.insert(0, str(project_dir))
        # `pulumi` runs a Python program from its project folder: relative paths in config mean the same here.
        previous_cwd = os.getcwd()
        os.chdir(project_dir)
        try:
            pulumi.runtime.set_mocks(
                mocks, project=project, stack=stack, preview=preview, logger=logger, monitor=monitor
            )
            pulumi.runtime.set_all_config(dict(config), list(secret_keys))
            pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
            main = str(project_dir / "__main__.py")

            def program() -> None:
                runpy.run_path(main, run_name="__main__")

            loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        finally:
            _close(loop)
            os.chdir(previous_cwd)
            if added_path:
                sys.path.remove(str(project_dir))
            # A fresh loop for whoever runs next (pytest's own tests, a second program run).
            asyncio.set_event_loop(
                previous_loop if previous_loop and not previous_loop.is_closed() else asyncio.new_event_loop()
            )

    for record in monitor.records:
        record.component_outputs = monitor.outputs_by_urn.get(record.urn)
    records = stable_order(monitor.records)
    stack_outputs = monitor.outputs_by_urn.get(monitor.stack_urn or "", {})
    return Run(
        project=project,
        stack=stack,
        resources=records,
        outputs=stack_outputs,
        invokes=invokes,
        log=messages,
    )


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Closes a run's loop without leaving its work behind: a program that failed leaves pending output
    tasks, both on the loop and in the runtime's process-wide set, which the next run would otherwise await
    on this closed loop ("Event loop is closed")."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    settings = pulumi.runtime.settings.SETTINGS
    with settings.lock:
        settings.outputs.clear()
    loop.close()


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None
