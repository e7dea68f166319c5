"""Fixtures shared by the test suite, and its tiers.

A test that needs root, network namespaces, an SSH test host or the vSphere simulator is a *system* test: it
uses one of :data:`SYSTEM_FIXTURES` (directly or through another fixture), and collection marks it
``@pytest.mark.system`` for that, so a new test gets the mark by what it uses. ``./dev test`` runs everything,
as CI does; ``./dev test --fast`` runs ``-m 'not system'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.stacks import SENTINELS, flat_config, stack_raw

if TYPE_CHECKING:
    from tests.support.sshhosts import SshHosts

__all__ = ["SENTINELS", "stack_config"]

#: The fixtures that need root, namespaces, sshd or the simulator (tests/support/sshhosts.py, vcsim_fixture.py).
SYSTEM_FIXTURES = frozenset({"hosts", "vcsim_binary", "vcsim", "netns_lab"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SYSTEM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.system)


@pytest.fixture
def stack_config() -> Callable[[str], dict[str, str]]:
    """``stack_config(stack_name)``: the flat ``{"gateway-cluster:key": json-or-string}`` config of a committed
    stack (``Pulumi.<stack>.yaml``), every secret key set to its sentinel from :data:`SENTINELS`."""

    def load(stack_name: str) -> dict[str, str]:
        return flat_config(stack_raw(stack_name))

    return load


@pytest.fixture
def hosts(request: pytest.FixtureRequest) -> Iterator[SshHosts]:
    """The committed prod stack's three SSH test hosts (tests/support/prod_ssh.py), booted as fresh clones:
    ``microk8s-first`` unless the test asks (indirect parameter) for ``hostname-first``."""
    # Imported here: only the system tests need paramiko and the hosts.
    from tests.support.prod_ssh import prod_hosts

    yield from prod_hosts(getattr(request, "param", "microk8s-first"))
