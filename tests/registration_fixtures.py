"""Pytest fixtures for the registration tests: certificates, the HTTPS stand-ins on 127.0.0.1, no proxies.

Test modules load them with ``pytest_plugins = ["tests.registration_fixtures"]``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vendor_standin import (
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


@pytest.fixture
def appliance(tmp_path: Path, appliance_cert: Certificate, no_proxy: None) -> Iterator[ApplianceFactory]:
    """Starts an appliance stand-in with the given :class:`ApplianceState` changes; stops it afterwards."""
    started: list[ApplianceStandIn] = []

    def make(**changes: object) -> ApplianceStandIn:
        state = ApplianceState(users={MANAGER_USER: MANAGER_PASSWORD}, valid_keys={ACTIVATION_KEY})
        for key, value in changes.items():
            setattr(state, key, value)
        server = ApplianceStandIn(appliance_cert, tmp_path, state)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def platform(tmp_path: Path, platform_cert: Certificate, no_proxy: None) -> Iterator[PlatformFactory]:
    """Starts a platform API stand-in with the given :class:`PlatformState` changes; stops it afterwards."""
    started: list[PlatformStandIn] = []

    def make(**changes: object) -> PlatformStandIn:
        state = PlatformState(clients={CLIENT_KEY: CLIENT_SECRET}, tenant=TENANT)
        for key, value in changes.items():
            setattr(state, key, value)
        server = PlatformStandIn(platform_cert, tmp_path, state)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


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
