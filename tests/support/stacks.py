"""Stack configs for tests: the committed stacks, changed per case, run under the harness or through the CLI."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gatewayctl import cli, harness, program_fakes, stackfile

PROJECT = Path(__file__).resolve().parents[2]
# Every run in the tests answers the program's own dynamic resources as `plan` does.
program_fakes.install()

#: One unique, recognisable value per secret key, so that a leak of any of them can be found anywhere.
SENTINELS: dict[str, str] = {
    "gateway-cluster:managerPassword": "SENTINEL-mgr-pw-6c1f0e",
    "gateway-cluster:sshPrivateKey": "SENTINEL-ssh-key-93b7d2",
    "gateway-cluster:sshPassword": "SENTINEL-ssh-pw-51ae08",
    "gateway-cluster:activationToken": "SENTINEL-activation-4d9c3a",
    "vsphere:password": "SENTINEL-vsphere-pw-0b62e7",
}


def stack_raw(stack: str) -> dict[str, Any]:
    """The ``config:`` map of a committed stack file (a deep copy: change it freely)."""
    return copy.deepcopy(_committed_config(stack))


@functools.cache
def _committed_config(stack: str) -> dict[str, Any]:
    # Read once per process: no test changes the committed stack files, and reading YAML costs ~15 ms a file.
    return stackfile.read_stack(PROJECT, stack)


def flat_config(raw: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """Full key to string value, as the runtime hands config to a program; secrets added."""
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if not _secure(v)}
    values.update(SENTINELS if secrets is None else secrets)
    return values


def _secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def run_stack(
    stack: str = "prod",
    *,
    raw: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    inventory: harness.Inventory | None = None,
    generations: Mapping[str, int] | None = None,
) -> harness.Run:
    """Runs the program under the harness with a committed stack's config (or ``raw``) and sentinel secrets;
    ``generations`` as in :func:`gatewayctl.harness.run_program` (resources that were replaced).

    A run with the default inventory is made once (see :func:`_run_program_once`); every caller gets its own deep
    copy of it (tests may change what they get).
    """
    config = flat_config(raw if raw is not None else stack_raw(stack), secrets)
    secret_keys = sorted(SENTINELS if secrets is None else secrets)
    return harness.run_program(
        PROJECT, stack, config, secret_keys=secret_keys, inventory=inventory, generations=generations
    )


_run_program = harness.run_program
#: The runs made so far in this process, by their inputs (see :func:`_run_program_once`).
_RUNS: dict[str, harness.Run] = {}


def _run_program_once(
    project_dir: Path,
    stack: str,
    config: Mapping[str, str],
    *,
    secret_keys: Sequence[str] = (),
    inventory: harness.Inventory | None = None,
    preview: bool = True,
    record_into: list[harness.Resource] | None = None,
    generations: Mapping[str, int] | None = None,
) -> harness.Run:
    """``harness.run_program`` for the tests: the program is deterministic for given inputs, so a run of this
    project's own folder (which no test changes) with the default inventory, or a declared one, is made once
    per stack, config, secret keys, preview flag and generations (and state of the files the config names), and
    every caller gets its own deep copy, whether a test or a command (``gatewayctl plan``) asked. Other runs, runs
    that fail and runs recorded into a list run as asked.
    """
    if inventory is None:
        inventory = harness.DeclaredInventory()
    if (
        type(inventory) is not harness.DeclaredInventory
        or record_into is not None
        or Path(project_dir).resolve() != PROJECT
    ):
        return _run_program(
            project_dir,
            stack,
            config,
            secret_keys=secret_keys,
            inventory=inventory,
            preview=preview,
            record_into=record_into,
            generations=generations,
        )
    missing = sorted(inventory.missing)
    env = os.environ.get("PULUMI_CONFIG")  # the program reads config from there too
    files = _files_named_in(config)  # a chart folder or values file outside the project may change between runs

    def run() -> harness.Run:
        return _run_program(
            PROJECT,
            stack,
            config,
            secret_keys=secret_keys,
            inventory=inventory,
            preview=preview,
            generations=generations,
        )

    if files is None:
        return run()
    key = json.dumps(
        [stack, dict(config), sorted(secret_keys), preview, missing, env, files, dict(generations or {})],
        sort_keys=True,
    )
    if key not in _RUNS:
        _RUNS[key] = run()
    return copy.deepcopy(_RUNS[key])


def _files_named_in(config: Mapping[str, str]) -> list[tuple[str, int, int]] | None:
    """Every existing file that a config value names by absolute path, or that lies in a folder one names, with its
    modification time and size: what a run may read besides the project's own files (``None``: too many to say)."""
    strings: list[str] = []
    for text in config.values():
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        strings.extend(string for string, _ in harness.plain_strings(value))
    found = []
    for name in strings:
        path = Path(name)
        if not path.is_absolute() or not path.exists():
            continue
        files = [path] if not path.is_dir() else [Path(d, f) for d, _, fs in os.walk(path) for f in fs]
        if len(files) > 100:
            return None
        for file in sorted(files):
            try:
                stat = file.stat()
            except OSError:
                return None
            found.append((str(file), stat.st_mtime_ns, stat.st_size))
    return found


harness.run_program = _run_program_once


#: libyaml's emitter where PyYAML has it: the same text as ``yaml.safe_dump``'s, several times faster.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def make_project(tmp: Path, stacks: Mapping[str, Mapping[str, Any]]) -> Path:
    """A project directory that runs this project's program with the given stack files."""
    for name in ("Pulumi.yaml", "__main__.py", "components", "policies"):
        if (PROJECT / name).exists():
            (tmp / name).symlink_to(PROJECT / name)
    for stack, raw in stacks.items():
        (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.dump({"config": dict(raw)}, Dumper=_DUMPER, sort_keys=False))
    return tmp


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def gatewayctl(*argv: str, cwd: Path = PROJECT) -> tuple[int, str, str]:
    """Runs ``gatewayctl`` in-process (as ``python -m gatewayctl`` would, but without leaving the process)."""
    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()
