"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.stacks import SENTINELS, flat_config, stack_raw

__all__ = ["SENTINELS", "stack_config"]


@pytest.fixture
def stack_config() -> Callable[[str], dict[str, str]]:
    """``stack_config(stack_name)``: the flat ``{"gateway-cluster:key": json-or-string}`` config of a committed
    stack (``Pulumi.<stack>.yaml``), every secret key set to its sentinel from :data:`SENTINELS`."""

    def load(stack_name: str) -> dict[str, str]:
        return flat_config(stack_raw(stack_name))

    return load
