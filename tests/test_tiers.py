"""The test tiers: what needs root, namespaces, SSH test hosts or the simulator is marked `system` by what it uses,
so `./dev test --fast` (`-m 'not system'`) never starts one, and `./dev test` still runs everything."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SYSTEM_FIXTURES
from tests.support.stacks import PROJECT

FILES = {
    "tests/test_formation_ssh.py": "all",  # the SSH test hosts
    "tests/test_preflight.py": "all",  # network namespaces and the simulator
    "tests/test_preflight_vcenter.py": "some",  # the simulator, in part
    "tests/test_nodes.py": "none",  # the mock runtime only
}


def collected(*args: str) -> dict[str, set[str]]:
    """Test ids by file, as ``pytest --collect-only`` lists them (one run for every file)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *FILES, *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ids: dict[str, set[str]] = {path: set() for path in FILES}
    for line in result.stdout.splitlines():
        if "::" in line:
            ids[line.split("::", 1)[0]].add(line)
    return ids


def test_system_tests_are_marked_by_what_they_use() -> None:
    """Marked by the fixtures they use (tests/conftest.py SYSTEM_FIXTURES): a renamed fixture shows here too."""
    everything, marked = collected(), collected("-m", "system")
    for path, system in FILES.items():
        assert everything[path], f"nothing collected in {path}"
        assert marked[path] <= everything[path], path
        if system == "all":
            assert marked[path] == everything[path], path
        elif system == "none":
            assert marked[path] == set(), path
        else:
            assert marked[path] and marked[path] != everything[path], path
    assert SYSTEM_FIXTURES, "no system fixture declared"
