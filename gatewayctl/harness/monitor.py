"""The mock monitor: records every registration as the engine would receive it, and applies the engine's own
rules the SDK leaves to it (URNs, secret outputs).

Re-check on every SDK upgrade: the ``RegisterResourceRequest`` fields read here, ``MockMonitor``'s methods
(not exported by the SDK), the engine's URN scheme (``Deployment.generateURN``) and its secret rules (an output
stays secret when the same input was; ``additionalSecretOutputs`` become secret).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks

from gatewayctl.harness.fakes import mock_id, output_factory, replacement_name
from gatewayctl.harness.inventory import Inventory
from gatewayctl.harness.records import Invoke, Resource
from gatewayctl.harness.wire import contains_secret, from_struct, is_secret, secret


class Mocks(pulumi.runtime.Mocks):
    """Answers registrations with the fakes (:mod:`.fakes`) and invokes from an :class:`Inventory`.

    ``generations``: resource names whose provider-assigned ID and outputs are those of a replacement, the Nth
    (see :func:`~.fakes.replacement_name`); every other resource is the original."""

    def __init__(
        self,
        inventory: Inventory,
        invokes: list[Invoke],
        lock: threading.Lock,
        generations: Mapping[str, int] | None = None,
    ) -> None:
        self.inventory = inventory
        self.invokes = invokes
        self.lock = lock
        self.generations = dict(generations or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        name = replacement_name(args.name, self.generations.get(args.name, 0))
        factory = output_factory(args.typ)
        if factory is not None:
            state.update(factory(name, dict(args.inputs)))
        return mock_id(args.typ, name), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        result = self.inventory.invoke(args.token, args.args)
        with self.lock:
            self.invokes.append(Invoke(args.token, dict(args.args), result))
        return result


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

    def __init__(self, mocks: Mocks, lock: threading.Lock) -> None:
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
        inputs = from_struct(request.object)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        state = from_struct(response.object)
        # The engine keeps an output secret when the same input was secret, and applies
        # additionalSecretOutputs; the SDK relies on it, so a faithful record must do both here.
        secret_outputs = set(request.additionalSecretOutputs)
        secret_outputs.update(k for k, v in inputs.items() if contains_secret(v))
        for key in secret_outputs:
            if key in state and not is_secret(state[key]):
                state[key] = secret(state[key])
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        # Dependencies are sets to the engine; the SDK sends them in the order of a Python set of resources, which
        # changes from run to run. Sorted, the same program gives the same plan.
        record = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            provider=provider,
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={k: sorted(set(v.urns)) for k, v in request.propertyDependencies.items()},
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
            self.outputs_by_urn[request.urn] = from_struct(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]
