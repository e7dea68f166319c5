"""The kinds of value a key can hold: each validates a raw value (raising :class:`KindError` with the message
and fix), gives its JSON Schema and names itself in the reference.

The JSON Schema of a kind accepts exactly what its validator accepts wherever a pattern can say so
(``tests/test_schema.py`` and ``tests/test_config_kinds.py`` check both on shared values); what a pattern cannot
say (host bits, the order of a range's ends, a netmask's form) is the parser's alone. One difference no schema
can avoid: JSON has one number type, so the schema takes ``version: 17.0`` as the integer 17, where the parser,
reading a float, asks for quotes.
"""

from __future__ import annotations

import ipaddress
import math
import re
import ssl
from typing import Annotated, Any, Final
from urllib.parse import urlparse

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from .declare import Kind, KindError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# ------------------------------------------------------------------------------------- address patterns
# Written out for the JSON Schema only (the validators use ``ipaddress``): what Python's ``ipaddress`` accepts,
# in the regex dialect both JSON Schema (ECMA 262) and Python understand.

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
_HEX = "[0-9a-fA-F]{1,4}"


def ipv6_pattern(zone_excludes: str = "") -> str:
    """IPv6 in every form ``ipaddress`` takes: full, ``::``-compressed (at least one group), an IPv4 tail, and a
    ``%zone`` (whose characters exclude ``zone_excludes``, the separators of the text it sits in)."""
    forms = [rf"({_HEX}:){{7}}{_HEX}", rf"({_HEX}:){{6}}{IPV4}"]
    for left in range(8):  # `left` groups before the "::", up to 7 - left after it
        head = rf"{_HEX}(:{_HEX}){{{left - 1}}}" if left else ""
        right = 7 - left
        tail = rf"({_HEX}(:{_HEX}){{0,{right - 1}}})?" if right else ""
        forms.append(f"{head}::{tail}")
        if left <= 5:  # an IPv4 tail counts as two groups
            forms.append(rf"{head}::({_HEX}:){{0,{5 - left}}}{IPV4}")
    return "(" + "|".join(f"({f})" for f in forms) + rf")(%[^%{re.escape(zone_excludes)}]+)?"


ADDRESS = rf"({IPV4}|{ipv6_pattern()})"
_PREFIX4 = "0*([0-9]|[12][0-9]|3[0-2])"
_PREFIX6 = "0*([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])"


def _range_pattern(separators: str) -> str:
    ends = rf"({IPV4}|{ipv6_pattern(separators)})"
    return rf"{ends}\s*-\s*{ends}"


def _whole_text(pattern: str) -> str:
    return rf"^\s*{pattern}\s*$"


# ------------------------------------------------------------------------------------------------- text


def text(raw: Any) -> str:
    """A non-empty string, stripped; a whole number reads as its digits."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        # `pulumi config set --path ova.version 17` stores the number 17, as YAML does for `version: 17`:
        # a whole number reads back as the same text. (A float would not: 17.10 arrives as 17.1.)
        return str(raw)
    if isinstance(raw, float):
        raise KindError("must be text: quote it (YAML reads 17.10 as the number 17.1), e.g. {example!r}.")
    if not isinstance(raw, str) or not raw.strip():
        raise KindError("must be a non-empty string, e.g. {example!r}.")
    return raw.strip()


TEXT = Kind("text", text, {"anyOf": [{"type": "string", "pattern": r"\S"}, {"type": "integer"}]})
Text = Annotated[str, TEXT]


def checked_text(label: str, pattern: str, message: str, *, digits: bool = False) -> Kind:
    """A text kind whose (stripped) value must match ``pattern`` from its start."""
    compiled = re.compile(pattern)

    def check(raw: Any) -> str:
        value = text(raw)
        if not compiled.match(value):
            raise KindError(message, shown=value)
        return value

    schema: dict[str, Any] = {"type": "string", "pattern": rf"^\s*{pattern.lstrip('^')}"}
    if digits:  # a whole number is text too, and its digits may match
        schema = {"anyOf": [schema, {"type": "integer", "minimum": 0}]}
    return Kind(label, check, schema)


# RFC 1123 label, lowercase only: Kubernetes node names (which MicroK8s takes from the hostname) must be
# lowercase RFC 1123 names, so an uppercase hostname would register a node under a different name.
HOSTNAME_PATTERN: Final = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
Hostname = Annotated[
    str,
    checked_text(
        "hostname (lowercase RFC 1123 label)",
        rf"^{HOSTNAME_PATTERN}\s*$",
        "is not a lowercase RFC 1123 label: 1-63 characters a-z, 0-9 and '-', starting and ending with a letter "
        "or digit (e.g. 'gw-node-1').",
        digits=True,
    ),
]
HostKey = Annotated[
    str,
    checked_text(
        "SSH public host key line",
        r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+",
        "must be a public host key line, e.g. 'ssh-ed25519 AAAAC3Nza...'.",
    ),
]
AbsolutePath = Annotated[
    str,
    checked_text("absolute path", r"^/", "must be the export's absolute path, e.g. '/exports/gateway'."),
]
ChartVersion = Annotated[
    str,
    checked_text(
        "exact version (x.y.z)",
        r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\s*$",
        "must be one exact chart version such as '{default}' (no ranges, no 'latest'), so that a new chart "
        "release changes nothing until you pin it here.",
    ),
]

# The vSphere provider tells an OVA (a tar archive) from a bare OVF descriptor by the source's last four
# characters, case-sensitively: a URL ending in a query string or a file named .OVA would be read as an
# OVF descriptor and fail halfway through `pulumi up`.
_OVA_ENDING = (".ova", ".ovf")


def _ova_url(raw: Any) -> str:
    url = text(raw)
    try:
        parsed = urlparse(url)
    except ValueError:  # e.g. an unclosed '[' in the host
        parsed = urlparse("")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise KindError("must be an http(s) URL to the .ova file, e.g. 'https://host/gateway.ova'.", shown=url)
    if not url.endswith(_OVA_ENDING):
        raise KindError(
            "must end in '.ova' or '.ovf' (lowercase, no query string): the vSphere provider decides by the "
            "ending whether it fetches an OVA or an OVF. Download the file and set ova.path, or use a URL that "
            "ends in .ova.",
            shown=url,
        )
    return url


OvaUrl = Annotated[
    str,
    Kind(
        "http(s) URL ending in .ova or .ovf",
        _ova_url,
        {"type": "string", "pattern": r"^\s*[hH][tT][tT][pP][sS]?://[^/?#]+.*\.ov[af]\s*$"},
    ),
]
OvaPath = Annotated[
    str,
    checked_text(
        "path ending in .ova or .ovf",
        r"^.*\.ov[af]\s*$",
        "must name a .ova or .ovf file, the ending in lowercase (the vSphere provider decides by the ending "
        "whether it reads an OVA or an OVF): rename the file if needed.",
    ),
]


def _api_host(raw: Any) -> str:
    value = text(raw)
    example = "acme.api.opsramp.com"
    try:
        parsed = urlparse(value if "://" in value else f"//{value}")
        bare = parsed.netloc
        port_ok = parsed.port is None or 0 < parsed.port < 65536
        host_ok = bool(parsed.hostname) and port_ok and "@" not in bare
    except ValueError:  # a port that is not a number, an unclosed '['
        bare, host_ok, parsed = "", False, urlparse("")
    if "://" in value or parsed.path not in ("", "/") or not host_ok:
        # A URL of a good host: suggest the host itself; anything else: the example.
        raise KindError(
            "must be the tenant's API host alone, optionally with a port (no https://, no path, no user), "
            "e.g. '{hint}'.",
            hint=bare if host_ok else example,
        )
    return bare


ApiHost = Annotated[str, Kind("host[:port]", _api_host, {"type": "string", "pattern": r"^\s*[^\s/@]+/?\s*$"})]


def _pem(raw: Any) -> str:
    ok = isinstance(raw, str) and "-----BEGIN CERTIFICATE-----" in raw
    if ok:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=raw)
        except (ssl.SSLError, ValueError):
            ok = False
    if not ok:
        raise KindError(
            "must be a PEM certificate ('-----BEGIN CERTIFICATE-----' ...), e.g. set with "
            "`pulumi config set --path '{path}' \"$(cat cert.pem)\"`.",
            shown=raw[:40] + "..." if isinstance(raw, str) and len(raw) > 40 else raw,
        )
    return str(raw)


Pem = Annotated[str, Kind("PEM certificate", _pem, {"type": "string", "pattern": "-----BEGIN CERTIFICATE-----"})]

# ---------------------------------------------------------------------------------------------- numbers


def _whole(raw: Any) -> int:
    if isinstance(raw, str) and raw.strip().isdecimal():
        # A quoted number (`cpus: "4"` in YAML, or set as a JSON string) is still the number (and is shown as
        # the number when it is not positive).
        raw = int(raw.strip())
        if raw <= 0:
            raise KindError("must be a positive whole number (default {default}).", shown=raw)
    # bool is an int in Python; "true" is never a size. Infinity and NaN (YAML `.inf`, `.nan`) are not whole
    # numbers either.
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or not math.isfinite(raw)
        or int(raw) != raw
        or raw <= 0
    ):
        raise KindError("must be a positive whole number (default {default}).")
    return int(raw)


def _memory_mb(raw: Any) -> int:
    value = _whole(raw)
    if value % 4:
        # vSphere rejects a memory size that is not a multiple of 4 MB when the VM is created.
        raise KindError("must be a multiple of 4 (vSphere's rule), e.g. {default}.")
    return value


Whole = Annotated[
    int,
    Kind(
        "positive whole number",
        _whole,
        {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": _whole_text(r"\d*[1-9]\d*")}]},
    ),
]
# Divisible by 4: the last two digits are (or the only digit is 4 or 8).
_MULTIPLE_OF_4 = r"((?=\d*[1-9])\d*([02468][048]|[13579][26])|0*[48])"
MemoryMb = Annotated[
    int,
    Kind(
        "positive whole number, a multiple of 4",
        _memory_mb,
        {
            "anyOf": [
                {"type": "integer", "minimum": 4, "multipleOf": 4},
                {"type": "string", "pattern": _whole_text(_MULTIPLE_OF_4)},
            ]
        },
    ),
]

# --------------------------------------------------------------------------------------------- choices


def choice(choices: tuple[str, ...], default: str, why: str) -> Kind:
    """One of ``choices`` (surrounding spaces ignored); the message lists them and says ``why`` it matters."""
    options = ", ".join(repr(c) for c in choices)
    message = f"must be one of {options} (default {default!r}), {why}; `gatewayctl preflight` reads it from the OVA."

    def check(raw: Any) -> str:
        if isinstance(raw, str) and raw.strip() in choices:
            return raw.strip()
        raise KindError(message)

    pattern = _whole_text("(" + "|".join(re.escape(c) for c in choices) + ")")
    return Kind("one of", check, {"type": "string", "pattern": pattern}, choices)


# ------------------------------------------------------------------------------------------- addresses


def _address(raw: Any) -> IPAddress:
    if isinstance(raw, str):
        try:
            return ipaddress.ip_address(raw.strip())
        except ValueError:
            pass
    raise KindError("is not an IP address; write one address such as '10.20.30.41'.")


Address = Annotated[IPAddress, Kind("IP address", _address, {"type": "string", "pattern": _whole_text(ADDRESS)})]


def _cidr(raw: Any) -> IPNetwork:
    written = str(raw).strip()
    try:
        return ipaddress.ip_network(written, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(written, strict=False)
    except ValueError:
        raise KindError("is not a subnet in CIDR form, e.g. '10.20.30.0/24'.") from None
    raise KindError("has host bits set; write the network address: '{loose}'.", loose=str(loose))


_CIDR = rf"({IPV4}(/({_PREFIX4}|{IPV4}))?|{ipv6_pattern('/')}(/{_PREFIX6})?)"
Cidr = Annotated[IPNetwork, Kind("subnet (CIDR)", _cidr, {"type": "string", "pattern": _whole_text(_CIDR)})]


def ordered(low: IPAddress, high: IPAddress) -> bool:
    """``low <= high``, both of one IP version (addresses of different versions are never ordered)."""
    return low.version == high.version and int(low) <= int(high)


def _range(raw: Any) -> tuple[IPAddress, IPAddress]:
    parts = raw.split("-") if isinstance(raw, str) else []
    try:
        if len(parts) != 2:
            raise ValueError(raw)
        first, last = ipaddress.ip_address(parts[0].strip()), ipaddress.ip_address(parts[1].strip())
    except ValueError:
        raise KindError("must be a range 'first-last' of two addresses, e.g. '10.20.30.100-10.20.30.199'.") from None
    if not ordered(first, last):
        raise KindError("must run from the lower address to the higher one, both of one IP version.")
    return first, last


AddressRange = Annotated[
    tuple[IPAddress, IPAddress],
    Kind("address range (first-last)", _range, {"type": "string", "pattern": _whole_text(_range_pattern("-"))}),
]


def spans(ranges: str) -> list[IPNetwork | tuple[IPAddress, IPAddress]]:
    """The parts of MetalLB's pool text (comma-separated CIDRs and ranges). Raises ``ValueError``."""
    parts: list[IPNetwork | tuple[IPAddress, IPAddress]] = []
    for part in ranges.split(","):
        part = part.strip()
        if "/" in part:
            parts.append(ipaddress.ip_network(part, strict=True))
            continue
        first_s, last_s = part.split("-")
        first, last = ipaddress.ip_address(first_s.strip()), ipaddress.ip_address(last_s.strip())
        if not ordered(first, last):
            raise ValueError(part)
        parts.append((first, last))
    return parts


def _pool(raw: Any) -> str:
    value = text(raw)
    try:
        spans(value)
    except ValueError:
        raise KindError(
            "must be comma-separated ranges 'first-last' or CIDRs, e.g. '10.20.30.50-10.20.30.59'."
        ) from None
    return ",".join(p.strip() for p in value.split(","))


_POOL_PART = rf"({IPV4}/({_PREFIX4}|{IPV4})|{ipv6_pattern(',/')}/{_PREFIX6}|{_range_pattern(',-')})"
AddressPool = Annotated[
    str,
    Kind(
        "ranges (first-last) and CIDRs, comma-separated",
        _pool,
        # Each part followed by a comma and more, or by the end: the long part pattern is written once.
        {"type": "string", "pattern": rf"^(\s*{_POOL_PART}\s*(,(?=.)|$))+$"},
    ),
]

# ----------------------------------------------------------------------------------------------- lists


class NonEmpty:
    """A list that needs at least one item (``minItems`` in the schema)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def _check(self, items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items:
            raise KindError(self.message)
        return items

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "minItems": 1}


class OneOrMany:
    """A single item where a list is expected stands for the list of it."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            lambda raw: [raw] if isinstance(raw, str) else raw, handler(source)
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        many = handler(schema)
        return {"anyOf": [many["items"], many]}


ONE_OR_MANY = OneOrMany()
