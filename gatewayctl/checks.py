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


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines or [""]


def to_text(report: Report, *, title: str, verdict_ok: str, verdict_failed: str) -> str:
    """The table: one row per check; the fix under every failing or warning row; a verdict line
    (``verdict_ok`` or ``verdict_failed``) under the counts."""
    rows = report.checks
    w_id = max([len("CHECK"), *(len(c.id) for c in rows)])
    w_target = min(32, max([len("TARGET"), *(len(c.target) for c in rows)]))
    indent = 6 + 2 + w_id + 2 + w_target + 2
    width = max(40, 120 - indent)
    lines = [f"{title} of stack '{report.stack}'", ""]
    lines.append(f"{'STATUS':<6}  {'CHECK':<{w_id}}  {'TARGET':<{w_target}}  DETAIL")
    for c in rows:
        detail = _wrap(c.message, width)
        head = f"{c.status.upper():<6}  {c.id:<{w_id}}  {c.target:<{w_target}}  "
        if len(c.target) > w_target:
            # A long target (several hosts) gets its own line rather than pushing the details out of line.
            lines.append(head.rstrip())
            lines.append(" " * indent + detail[0])
        else:
            lines.append(head + detail[0])
        lines.extend(" " * indent + more for more in detail[1:])
        if c.fix and c.status != "pass":
            fix = _wrap(f"fix: {c.fix}", width)
            lines.extend(" " * indent + part for part in fix)
    counts = {s: sum(1 for c in rows if c.status == s) for s in ("pass", "warn", "fail")}
    lines.append("")
    verdict = verdict_failed if counts["fail"] else verdict_ok
    lines.append(f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed: {verdict}")
    return "\n".join(lines)
