"""The test tiers: what needs root, namespaces, SSH test hosts or the simulator is marked `system` by what it uses,
so `./dev test --fast` (`-m 'not system'`) never starts one, and `./dev test` still runs everything."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SYSTEM_FIXTURES
from tests.support.stacks import PROJECT

FILES = {
    "tests/test_formation_ssh.py": "all",  # the SSH test hosts
    "tests/test_rebuild_ssh.py": "all",  # the SSH test hosts
    "tests/test_preflight.py": "all",  # network namespaces and the simulator
    "tests/test_preflight_vcenter.py": "some",  # the simulator, in part
    "tests/test_nodes.py": "none",  # the mock runtime only
}


def collected() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Test ids by file, all and those marked ``system``, from one ``pytest --collect-only`` of every file (the
    marks as the conftest's collection hook left them, which is what ``-m`` selects on)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.support.collect_marks",
            *FILES,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    everything: dict[str, set[str]] = {path: set() for path in FILES}
    marked: dict[str, set[str]] = {path: set() for path in FILES}
    for line in result.stdout.splitlines():
        test_id, sep, tier = line.partition("\t")
        if not sep:
            continue
        path = test_id.split("::", 1)[0]
        everything[path].add(test_id)
        if tier == "system":
            marked[path].add(test_id)
    return everything, marked


def test_system_tests_are_marked_by_what_they_use() -> None:
    """Marked by the fixtures they use (tests/conftest.py SYSTEM_FIXTURES): a renamed fixture shows here too."""
    everything, marked = collected()
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
