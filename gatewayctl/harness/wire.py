"""The wire codec: property values as the engine receives them, with secrets, resource references, output
values and unknowns in their special-signature form (pulumi ``sdk/proto``: the "special signature key" scheme).

Re-check on every SDK upgrade: the signatures, and how ``MessageToDict`` renders a request's ``Struct``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf import json_format

# Wire-format signatures (pulumi/sdk/proto: the "special signature key" scheme).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def secret(value: Any) -> dict[str, Any]:
    """A value wrapped as a secret, in wire form."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def anywhere(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``test`` holds for ``value`` or for anything nested in its maps and lists."""
    if test(value):
        return True
    if isinstance(value, dict):
        return any(anywhere(v, test) for v in value.values())
    if isinstance(value, list):
        return any(anywhere(v, test) for v in value)
    return False


def contains_secret(value: Any) -> bool:
    return anywhere(value, is_secret)


def reveal(value: Any, *, mask: str | None = "[secret]") -> Any:
    """Plain JSON from a wire value: secrets become ``mask`` (or their value when ``mask`` is None),
    resource references their URN, unknowns ``"[unknown]"``."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return mask if mask is not None else reveal(value.get("value"), mask=None)
        if sig == RESOURCE_REF_SIG:
            return value.get("urn")
        if sig == OUTPUT_SIG:
            if value.get("secret") and mask is not None:
                return mask
            return reveal(value.get("value", UNKNOWN), mask=mask)
        return {k: reveal(v, mask=mask) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, mask=mask) for v in value]
    if value == UNKNOWN:
        return "[unknown]"
    return value


def plain_strings(value: Any, *, inside_secret: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string in a wire value, with whether it sits inside a secret wrapper (for leak checks)."""
    if isinstance(value, dict):
        secret_here = inside_secret or value.get(SIG_KEY) == SECRET_SIG
        for k, v in value.items():
            yield str(k), inside_secret
            yield from plain_strings(v, inside_secret=secret_here)
    elif isinstance(value, list):
        for v in value:
            yield from plain_strings(v, inside_secret=inside_secret)
    elif isinstance(value, str):
        yield value, inside_secret


def _integral(value: Any) -> Any:
    """Struct numbers are doubles on the wire; show whole numbers as ints, as `pulumi preview` does."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def from_struct(message: Any) -> dict[str, Any]:
    """A request's protobuf ``Struct`` (inputs, outputs) as a wire value."""
    if not message:
        return {}
    result: dict[str, Any] = _integral(json_format.MessageToDict(message, preserving_proto_field_name=False))
    return result
