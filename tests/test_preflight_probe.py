"""The bounded probes behind preflight's address and NFS checks: run for real inside the lab's network
namespaces (never against loopback, where every address answers, nor any address outside the lab), plus
their pure logic with stand-in probes."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import pytest

from gatewayctl import probe
from tests.support import vcsim_fixture as lab_net
from tests.support.vcsim_fixture import PYTHON, ROOT, NetnsLab, netns_lab

__all__ = ["netns_lab"]  # the fixture this module uses


def run_probe(lab: NetnsLab, *args: str, drop_net_raw: bool = False) -> dict[str, Any]:
    """``python -m gatewayctl.probe`` inside the lab's client namespace."""
    argv = [PYTHON, "-m", "gatewayctl.probe", "--timeout", "0.5", *args]
    if drop_net_raw:
        # Root without CAP_NET_RAW: like an ordinary user, it may open no ICMP socket in a fresh namespace.
        argv = ["setpriv", "--bounding-set", "-net_raw", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = lab.run(argv, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def lab_probe(netns_lab: NetnsLab) -> dict[str, Any]:
    return run_probe(
        netns_lab,
        lab_net.BUSY_ADDRESS,
        lab_net.QUIET_HOST_ADDRESS,
        lab_net.FREE_ADDRESSES[0],
        lab_net.QUIET_HOST_ADDRESS6,
        lab_net.FREE_ADDRESS6,
        "--port",
        f"{lab_net.NFS_ADDRESS}:2049",
        "--port",
        f"{lab_net.NFS_DOWN_ADDRESS}:2049",
        "--port",
        f"{lab_net.NFS_NAME}:2049",
        "--port",
        f"{lab_net.FREE_ADDRESSES[4]}:2049",
        "--resolve",
        lab_net.NFS_NAME,
        "--resolve",
        "nfs-gone.lab.test",
    )


def test_listener_makes_an_address_in_use(lab_probe):
    busy = lab_probe["addresses"][lab_net.BUSY_ADDRESS]
    assert busy["inUse"] is True
    assert "tcp/22 accepted a connection" in busy["evidence"]
    assert "tcp/443 refused (a reset came back)" in busy["evidence"]


@pytest.mark.parametrize("address", [lab_net.QUIET_HOST_ADDRESS, lab_net.QUIET_HOST_ADDRESS6], ids=["ipv4", "ipv6"])
def test_assigned_address_without_listeners_is_in_use(lab_probe, address):
    quiet = lab_probe["addresses"][address]
    assert quiet["inUse"] is True
    assert "icmp echo reply" in quiet["evidence"], quiet
    assert not any("accepted" in e for e in quiet["evidence"]), quiet
    assert "tcp/22 refused (a reset came back)" in quiet["evidence"]


@pytest.mark.parametrize("address", [lab_net.FREE_ADDRESSES[0], lab_net.FREE_ADDRESS6], ids=["ipv4", "ipv6"])
def test_unassigned_address_is_free(lab_probe, address):
    assert lab_probe["addresses"][address] == {"inUse": False, "probed": True, "evidence": [], "notes": []}


def test_address_without_a_route_is_not_called_free(netns_lab):
    """No route from the client namespace to 203.0.113.0/24 (its only routes are the lab's subnets): every
    probe fails before a packet is sent, which says nothing about the address, so it is not "free"."""
    doc = run_probe(netns_lab, "203.0.113.5")
    answer = doc["addresses"]["203.0.113.5"]
    assert (answer["inUse"], answer["probed"]) == (False, False), answer
    assert "tcp/22: network is unreachable" in answer["notes"], answer


def test_without_icmp_permission_tcp_still_decides_and_says_so(netns_lab):
    doc = run_probe(netns_lab, lab_net.QUIET_HOST_ADDRESS, lab_net.FREE_ADDRESSES[1], drop_net_raw=True)
    quiet, free = doc["addresses"][lab_net.QUIET_HOST_ADDRESS], doc["addresses"][lab_net.FREE_ADDRESSES[1]]
    assert quiet["inUse"] is True and "icmp echo reply" not in quiet["evidence"]
    assert free["inUse"] is False
    for answer in (quiet, free):
        assert any("ICMP is not permitted" in note for note in answer["notes"]), answer


@pytest.mark.parametrize(
    ("target", "state"),
    [
        (f"{lab_net.NFS_ADDRESS}:2049", "open"),
        (f"{lab_net.NFS_NAME}:2049", "open"),
        (f"{lab_net.NFS_DOWN_ADDRESS}:2049", "refused"),
    ],
    ids=["listening", "by-name", "closed"],
)
def test_port_checks(lab_probe, target, state):
    assert lab_probe["ports"][target]["state"] == state


def test_port_of_an_absent_host_does_not_answer(lab_probe):
    # Silent until the timeout, or "unreachable" once the kernel has given up resolving the neighbour.
    assert lab_probe["ports"][f"{lab_net.FREE_ADDRESSES[4]}:2049"]["state"] in ("silent", "unreachable")


def test_names_resolve_only_where_the_lab_says(lab_probe):
    assert lab_probe["names"][lab_net.NFS_NAME] == {"addresses": [lab_net.NFS_ADDRESS]}
    assert "nfs-gone.lab.test does not resolve" in lab_probe["names"]["nfs-gone.lab.test"]["error"]


# -------------------------------------------------------------------------------------------- pure logic


def test_icmp_checksum_matches_rfc1071():
    request = bytes.fromhex("0800000000010001")
    assert probe._checksum(request) == 0xF7FD
    with_sum = request[:2] + struct.pack("!H", probe._checksum(request)) + request[4:]
    assert probe._checksum(with_sum) == 0, "a packet with its checksum in place sums to zero"
    assert probe._checksum(b"\x01") == probe._checksum(b"\x01\x00"), "odd lengths are padded"


ALL_ERRORS = [f"tcp/{p}: detail" for p in probe.DEFAULT_PORTS]


def _fake_tcp(states: dict[tuple[str, int], probe.PortState]) -> Any:
    def tcp(host: str, port: int, timeout: float) -> probe.PortResult:
        return probe.PortResult(host, port, states.get((host, port), "silent"), "detail")

    return tcp


@pytest.mark.parametrize(
    ("states", "icmp", "in_use", "evidence", "notes"),
    [
        ({}, False, False, [], []),
        ({("192.0.2.1", 5480): "open"}, False, True, ["tcp/5480 accepted a connection"], []),
        ({("192.0.2.1", 22): "refused"}, False, True, ["tcp/22 refused (a reset came back)"], []),
        ({}, True, True, ["icmp echo reply"], []),
        ({("192.0.2.1", 80): "unreachable"}, False, False, [], []),
        ({("192.0.2.1", 80): "error"}, False, False, [], ["tcp/80: detail"]),
        ({}, None, False, [], ["ICMP is not permitted for this user (run as root for ICMP); probed TCP only"]),
        ({("192.0.2.1", p): "error" for p in probe.DEFAULT_PORTS}, True, True, ["icmp echo reply"], ALL_ERRORS),
    ],
    ids=["silent", "open", "refused", "icmp", "unreachable", "error", "no-icmp", "only-icmp-got-through"],
)
def test_evidence_decides_in_use(states, icmp, in_use, evidence, notes):
    answers = probe.probe_addresses(
        ["192.0.2.1"], timeout=0.1, tcp=_fake_tcp(states), icmp=lambda address, timeout: icmp
    )
    assert answers == {"192.0.2.1": probe.AddressAnswer("192.0.2.1", in_use, tuple(evidence), tuple(notes))}


@pytest.mark.parametrize("icmp", [False, None], ids=["icmp-not-sent", "no-icmp"])
def test_no_probe_getting_through_is_not_free(icmp):
    """Every TCP attempt failed locally (no route, a local firewall) and no echo reply: not probed."""
    errors: dict[tuple[str, int], probe.PortState] = {("192.0.2.1", p): "error" for p in probe.DEFAULT_PORTS}
    [answer] = probe.probe_addresses(
        ["192.0.2.1"], timeout=0.1, tcp=_fake_tcp(errors), icmp=lambda address, timeout: icmp
    ).values()
    assert (answer.in_use, answer.probed) == (False, False)
    assert answer.describe() == "not probed: no probe reached it from here"


def test_addresses_are_normalised_and_probed_once():
    seen: list[tuple[str, int]] = []

    def tcp(host: str, port: int, timeout: float) -> probe.PortResult:
        seen.append((host, port))
        return probe.PortResult(host, port, "silent")

    answers = probe.probe_addresses(
        ["2001:db8::0:1", "2001:db8::1"], ports=(22,), tcp=tcp, icmp=lambda a, t: False, timeout=0.1
    )
    assert list(answers) == ["2001:db8::1"]
    assert seen == [("2001:db8::1", 22)]


def test_an_address_is_resolved_without_a_lookup():
    assert probe.resolve("198.18.0.10", 0.1) == ["198.18.0.10"]
