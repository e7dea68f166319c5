"""The parser: raw ``gateway-cluster:`` values in, :class:`Settings` out, or every problem at once.

Each top-level key is validated on its own (by pydantic, against its declaration), so that the rules across
keys still run on every key that is valid when another is not. pydantic's errors become :class:`ConfigIssue`
messages here, from the declarations: the example of a missing key, the known keys of a map with a typo.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .declare import MISSING, RULES, Decl, KindError, RuleInput, find
from .errors import ConfigError, ConfigIssue, full_key, shown
from .settings import KNOWN_KEYS, SECRET_KEYS, TOP_KEYS, Settings, settings_from

REFERENCE = "docs/configuration.md"


def parse(
    raw: Mapping[str, Any],
    *,
    secrets_present: Mapping[str, bool],
    other_keys: Mapping[str, Any] | None = None,
) -> Settings:
    """Validates the raw ``gateway-cluster:`` values (keys without the namespace) into :class:`Settings`.

    ``secrets_present`` says which secret keys are set (their values are never looked at here);
    ``other_keys`` are any further keys set in the namespace: each is a typo or a stale key, and an error.
    Raises :class:`ConfigError` with every issue found.
    """
    issues: list[ConfigIssue] = []
    for key, value in (other_keys or {}).items():
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"remove it (see {REFERENCE})."
        value = "[secret]" if close and close[0] in SECRET_KEYS else shown(key, value, SECRET_KEYS)
        issues.append(ConfigIssue(full_key(key), value, f"is not a key of this program; {hint}"))

    # A null is an unset key, at any depth, as YAML's empty value (`url:`) reads.
    given = {k: _without_nulls(v) for k, v in raw.items() if v is not None}
    parsed: dict[str, Any] = {}
    view = RuleInput(given, parsed, secrets_present)
    for decl in TOP_KEYS:
        issues.extend(_validate(decl, given, parsed, secrets_present))
        issues.extend(_run_rules(decl.name, view))
    issues.extend(_run_rules(None, view))
    if issues:
        raise ConfigError(issues)
    return settings_from(parsed)


def _validate(
    decl: Decl, given: Mapping[str, Any], parsed: dict[str, Any], secrets: Mapping[str, bool]
) -> list[ConfigIssue]:
    value = given.get(decl.name)
    if value is None:
        if decl.key is not None and decl.key.required is not None:
            why = decl.key.required.format(example=flow(decl.example))
            return [ConfigIssue(full_key(decl.name), None, f"is required: {why}")]
        return []
    consumed = {n for r in RULES if r.after == decl.name for n in r.consumes}
    if consumed and isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k not in consumed}
    try:
        parsed[decl.name] = _adapter(decl.name).validate_python(value, context={"secrets": secrets})
    except ValidationError as error:
        return _ordered([_issue(decl, e) for e in error.errors(include_url=False)])
    return []


def _run_rules(after: str | None, view: RuleInput) -> list[ConfigIssue]:
    return [
        ConfigIssue(full_key(path), value, message)
        for r in RULES
        if r.after == after
        for path, value, message in r.check(view)
    ]


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """Built on first use: building the validators costs more than importing the declarations."""
    # pydantic looks for plugins in every installed distribution's entry points before it builds its first
    # validator (about 25 ms here); this program uses none. An explicit setting still wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    decl = next(d for d in TOP_KEYS if d.name == name)
    return TypeAdapter(decl.annotation)


def _issue(top: Decl, error: ErrorDetails) -> ConfigIssue:
    loc = (top.name, *error["loc"])
    path = _path(loc)
    decl, parent = find(TOP_KEYS, loc)
    kind, value = error["type"], error["input"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        known = [d.name for d in (parent.children() if parent else [])]
        name = str(loc[-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}."
        return ConfigIssue(full_key(path), shown(name, value, SECRET_KEYS), f"unknown key; {hint}")
    if kind == "missing":
        assert parent is not None and decl is not None  # pydantic names only declared keys as missing
        example = f", e.g. {decl.name}: {flow(decl.example)}" if decl.example is not None else f" (see {REFERENCE})"
        return ConfigIssue(full_key(path), None, f"is required: add it under {full_key(_path(loc[:-1]))}{example}.")
    if kind in ("dataclass_type", "dict_type", "typed_dict_type", "model_type"):
        known = [d.name for d in (decl.children() if decl else [])]
        return ConfigIssue(full_key(path), value, f"must be a map with keys {', '.join(known)}.")
    if kind in ("tuple_type", "list_type"):
        example = flow(decl.example) if decl else "[...]"
        return ConfigIssue(full_key(path), value, f"must be a list, e.g. {example}.")
    invalid = error.get("ctx", {}).get("error")
    if isinstance(invalid, KindError):
        default = decl.default if decl is not None else MISSING
        message = invalid.template.format(
            example=decl.example if decl is not None else None,
            default=flow(default) if default is not MISSING else "",
            path=path,
            **invalid.fields,
        )
        return ConfigIssue(full_key(path), value if invalid.shown is MISSING else invalid.shown, message)
    return ConfigIssue(full_key(path), value, f"{error['msg']}.")


def _ordered(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Unknown keys first, then missing ones, then bad values (stable): typos often explain what is missing."""

    def rank(issue: ConfigIssue) -> int:
        return 0 if issue.message.startswith("unknown key") else 1 if issue.message.startswith("is required") else 2

    return sorted(issues, key=rank)


def _path(loc: Iterable[str | int]) -> str:
    """``("nodes", 1, "ip")`` -> ``nodes[1].ip``."""
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


def flow(value: Any) -> str:
    """A value as written in YAML's flow style: ``[{hostname: gw-node-1, ip: 10.20.30.41}]``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return str(value)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
