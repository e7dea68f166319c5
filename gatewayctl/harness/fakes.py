"""What providers return under the mocks: the IDs and extra outputs a real provider would set on create.

The outputs of the providers this program uses (vSphere, pulumi-command, pulumi-random) are here. A program's
own resources (dynamic providers, say) plug theirs in with :func:`register_output_fakes`; this project's are in
:mod:`gatewayctl.program_fakes`. Values derive from resource names (:func:`stable_number`), never from a
counter: registrations run on a thread pool, and runs must be repeatable.

Re-check on every provider upgrade: the output names, and that ``result`` / ``stdout`` are still the outputs
the engine makes secret through ``additionalSecretOutputs``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

#: Per resource type: extra outputs a real provider would return, from the resource's name and inputs.
OutputFactory = Callable[[str, dict[str, Any]], dict[str, Any]]

VIRTUAL_MACHINE = "vsphere:index/virtualMachine:VirtualMachine"


def stable_number(*parts: str, low: int = 1000, high: int = 99999) -> int:
    """A number derived from names, so that fake IDs are stable across runs and threads."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return low + int(digest[:12], 16) % (high - low)


def _vm_uuid(name: str) -> str:
    n = stable_number("vm", name)
    return f"4210{n:08x}-0000-4000-8000-{n:012x}"


def _vm_outputs(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "moid": f"vm-{stable_number('vm', name)}",
        "uuid": _vm_uuid(name),
        "defaultIpAddress": "",
        "guestIpAddresses": [],
    }


PROVIDER_FAKES: Mapping[str, OutputFactory] = {
    VIRTUAL_MACHINE: _vm_outputs,
    "command:remote:Command": lambda name, inputs: {"stdout": "", "stderr": ""},
    "command:local:Command": lambda name, inputs: {"stdout": "", "stderr": ""},
    "random:index/randomPassword:RandomPassword": lambda name, inputs: {
        # New keepers replace the password (pulumi-random: keepers force a new resource), so a new result.
        "result": hashlib.sha256(
            f"mock-random:{name}:{json.dumps(inputs.get('keepers'), sort_keys=True)}".encode()
        ).hexdigest()[: int(inputs.get("length", 32))],
    },
}

_PROGRAM_FAKES: dict[str, OutputFactory] = {}


def register_output_fakes(factories: Mapping[str, OutputFactory]) -> None:
    """Adds a program's own resource types (process-wide, for every later run; registering again replaces)."""
    _PROGRAM_FAKES.update(factories)


def output_factory(type_: str) -> OutputFactory | None:
    return _PROGRAM_FAKES.get(type_) or PROVIDER_FAKES.get(type_)


def replacement_name(name: str, generation: int) -> str:
    """The name the fakes derive a resource's ID and outputs from: its own for the original (generation 0), marked
    with the generation for a replacement, which a provider gives a new ID and new outputs (a VM rebuilt, or lost
    and created again)."""
    return name if generation == 0 else f"{name}#{generation}"


def mock_id(type_: str, name: str) -> str:
    """The ID a provider would assign: a VM's is its UUID."""
    if type_ == VIRTUAL_MACHINE:
        return _vm_uuid(name)
    short = type_.rsplit(":", 1)[-1].lower()
    return f"{short}-{stable_number(type_, name)}"
