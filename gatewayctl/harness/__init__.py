"""The engine emulation: runs the Pulumi program under Pulumi's mock runtime and records everything it
registers, as the engine would receive it.

One harness serves the tests and the offline ``plan``: it executes ``__main__.py`` of the project for a stack
(its config already resolved), answers the program's vSphere look-ups from an :class:`Inventory`, and
records, for every resource, what the engine would receive: type, name, parent, provider, dependencies
(explicit and through inputs), options, and the inputs in wire form with every secret still wrapped at its
exact position. It also emulates the two things the engine (not the SDK) does with secrets: outputs whose
input was secret stay secret, and ``additional_secret_outputs`` become secret.

Its parts, one job each:

- :mod:`.wire`: the wire codec (special signatures, secret wrappers, :func:`reveal`);
- :mod:`.records`: what a run registered (:class:`Resource`, :class:`Invoke`, :class:`Run`);
- :mod:`.monitor`: the mock monitor (:class:`~.monitor.RecordingMonitor`) and the engine's URN and secret rules;
- :mod:`.ordering`: the display order of a run's resources (:func:`stable_order`);
- :mod:`.fakes`: what providers return under the mocks, and where a program plugs in its own resources' fakes;
- :mod:`.inventory`: the fake vSphere inventory (:class:`DeclaredInventory`, :class:`InventoryError`);
- :mod:`.runtime`: the process-global runtime state: event loop, ``set_mocks``, :func:`run_program`;
- :mod:`.analyzer`: the offline policy analyzer, which evaluates a policy pack over a run as the engine does
  (imported on its own: it loads pulumi-policy and jsonschema).

**Every part imitates Pulumi's SDK, engine or a provider, so every part must be re-checked on every upgrade of
the Pulumi SDK, pulumi-policy or a provider** (each module says what to re-check); the tests of the harness
(tests/test_harness.py, tests/test_policies_eval.py) pin what is known.

What is not here: anything of this program's own. The fake outputs of its dynamic resources are in
:mod:`gatewayctl.program_fakes`, plugged in with :func:`register_output_fakes`. The engine imports nothing from
gatewayctl outside this package (and no command).
"""

from gatewayctl.harness.fakes import OutputFactory, register_output_fakes, stable_number
from gatewayctl.harness.inventory import DATA_SOURCES, DeclaredInventory, Inventory, InventoryError
from gatewayctl.harness.monitor import RecordingMonitor
from gatewayctl.harness.ordering import stable_order
from gatewayctl.harness.records import Invoke, Resource, Run, stack_urn
from gatewayctl.harness.runtime import project_name, run_program
from gatewayctl.harness.wire import (
    OUTPUT_SIG,
    RESOURCE_REF_SIG,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    contains_secret,
    is_secret,
    plain_strings,
    reveal,
    secret,
)

__all__ = [
    "DATA_SOURCES",
    "OUTPUT_SIG",
    "RESOURCE_REF_SIG",
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN",
    "DeclaredInventory",
    "Inventory",
    "InventoryError",
    "Invoke",
    "OutputFactory",
    "RecordingMonitor",
    "Resource",
    "Run",
    "contains_secret",
    "is_secret",
    "plain_strings",
    "project_name",
    "register_output_fakes",
    "reveal",
    "run_program",
    "secret",
    "stable_number",
    "stable_order",
    "stack_urn",
]
