"""The test tiers: what needs root, namespaces, SSH test hosts or the simulator is marked `system` by what it uses,
so `./dev test --fast` (`-m 'not system'`) never starts one, and `./dev test` still runs everything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import pytest

from tests.conftest import COLLECTED_TIERS, SYSTEM_FIXTURES
from tests.support.stacks import PROJECT

FILES = {
    "tests/test_formation_ssh.py": "all",  # the SSH test hosts
    "tests/test_rebuild_ssh.py": "all",  # the SSH test hosts
    "tests/test_preflight.py": "all",  # network namespaces and the simulator
    "tests/test_preflight_vcenter.py": "some",  # the simulator, in part
    "tests/test_nodes.py": "none",  # the mock runtime only
}


def collected(config: pytest.Config) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Test ids by file, all and those marked ``system`` (the marks as the conftest's collection hook left them,
    which is what ``-m`` selects on): from this session's own collection when it took in every file whole (as
    ``./dev test`` and ``./dev test --fast`` do), else from one ``pytest --collect-only`` of every file."""
    if all(_collected_whole(config, path) for path in FILES):
        return _split((test_id, "system" if system else "plain") for test_id, system in COLLECTED_TIERS.items())
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
    lines = (line.partition("\t") for line in result.stdout.splitlines())
    return _split((test_id, tier) for test_id, sep, tier in lines if sep)


def _split(tiers: Iterable[tuple[str, str]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    everything: dict[str, set[str]] = {path: set() for path in FILES}
    marked: dict[str, set[str]] = {path: set() for path in FILES}
    for test_id, tier in tiers:
        path = test_id.split("::", 1)[0]
        if path not in FILES:
            continue
        everything[path].add(test_id)
        if tier == "system":
            marked[path].add(test_id)
    return everything, marked


def _collected_whole(config: pytest.Config, path: str) -> bool:
    """Whether this session collected every test of ``path``: it was given (or defaulted to) that file or a folder
    above it, not some of its tests (``file::test``), and collected something there."""
    target = (PROJECT / path).resolve()
    for arg in config.args:
        given, sep, _ = arg.partition("::")
        where = (config.invocation_params.dir / given).resolve()
        if not sep and (where == target or where in target.parents):
            return any(test_id.split("::", 1)[0] == path for test_id in COLLECTED_TIERS)
    return False


def test_system_tests_are_marked_by_what_they_use(pytestconfig: pytest.Config) -> None:
    """Marked by the fixtures they use (tests/conftest.py SYSTEM_FIXTURES): a renamed fixture shows here too."""
    everything, marked = collected(pytestconfig)
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
