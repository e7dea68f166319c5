"""Check rows: what a command that checks something reports, one row per check (``pass``, ``fail`` or ``warn``,
with what to do about a failure), and the report of a whole run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from components import config as cfg

Status = Literal["pass", "fail", "warn"]


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    id: str
    """What was checked, e.g. ``host.maintenance``."""
    target: str
    """The object or address checked, e.g. ``esx-02.corp.example.com``."""
    status: Status
    message: str
    fix: str | None = None
    """What to do; set for ``fail`` and ``warn``."""


def ok(id_: str, target: str, message: str) -> Check:
    return Check(id_, target, "pass", message)


def failed(id_: str, target: str, message: str, fix: str) -> Check:
    return Check(id_, target, "fail", message, fix)


def warned(id_: str, target: str, message: str, fix: str) -> Check:
    return Check(id_, target, "warn", message, fix)


def stopped(id_: str, target: str, exc: Exception, *, command: str = "preflight") -> Check:
    """A failing row for a check that stopped on an error nothing expected (the other rows still print)."""
    return failed(
        id_,
        target,
        f"the check stopped on an unexpected error ({type(exc).__name__}: {exc})",
        f"Run {command} again; if it happens again, report it with this message",
    )


def config_key(path: str) -> str:
    """The full config key of a path in the program's namespace, as a fix names it (``gateway-cluster:ova.url``)."""
    return f"{cfg.NAMESPACE}:{path}"


@dataclass(frozen=True)
class Report:
    """Every row of one run over a stack."""

    stack: str
    checks: list[Check]

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "checks": [asdict(c) for c in self.checks]}
