"""Bounded network probes for ``preflight``: is an address already answering, does a port accept, does a name
resolve. Every probe has a deadline; nothing here retries or waits longer than the timeout it is given.

An address "answers" when any of these comes back within the timeout: a TCP connection accepted or refused
(a reset means a host, or a firewall speaking for it, is there) on a few common ports, or an ICMP echo reply.
Silence and "host unreachable" (no ARP/neighbour answer) mean nobody answered: the address is free. "Network
unreachable" (no route from here) and local errors (a firewall on this machine refusing with EPERM, say) tell
nothing about the address: when no probe of an address got that far, it is reported as not probed
(``AddressAnswer.probed``), never as free.

``python -m gatewayctl.probe ADDRESS... [--port HOST:PORT...] [--resolve NAME...]`` prints the results as JSON
(what the tests run inside their own network namespaces).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

#: Ports tried on every address: SSH, HTTP(S) and the gateway appliance's API: what a server, an appliance or
#: a network device on a management subnet most likely listens on.
DEFAULT_PORTS: tuple[int, ...] = (22, 80, 443, 5480)
DEFAULT_TIMEOUT = 1.0

PortState = Literal["open", "refused", "silent", "unreachable", "error"]

#: connect() errors that mean "nobody answered for this address" rather than "something answered". Not
#: ENETUNREACH: without a route from here nothing was asked, so it is an ``error`` (inconclusive).
_NO_ANSWER = {errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ETIMEDOUT}


@dataclass(frozen=True)
class PortResult:
    """What one TCP connection attempt found."""

    host: str
    port: int
    state: PortState
    """``open`` (accepted), ``refused`` (a reset came back), ``silent`` (no answer within the timeout),
    ``unreachable`` (host unreachable: nobody there) or ``error`` (anything else, e.g. no route from here;
    see ``detail``)."""
    detail: str = ""

    @property
    def answered(self) -> bool:
        return self.state in ("open", "refused")

    @property
    def conclusive(self) -> bool:
        """Whether the attempt reached the address's network: an answer, silence or "host unreachable"."""
        return self.state != "error"


def tcp_connect(host: str, port: int, timeout: float) -> PortResult:
    """One TCP connection attempt to an IP address, closed at once. Never takes longer than ``timeout``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except TimeoutError:
            return PortResult(host, port, "silent", f"no answer within {timeout:g} s")
        except ConnectionRefusedError:
            return PortResult(host, port, "refused", "connection refused")
        except OSError as exc:
            if exc.errno in _NO_ANSWER:
                return PortResult(host, port, "unreachable", os.strerror(exc.errno or 0).lower())
            return PortResult(host, port, "error", os.strerror(exc.errno).lower() if exc.errno else str(exc))
        return PortResult(host, port, "open", "connection accepted")


# ------------------------------------------------------------------------------------------------ ICMP


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _icmp_socket(v6: bool) -> tuple[socket.socket, bool] | None:
    """An ICMP socket and whether it is raw; ``None`` when this user may open neither kind.

    Unprivileged "ping" sockets (``SOCK_DGRAM``) work where ``net.ipv4.ping_group_range`` allows the user;
    raw sockets need root or CAP_NET_RAW.
    """
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    for kind, raw in ((socket.SOCK_DGRAM, False), (socket.SOCK_RAW, True)):
        try:
            return socket.socket(family, kind, proto), raw
        except OSError:
            continue
    return None


def icmp_echo(address: str, timeout: float) -> bool | None:
    """Whether ``address`` answers an ICMP echo within ``timeout``; ``None`` if ICMP is not permitted here."""
    v6 = ipaddress.ip_address(address).version == 6
    opened = _icmp_socket(v6)
    if opened is None:
        return None
    sock, raw = opened
    request_type, reply_type = (128, 129) if v6 else (8, 0)
    ident = (os.getpid() ^ threading.get_ident()) & 0xFFFF
    seq = 1
    payload = b"gatewayctl-preflight"
    header = struct.pack("!BBHHH", request_type, 0, 0, ident, seq)
    # The kernel computes the checksum for ping sockets and for ICMPv6; a raw IPv4 socket needs ours.
    checksum = 0 if v6 else _checksum(header + payload)
    packet = struct.pack("!BBHHH", request_type, 0, checksum, ident, seq) + payload
    deadline = time.monotonic() + timeout
    with sock:
        try:
            sock.settimeout(timeout)
            sock.sendto(packet, (address, 0))
        except OSError:
            # No route, or the neighbour is known to be unreachable: nobody answers.
            return False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            sock.settimeout(remaining)
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                return False
            except OSError:
                return False
            if ipaddress.ip_address(source[0].split("%")[0]) != ipaddress.ip_address(address):
                continue
            if raw and not v6:
                data = data[(data[0] & 0x0F) * 4 :]  # a raw IPv4 socket hands over the IP header too
            if len(data) < 8:
                continue
            kind, _code, _sum, got_ident, got_seq = struct.unpack("!BBHHH", data[:8])
            # A ping socket's kernel rewrites the identifier and delivers only this socket's replies.
            if kind == reply_type and (not raw or (got_ident == ident and got_seq == seq)):
                return True


# --------------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class AddressAnswer:
    """Whether an address is in use, and the evidence."""

    address: str
    in_use: bool
    evidence: tuple[str, ...] = ()
    """What answered, e.g. ``tcp/22 accepted``, ``tcp/443 refused``, ``icmp echo reply``."""
    notes: tuple[str, ...] = field(default=())
    """Limits of this probe, e.g. that ICMP was not permitted for this user."""
    probed: bool = True
    """Whether any probe reached the address's network. ``False``: nothing answered, but nothing could ask
    either (no route from here, a local firewall), so the address may well be in use."""

    def describe(self) -> str:
        if self.in_use:
            return "answers: " + ", ".join(self.evidence)
        return "no answer" if self.probed else "not probed: no probe reached it from here"


def probe_addresses(
    addresses: Iterable[str],
    *,
    ports: Sequence[int] = DEFAULT_PORTS,
    timeout: float = DEFAULT_TIMEOUT,
    icmp: Callable[[str, float], bool | None] = icmp_echo,
    tcp: Callable[[str, int, float], PortResult] = tcp_connect,
) -> dict[str, AddressAnswer]:
    """Probes every address at once (TCP on ``ports`` and ICMP echo); the whole call takes about ``timeout``."""
    unique = list(dict.fromkeys(str(ipaddress.ip_address(a)) for a in addresses))
    if not unique:
        return {}
    jobs = len(unique) * (len(ports) + 1)
    with ThreadPoolExecutor(max_workers=min(64, jobs), thread_name_prefix="probe") as pool:
        tcp_futures = {(a, p): pool.submit(tcp, a, p, timeout) for a in unique for p in ports}
        icmp_futures = {a: pool.submit(icmp, a, timeout) for a in unique}
        answers: dict[str, AddressAnswer] = {}
        for address in unique:
            evidence: list[str] = []
            notes: list[str] = []
            conclusive = False
            for port in ports:
                result = tcp_futures[(address, port)].result()
                conclusive = conclusive or result.conclusive
                if result.state == "open":
                    evidence.append(f"tcp/{port} accepted a connection")
                elif result.state == "refused":
                    evidence.append(f"tcp/{port} refused (a reset came back)")
                elif result.state == "error":
                    notes.append(f"tcp/{port}: {result.detail}")
            echoed = icmp_futures[address].result()
            if echoed:
                evidence.append("icmp echo reply")
            elif echoed is None:
                notes.append("ICMP is not permitted for this user (run as root for ICMP); probed TCP only")
            # An echo request that could not be sent returns False too; only a reply proves the network reached.
            probed = conclusive or bool(echoed)
            answers[address] = AddressAnswer(address, bool(evidence), tuple(evidence), tuple(notes), probed)
    return answers


# ------------------------------------------------------------------------------------------------ names


class ResolveError(Exception):
    """A name did not resolve (or not within the timeout)."""


def resolve(name: str, timeout: float) -> list[str]:
    """The addresses a name resolves to. ``getaddrinfo`` has no timeout of its own, so it runs on a daemon
    thread that is abandoned (not waited for) when the deadline passes."""
    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        pass
    outcome: dict[str, list[str] | BaseException] = {}

    def work() -> None:
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            outcome["value"] = list(dict.fromkeys(str(info[4][0]) for info in infos))
        except (OSError, UnicodeError) as exc:
            outcome["value"] = exc

    thread = threading.Thread(target=work, name=f"resolve-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if "value" not in outcome:
        raise ResolveError(f"{name} did not resolve within {timeout:g} s")
    value = outcome["value"]
    if isinstance(value, BaseException):
        detail = value.strerror if isinstance(value, socket.gaierror) and value.strerror else str(value)
        raise ResolveError(f"{name} does not resolve ({detail})")
    return value


def check_port(host: str, port: int, timeout: float) -> PortResult:
    """Whether ``host`` (a name or an address) accepts TCP connections on ``port``: the first address that
    accepts wins; otherwise the first address's result. A name that does not resolve raises ResolveError."""
    return first_open(resolve(host, timeout), port, timeout)


def first_open(addresses: Sequence[str], port: int, timeout: float) -> PortResult:
    """:func:`check_port` over addresses already resolved (at most four are tried, one after the other)."""
    results = [tcp_connect(address, port, timeout) for address in addresses[:4]]
    return next((r for r in results if r.state == "open"), results[0])


# ------------------------------------------------------------------------------------------------- main


def _split_host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gatewayctl.probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("addresses", nargs="*", help="addresses to probe for being in use")
    parser.add_argument("--port", action="append", default=[], metavar="HOST:PORT", help="a TCP port to check")
    parser.add_argument("--resolve", action="append", default=[], metavar="NAME", help="a name to resolve")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per probe")
    args = parser.parse_args(argv)
    addresses = {
        address: {
            "inUse": answer.in_use,
            "probed": answer.probed,
            "evidence": list(answer.evidence),
            "notes": list(answer.notes),
        }
        for address, answer in probe_addresses(args.addresses, timeout=args.timeout).items()
    }
    ports: dict[str, dict[str, str]] = {}
    for target in args.port:
        host, port = _split_host_port(target)
        try:
            result = check_port(host, port, args.timeout)
            ports[target] = {"state": result.state, "detail": result.detail}
        except ResolveError as exc:
            ports[target] = {"state": "unresolved", "detail": str(exc)}
    names: dict[str, dict[str, object]] = {}
    for name in args.resolve:
        try:
            names[name] = {"addresses": resolve(name, args.timeout)}
        except ResolveError as exc:
            names[name] = {"error": str(exc)}
    out = {"addresses": addresses, "ports": ports, "names": names}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
