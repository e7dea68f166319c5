"""Each kind's JSON Schema against its validator, on many generated values: equal where a pattern can say the
rule, and never stricter where only the validator can (host bits, a range's order, a port's range)."""

from __future__ import annotations

import ipaddress
import itertools
import random
import typing
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest

from components.config import kinds
from components.config.declare import Kind, KindError

RNG_SEED = 20240611


def kind_of(annotated: Any) -> Kind:
    return next(m for m in typing.get_args(annotated)[1:] if isinstance(m, Kind))


def validator_accepts(kind: Kind, value: Any) -> bool:
    try:
        kind.validate(value)
    except KindError:
        return False
    return True


def schema_accepts(kind: Kind) -> Callable[[Any], bool]:
    """Whether the kind's schema accepts a value (one validator for every value tried)."""
    return jsonschema.Draft202012Validator(dict(kind.schema)).is_valid


def ipv6_forms(rng: random.Random) -> Iterator[str]:
    """IPv6 written every way ``ipaddress`` reads it: any run of zero groups compressed, leading zeros, either
    case, an IPv4 tail, a zone."""
    for _ in range(300):
        groups = [rng.choice([0, 0, 0, rng.randrange(0x10000)]) for _ in range(8)]
        texts = [f"{g:0{rng.choice([1, 4])}x}" if rng.random() < 0.8 else f"{g:X}" for g in groups]
        address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        yield str(address)
        yield address.exploded
        zeros = [i for i, g in enumerate(groups) if g == 0]
        if zeros:
            start = rng.choice(zeros)
            end = start
            while end + 1 < 8 and groups[end + 1] == 0 and rng.random() < 0.7:
                end += 1
            yield ":".join(texts[:start]) + "::" + ":".join(texts[end + 1 :])
        tail = ipaddress.IPv4Address(rng.randrange(2**32))
        yield ":".join(texts[:6]) + f":{tail}"
        yield f"::ffff:{tail}"
        yield f"{address}%eth{rng.randrange(10)}"


def near_misses(rng: random.Random, valid: list[str], alphabet: str, count: int = 1500) -> Iterator[str]:
    """Valid values with one character inserted, dropped or replaced: mostly invalid, some still valid."""
    for _ in range(count):
        text = rng.choice(valid)
        i = rng.randrange(len(text) + 1)
        c = rng.choice(alphabet)
        yield rng.choice([text[:i] + c + text[i:], text[:i] + text[i + 1 :], text[:i] + c + text[i + 1 :]])


def addresses() -> list[str]:
    rng = random.Random(RNG_SEED)
    valid = [str(ipaddress.IPv4Address(rng.randrange(2**32))) for _ in range(300)]
    valid += ["0.0.0.0", "255.255.255.255", " 10.0.0.1 ", "::", "::1", "1::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8"]
    valid += list(ipv6_forms(rng))
    return valid + list(near_misses(rng, valid, "0123456789abcdefABCDEFg:.%- "))


@pytest.mark.parametrize(
    ("annotated", "values"),
    [
        pytest.param(kinds.Address, addresses(), id="address"),
        pytest.param(
            kinds.Whole,
            [*range(-3, 30), *[str(n) for n in range(-3, 30)], "00", "007", " 12 ", "1.5", 2.0, 2.5, True, None, "x"],
            id="whole",
        ),
        pytest.param(
            kinds.MemoryMb,
            [*range(-8, 420), *[str(n) for n in range(-8, 420)], *[f"0{n}" for n in range(40)], 8192.0, 8190.0],
            id="memory-mb",
        ),
        pytest.param(
            kinds.Hostname,
            ["gw-1", "a", "a" * 63, "a" * 64, "-a", "a-", "A", "a_b", "a.b", " gw ", "", "9", 123, -1, 1.5, True],
            id="hostname",
        ),
        pytest.param(
            kinds.ChartVersion,
            ["1.0.0", "v1.2.3", "1.2", "1.2.3-rc.1", "1.2.3+b.7", "1.2.3-", "^1.2.3", "latest", " 1.0.0 ", 1, 1.5],
            id="chart-version",
        ),
        # Not 17.0: JSON Schema counts it an integer (the parser, seeing a float, does not), and YAML or JSON text
        # rarely writes a version so.
        pytest.param(kinds.Text, ["x", " x ", "", " ", 17, 0, -4, 17.1, True, None, [], {}], id="text"),
        pytest.param(kinds.OvaPath, ["/a.ova", "a.ovf ", "/a.OVA", "/a.iso", "", ".ova", 5], id="ova-path"),
    ],
)
def test_schema_says_what_the_validator_says(annotated: Any, values: list[Any]):
    kind = kind_of(annotated)
    accepts = schema_accepts(kind)
    differ = [v for v in values if accepts(v) != validator_accepts(kind, v)]
    assert differ == []


def _cidrs() -> list[str]:
    rng = random.Random(RNG_SEED)
    valid = [f"{ipaddress.IPv4Address(rng.randrange(2**32))}/{rng.randrange(33)}" for _ in range(200)]
    valid += [f"{a}/{rng.randrange(129)}" for a in list(ipv6_forms(rng))[:200] if "%" not in a and "." not in a]
    valid += ["10.0.0.0/255.255.255.0", "10.0.0.0/0.0.0.255", "10.0.0.0", "fd00::", "10.0.0.0/024"]
    return valid + list(near_misses(rng, valid, "0123456789abcdef:./ "))


def _ranges(separator: str = "-") -> list[str]:
    rng = random.Random(RNG_SEED)
    v4 = [str(ipaddress.IPv4Address(rng.randrange(2**32))) for _ in range(100)]
    v6 = [a for a in ipv6_forms(rng) if "%" not in a][:100]
    valid = [f"{a}{rng.choice(['-', ' - '])}{b}" for a, b in itertools.pairwise(v4)]
    valid += [f"{a}-{b}" for a, b in itertools.pairwise(v6)]
    return valid + list(near_misses(rng, valid, "0123456789abcdef:.- ,"))


def _pools() -> list[str]:
    rng = random.Random(RNG_SEED)
    parts = [*_ranges()[:150], *_cidrs()[:150]]
    valid = [", ".join(rng.sample(parts, rng.randrange(1, 4))) for _ in range(300)]
    return valid + list(near_misses(rng, valid, "0123456789abcdef:.-/ ,"))


@pytest.mark.parametrize(
    ("annotated", "values"),
    [
        pytest.param(kinds.Cidr, _cidrs(), id="cidr"),
        pytest.param(kinds.AddressRange, _ranges(), id="address-range"),
        pytest.param(kinds.AddressPool, _pools(), id="address-pool"),
        pytest.param(
            kinds.ApiHost,
            ["acme.api.opsramp.com", "a.b:8443", "a.b/", "[::1]:8443", "a.b:99999", "a.b:0", "https://a.b", "a@b", ""],
            id="api-host",
        ),
        pytest.param(
            kinds.OvaUrl,
            [
                "https://h/x.ova",
                "HTTP://h/x.ovf",
                "https://h.ova",
                "https:///x.ova",
                "ftp://h/x.ova",
                "https://h/x.ova?a",
            ],
            id="ova-url",
        ),
    ],
)
def test_schema_never_rejects_what_the_validator_accepts(annotated: Any, values: list[Any]):
    """Where the validator knows more (host bits, a range's order, a port's range), the schema lets it decide."""
    kind = kind_of(annotated)
    accepts = schema_accepts(kind)
    too_strict = [v for v in values if validator_accepts(kind, v) and not accepts(v)]
    assert too_strict == []
    rejected = sum(not accepts(v) for v in values)
    assert rejected or len(values) < 20, "the corpus should hold values the schema rejects"
