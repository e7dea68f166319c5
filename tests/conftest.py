"""Fixtures shared by the test suite, and its tiers.

A test that needs root, network namespaces, an SSH test host or the vSphere simulator is a *system* test: it
uses one of :data:`SYSTEM_FIXTURES` (directly or through another fixture), and collection marks it
``@pytest.mark.system`` for that, so a new test gets the mark by what it uses. ``./dev test`` runs everything,
as CI does; ``./dev test --fast`` runs ``-m 'not system'``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.sshhosts import SshHosts

__all__ = ["stack_config"]

#: The fixtures that need root, namespaces, sshd or the simulator (tests/support/sshhosts.py, vcsim_fixture.py).
SYSTEM_FIXTURES = frozenset({"hosts", "formed_hosts", "vcsim_binary", "vcsim", "netns_lab"})


#: Every test this process collected, by id: whether it is marked ``system`` once every collection hook ran, ``-m``
#: and ``-k`` deselecting none of them (tests/test_tiers.py reads it rather than collecting again).
COLLECTED_TIERS: dict[str, bool] = {}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    for item in items:
        if SYSTEM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.system)
    everything = list(items)
    yield
    COLLECTED_TIERS.update({item.nodeid: item.get_closest_marker("system") is not None for item in everything})


def pytest_configure(config: pytest.Config) -> None:
    # A full collection walks every live object; the session keeps many (the program runs, the stand-ins), so let it
    # run after 100 younger ones (default: 10), not every few seconds. Young garbage is collected as ever.
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 100)


def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection imported (the program, the Pulumi SDKs, every test module) lives as long as the session: after
    # one last collection, keep the cyclic garbage collector from walking it again on every full collection (most
    # of whose time it took), as a pre-forking server does (gc.freeze). Garbage made later is collected as ever.
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # Last of all, after pytest's own final collections (which report unraisable exceptions): the process exits
    # next, and the interpreter's last collection would otherwise walk everything the session made (about 0.6 s).
    gc.freeze()


@pytest.fixture
def stack_config() -> Callable[[str], dict[str, str]]:
    """``stack_config(stack_name)``: the flat ``{"gateway-cluster:key": json-or-string}`` config of a committed
    stack (``Pulumi.<stack>.yaml``), every secret key set to its sentinel from ``tests.support.stacks.SENTINELS``."""
    # Imported here, not at the top: every pytest process loads this file, pytest-xdist's controller too, which
    # runs no test and need not import the program and the Pulumi SDKs.
    from tests.support.stacks import flat_config, stack_raw

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
