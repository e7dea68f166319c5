"""The shared cluster-health checks (gatewayctl/health.py), on loopback only: the Gateway Manager probe against
the HTTPS appliance stand-in and a closed port, the node probe through an OpenSSH client config that maps a
node's address to a loopback port, and the wait loop on a simulated clock."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gatewayctl import checks, health, stackfile
from tests.support.stacks import PROJECT

pytest_plugins = ["tests.support.registration_fixtures"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_manager_answers_over_tls(appliance):
    server = appliance()
    row = health.manager_answers("127.0.0.1", timeout=5, port=server.port)
    assert (row.id, row.status) == ("manager.https", "pass"), row
    assert row.target == f"127.0.0.1:{server.port}"


def test_manager_not_answering_fails_with_a_fix():
    port = closed_port()
    row = health.manager_answers("127.0.0.1", timeout=2, port=port)
    assert (row.status, row.target) == ("fail", f"127.0.0.1:{port}")
    assert "does not answer HTTPS" in row.message and row.fix


def test_a_node_that_does_not_answer_ssh_fails_every_row_naming_it(tmp_path: Path):
    """The nodes' configured addresses are only names for the SSH client config, which sends them to loopback
    ports where nothing listens."""
    settings, _ = stackfile.load_settings(PROJECT, "prod")
    config = tmp_path / "ssh_config"
    config.write_text("".join(f"Host {n.ip}\n  HostName 127.0.0.1\n  Port {closed_port()}\n" for n in settings.nodes))
    reach = health.Reach(health.Credentials(password="stand-in"), ssh_config=config, timeout=3)
    facts = health.facts.collect(settings, reach)
    assert all(f.error for f in facts.values()), facts
    rows = health.judge.ssh(settings, facts)
    assert [(r.id, r.target, r.status) for r in rows] == [("ssh", n.hostname, "fail") for n in settings.nodes]
    assert "cannot read gw-prod-1 over SSH at 10.20.30.41 as gateway-admin" in rows[0].message
    assert "stand-in" not in " ".join(r.message for r in rows), "no credential in a message"
    [ready] = health.judge.node_ready(settings, facts)
    assert (ready.status, ready.target) == ("fail", "cluster") and "no node answered" in ready.message


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("healthy_after", "timeout", "expected"),
    [
        pytest.param(0, 60, None, id="healthy-at-once"),
        pytest.param(3, 60, None, id="healthy-after-three-probes"),
        pytest.param(100, 25, "node.ready gw-prod-1: gw-prod-3 is NotReady", id="times-out"),
    ],
)
def test_wait_healthy(healthy_after: int, timeout: float, expected: str | None):
    clock, probes = Clock(), []

    def probe() -> list[checks.Check]:
        probes.append(clock.now)
        if len(probes) > healthy_after:
            return [checks.ok("node.ready", "gw-prod-1", "all Ready")]
        return [checks.failed("node.ready", "gw-prod-1", "gw-prod-3 is NotReady", "look")]

    result = health.wait_healthy(probe, timeout=timeout, interval=10, clock=clock.time, sleep=clock.sleep)
    assert result == expected
    assert clock.now <= timeout, "never waits past the timeout"
    assert all(s == 10 for s in clock.sleeps)
