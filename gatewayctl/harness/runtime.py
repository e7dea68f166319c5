"""The process-global runtime state: one program run at a time, on an event loop of its own, under the mocks.

:func:`run_program` executes ``__main__.py`` of a project for a stack (its config already resolved) with
:class:`~gatewayctl.harness.monitor.RecordingMonitor` in place of the engine, and returns the :class:`Run`.

Re-check on every SDK upgrade: ``set_mocks`` (its pre-created Stack, hence ``set_root_resource(None)``),
``set_all_config``, ``run_in_stack``, what a failed program leaves behind (pending tasks in the loop and
in ``SETTINGS.outputs``), which :func:`_close` clears so that the next run starts clean, and
``_get_stack_trace`` (:func:`_without_source_positions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pulumi
import pulumi.runtime
import pulumi.runtime.resource
import pulumi.runtime.settings
from pulumi.runtime.proto import source_pb2

from gatewayctl.harness.inventory import DeclaredInventory, Inventory
from gatewayctl.harness.monitor import Mocks, RecordingMonitor
from gatewayctl.harness.ordering import stable_order
from gatewayctl.harness.records import Invoke, Resource, Run


class _LogCollector(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname.lower(), record.getMessage()))


def project_name(project_dir: Path) -> str:
    """The project's name, as the Pulumi CLI reads it from ``Pulumi.yaml`` (it is part of every URN)."""
    import yaml

    # libyaml's parser where PyYAML has it: this runs once per program run.
    data = yaml.load((project_dir / "Pulumi.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
    generations: Mapping[str, int] | None = None,
) -> Run:
    """Runs the project's ``__main__.py`` for ``stack`` with ``config`` (full keys, string values; maps and
    lists as JSON) and returns what it registered. Exceptions the program raises (``ConfigError`` among
    them) propagate after the runtime has shut down; ``record_into`` then still receives what was registered.

    ``generations`` (resource name to N) gives those resources the ID and outputs of their Nth replacement, as a
    later run of the program sees them after the engine replaced them: a rebuilt VM's new ID, which re-runs
    every step that has it as a trigger.
    """
    project_dir = project_dir.resolve()
    project = project_name(project_dir)
    lock = threading.Lock()
    invokes: list[Invoke] = []
    messages: list[tuple[str, str]] = []
    # A logger of this run's own, outside logging's registry: getLogger would keep every run's logger (and its
    # messages) for the life of the process.
    logger = logging.Logger("gatewayctl.harness.run", logging.INFO)
    logger.propagate = False
    logger.addHandler(_LogCollector(messages))
    mocks = Mocks(inventory or DeclaredInventory(), invokes, lock, generations)
    monitor = RecordingMonitor(mocks, lock)
    if record_into is not None:
        monitor.records = record_into

    main = str(project_dir / "__main__.py")

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    def execute() -> None:
        # The monitor's calls keep the SDK's executor (a worker thread each): the SDK's mock monitor awaits with
        # `_sync_await`, which, on a thread whose loop is running, pumps that loop from inside the call and so nests
        # one registration in another (a 40-node plan exceeded Python's recursion limit).
        loop = asyncio.new_event_loop()
        # Futures a failed program leaves unretrieved report through the loop's handler (even after the
        # loop closed): keep those reports in the run's log rather than on the user's terminal.
        loop.set_exception_handler(lambda _loop, context: messages.append(("debug", str(context.get("message")))))
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(
                mocks, project=project, stack=stack, preview=preview, logger=logger, monitor=monitor
            )
            pulumi.runtime.set_all_config(dict(config), list(secret_keys))
            pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
            loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        finally:
            _close(loop)
            asyncio.set_event_loop(None)

    # One program run at a time per process: the Pulumi runtime's settings are process-wide.
    with _RUN_LOCK:
        added_path = str(project_dir) not in sys.path
        if added_path:
            sys.path.insert(0, str(project_dir))
        # `pulumi` runs a Python program from its project folder: relative paths in config mean the same here.
        previous_cwd = os.getcwd()
        os.chdir(project_dir)
        try:
            with _without_source_positions():
                _on_own_thread(execute)
        finally:
            os.chdir(previous_cwd)
            if added_path:
                sys.path.remove(str(project_dir))

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


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """The SDK sends the engine, with every registration, the call stack that made it: ``_get_stack_trace``
    walks the stack and reads each frame's source line, a tenth of a run. The engine only shows it; nothing the
    harness records comes from it, so during a run each registration carries an empty stack (no source position).
    """
    module = pulumi.runtime.resource
    original = module._get_stack_trace  # an AttributeError here: the SDK renamed it (see the module docstring)
    module._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        module._get_stack_trace = original


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


def _on_own_thread(work: Callable[[], None]) -> None:
    """Runs ``work`` on a thread of its own and raises what it raised.

    Why a thread: it starts with fresh context variables (the SDK keeps config and the root resource in them)
    and its own event loop, so nothing of a run is left on the caller's; and its stack holds only the program's
    frames, whatever the caller's depth (under pytest some 40 more), for whatever in the SDK walks the stack.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 -- re-raised on the caller's thread
            failure.append(exc)

    # A daemon: Ctrl-C interrupts the caller's join, and the process may then exit without this thread.
    thread = threading.Thread(target=target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
