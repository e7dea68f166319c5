"""A pytest plugin for tests/test_tiers.py: with ``--collect-only``, prints each collected test's id and whether
it is marked ``system`` (``<id>\\tsystem`` or ``<id>\\tplain``), so one collection answers both tiers."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        tier = "system" if item.get_closest_marker("system") else "plain"
        print(f"{item.nodeid}\t{tier}")
