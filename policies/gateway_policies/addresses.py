"""IP addresses and ranges as the policies parse them: leniently, ``None`` for anything malformed.

The config parser (``components/config``) parses the same notations strictly, to reject what the
program cannot build; the pack parses them again because it judges any program's resources and is
published on its own (see ``docs/policies-rules.md``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: An inclusive range of addresses of one IP version, first <= last.
Span = tuple[IPAddress, IPAddress]


def parse_address(raw: Any) -> IPAddress | None:
    if not isinstance(raw, str):
        return None
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def parse_range(raw: Any) -> Span | None:
    """``"first-last"`` or a CIDR as an inclusive address range; ``None`` when malformed."""
    if not isinstance(raw, str):
        return None
    part = raw.strip()
    try:
        if "/" in part:
            net = ipaddress.ip_network(part, strict=False)
            return net.network_address, net.broadcast_address
        first_s, last_s = part.split("-")
        first, last = ipaddress.ip_address(first_s.strip()), ipaddress.ip_address(last_s.strip())
    except ValueError:
        return None
    if first.version != last.version or int(first) > int(last):
        return None
    return first, last


def in_range(address: IPAddress, span: Span) -> bool:
    # Compared as integers: the two address versions do not order against each other.
    return address.version == span[0].version and int(span[0]) <= int(address) <= int(span[1])


def overlap(a: Span, b: Span) -> bool:
    return a[0].version == b[0].version and int(a[0]) <= int(b[1]) and int(b[0]) <= int(a[1])
