"""gatewayctl's layout rules: the engine emulation imports nothing of gatewayctl outside itself (so no command),
no command imports another, every command registers itself the same way, and of the program gatewayctl imports
only its shared parts (module size: test_module_size.py)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from gatewayctl import cli

PACKAGE = Path(__file__).resolve().parent.parent / "gatewayctl"
ENGINE = "gatewayctl.harness"
COMMANDS = "gatewayctl.commands"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str = "gatewayctl") -> set[str]:
    """Every module of ``package`` that ``path`` imports, at the top or inside a function (``from x import y``:
    both)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == package}


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _command_of(name: str) -> str | None:
    """The command a module belongs to (``gatewayctl.commands.preflight.report``: ``preflight``)."""
    if not _within(name, COMMANDS) or name == COMMANDS:
        return None
    return name.split(".")[2]


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, ENGINE)])
def test_the_engine_imports_nothing_of_gatewayctl_outside_itself(module: str):
    outside = {name for name in _imports(MODULES[module]) if not _within(name, ENGINE)}
    assert not outside, f"{module} imports {sorted(outside)}"


@pytest.mark.parametrize("module", [m for m in MODULES if _command_of(m)])
def test_no_command_imports_another(module: str):
    own = _command_of(module)
    others = {name for name in _imports(MODULES[module]) if _command_of(name) not in (None, own)}
    assert not others, f"{module} (command {own}) imports {sorted(others)}"


def test_only_the_cli_imports_the_commands():
    importers = {
        module
        for module, path in MODULES.items()
        if not _within(module, COMMANDS) and any(_within(name, COMMANDS) for name in _imports(path))
    }
    assert importers == {"gatewayctl.cli"}


#: What gatewayctl may import of the program: its config model, remote scripts, vendor API client and VM notes.
#: The components themselves import the provider SDKs (pulumi_vsphere alone costs 0.3 s at every start), and `plan`
#: runs the program as `pulumi` does (runpy), never imports it.
PROGRAM_PARTS = ("components.config", "components.scripts", "components.vendor_api", "components.annotation")


def test_gatewayctl_imports_only_the_programs_shared_parts():
    outside = {
        module: sorted(
            name
            for name in _imports(path, "components")
            # `from components import config` names the package too, which says nothing by itself.
            if name != "components" and not any(_within(name, part) for part in PROGRAM_PARTS)
        )
        for module, path in MODULES.items()
    }
    assert {module: names for module, names in outside.items() if names} == {}


def test_every_command_registers_itself_and_the_cli_lists_them_all():
    packages = sorted(p for p in (PACKAGE / "commands").iterdir() if p.name != "__pycache__" and p.stem != "__init__")
    names = {f"{COMMANDS}.{p.stem}" for p in packages}
    assert {c.__name__ for c in cli.COMMANDS} == names
    for name in names:
        assert callable(importlib.import_module(name).register), name
