"""No module under components/, gatewayctl/ or policies/ is longer than 500 lines: one job per module."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 500
MODULES = sorted(
    p for top in ("components", "gatewayctl", "policies") for p in (ROOT / top).rglob("*.py") if "venv" not in p.parts
)


def test_there_are_modules_to_measure() -> None:
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_at_most_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= LIMIT, f"{path.relative_to(ROOT)}: {lines} lines; split it by job"
