"""Pytest fixtures for the registration tests: certificates, the HTTPS stand-ins on 127.0.0.1, no proxies.

Test modules load them with ``pytest_plugins = ["tests.support.registration_fixtures"]``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.vendor_standin import (
    ACTIVATION_KEY,
    CLIENT_KEY,
    CLIENT_SECRET,
    LOOPBACK,
    MANAGER_PASSWORD,
    MANAGER_USER,
    TENANT,
    ApplianceFactory,
    ApplianceStandIn,
    ApplianceState,
    Certificate,
    GarbageServer,
    PlatformFactory,
    PlatformStandIn,
    PlatformState,
    SilentServer,
    self_signed,
)

S = TypeVar("S", ApplianceStandIn, PlatformStandIn)
T = TypeVar("T")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Traffic goes to 127.0.0.1 only: no proxy from the environment may carry it elsewhere. (Not autouse:
    a plugin's autouse fixture would apply to every test in the session.)"""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", f"{LOOPBACK},localhost")
    monkeypatch.setenv("no_proxy", f"{LOOPBACK},localhost")


@pytest.fixture(scope="session")
def appliance_cert() -> Certificate:
    # Like a real appliance's: self-signed, CA:FALSE, and not naming the address it is reached at.
    return self_signed("gateway-appliance", dns=("gateway-appliance.local",))


@pytest.fixture(scope="session")
def other_cert() -> Certificate:
    return self_signed("someone-else", ips=(LOOPBACK,))


@pytest.fixture(scope="session")
def platform_cert() -> Certificate:
    return self_signed("platform-api", ips=(LOOPBACK,), dns=("localhost",))


def _stand_ins(start: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """A factory that starts stand-ins with state changes, and stops every one it started afterwards."""
    started: list[S] = []

    def make(**changes: object) -> S:
        server = start(**changes)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _changed(state: T, changes: dict[str, object]) -> T:
    for key, value in changes.items():
        setattr(state, key, value)
    return state


@pytest.fixture
def appliance(tmp_path: Path, appliance_cert: Certificate, no_proxy: None) -> Iterator[ApplianceFactory]:
    """Starts an appliance stand-in with the given :class:`ApplianceState` changes; stops it afterwards."""
    yield from _stand_ins(
        lambda **changes: ApplianceStandIn(
            appliance_cert,
            tmp_path,
            _changed(ApplianceState(users={MANAGER_USER: MANAGER_PASSWORD}, valid_keys={ACTIVATION_KEY}), changes),
        )
    )


@pytest.fixture
def platform(tmp_path: Path, platform_cert: Certificate, no_proxy: None) -> Iterator[PlatformFactory]:
    """Starts a platform API stand-in with the given :class:`PlatformState` changes; stops it afterwards."""
    yield from _stand_ins(
        lambda **changes: PlatformStandIn(
            platform_cert,
            tmp_path,
            _changed(PlatformState(clients={CLIENT_KEY: CLIENT_SECRET}, tenant=TENANT), changes),
        )
    )


@pytest.fixture
def silent(no_proxy: None) -> Iterator[SilentServer]:
    server = SilentServer().start()
    yield server
    server.stop()


@pytest.fixture
def garbage(tmp_path: Path, appliance_cert: Certificate, no_proxy: None) -> Iterator[GarbageServer]:
    server = GarbageServer(appliance_cert, tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def closed_port_url(no_proxy: None) -> str:
    """An https URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
    return f"https://{LOOPBACK}:{port}"
