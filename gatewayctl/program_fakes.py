"""The fake outputs of this program's own dynamic resources (components/registration.py), plugged into the
engine emulation (:mod:`gatewayctl.harness`) with :func:`install`.

They are what the dynamic providers return on create; re-check them when those providers change, not on an SDK
upgrade. ``plan`` installs them before it runs the program, and so does tests/support/stacks.py for every test.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatewayctl.harness import OutputFactory, register_output_fakes, stable_number

FAKES: Mapping[str, OutputFactory] = {
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


def install() -> None:
    """Plugs :data:`FAKES` into the engine emulation, for every later run in this process (idempotent)."""
    register_output_fakes(FAKES)
