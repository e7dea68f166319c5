"""Reading props and config as policies receive them: never raising, unknown values kept apart.

Values that cannot be known during a preview (outputs of resources not created yet) reach a policy as
unknowns. A policy never judges an unknown: :func:`value` turns it into :data:`UNKNOWN` and each check skips
it, so what is known is still judged.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


class Unknown(enum.Enum):
    """A value the engine could not know during the preview (one member, so that ``is UNKNOWN`` narrows)."""

    UNKNOWN = "unknown"


UNKNOWN: Final[Literal[Unknown.UNKNOWN]] = Unknown.UNKNOWN

_UNKNOWN_SENTINELS: Final = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


def value(props: Any, *path: str | int) -> Any:
    """The value at ``path``: ``None`` when absent, :data:`UNKNOWN` when unknown at preview. Never raises.

    The engine hands props through pulumi-policy's unknown-checking proxy, which raises on reading an
    unknown; plain dicts (tests) carry the raw unknown sentinels instead. Both become :data:`UNKNOWN`.
    """
    current = props
    try:
        for step in path:
            if isinstance(step, int):
                if isinstance(current, str | bytes) or not isinstance(current, Sequence) or step >= len(current):
                    return None
            elif not isinstance(current, Mapping) or step not in current:
                return None
            current = current[step]
            if isinstance(current, str) and current in _UNKNOWN_SENTINELS:
                return UNKNOWN
    except UnknownValueError:
        return UNKNOWN
    return current


def text(props: Any, *path: str | int) -> str | Unknown | None:
    """A string value; anything else that is not unknown counts as absent."""
    found = value(props, *path)
    if found is UNKNOWN or isinstance(found, str):
        return found
    return None


def number(props: Any, *path: str | int) -> float | Unknown | None:
    found = value(props, *path)
    if found is UNKNOWN:
        return Unknown.UNKNOWN  # (mypy reads the narrowed `UNKNOWN` as Any here)
    if isinstance(found, int | float) and not isinstance(found, bool):
        return float(found)
    return None


def items(props: Any, *path: str | int) -> list[Any] | Unknown:
    """The elements of a list value (each may itself be :data:`UNKNOWN`); ``[]`` when absent."""
    found = value(props, *path)
    if found is UNKNOWN:
        return Unknown.UNKNOWN  # (mypy reads the narrowed `UNKNOWN` as Any here)
    if isinstance(found, str | bytes) or not isinstance(found, Sequence):
        return []
    return [value(found, i) for i in range(len(found))]


def known_items(props: Any, *path: str | int) -> list[Any]:
    """:func:`items`, with an unknown list read as empty (nothing in it can be judged)."""
    found = items(props, *path)
    return [] if found is UNKNOWN else found


def shown_number(x: float) -> str:
    """A number as people write it: 4, not 4.0 (config and props arrive as floats)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def config(args: ResourceValidationArgs | StackValidationArgs, schema: PolicyConfigSchema, key: str) -> Any:
    """A policy's config value; the schema default when the engine sent none (or a test passed none)."""
    found = args.get_config().get(key)
    return found if found is not None else schema.properties[key]["default"]
