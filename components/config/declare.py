"""How a config key is declared, once: the metadata on its annotation, and the cross-field rules beside it.

A key is an attribute of a frozen settings dataclass, written as ``Annotated[<kind>, Key(...)]``: the kind
(:mod:`.kinds`) validates the value and gives its JSON Schema; :class:`Key` carries the description, the example
and, for a top-level key, why it is required. Its default is the attribute's default; its name in the stack file
is the attribute's name in camelCase. pydantic validates a raw map into these dataclasses (collecting every
error with its location) and generates the JSON Schema; :func:`fields` walks the same declarations for the
messages (examples, known keys) and for the reference. A :func:`rule` checks what one key's validation cannot
see (another key, the secrets), and its docstring is the rule as the reference states it.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union

import typing_extensions
from pydantic import ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""No default: the key is required (or, for :class:`Key.derived`, computed from other keys)."""


@dataclass(frozen=True)
class Key:
    """What the reference, the JSON Schema and the messages say about one key. Write it last in the
    ``Annotated[...]``: a kind written after it would replace the description in the schema."""

    description: str
    example: Any = None
    """A value as written in YAML; ``None``: the default serves as the example."""
    required: str | None = None
    """Top-level keys only: set when the key is required, as the rest of the message ``is required: ...``."""
    derived: str | None = None
    """A default computed from other keys, in words; ``derive`` computes it from the validated top-level keys."""
    derive: Callable[[Mapping[str, Any]], Any] | None = None

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["description"] = self.description
        if self.example is not None:
            json_schema["examples"] = [self.example]
        return json_schema


class Kind:
    """A kind of value: its validator (raising :class:`KindError`), its JSON Schema, and its name in the reference
    (``IP address``) with its choices, if any. One object on the annotation stands for all of them."""

    def __init__(
        self,
        label: str,
        validate: Callable[[Any], Any],
        schema: Mapping[str, Any],
        choices: tuple[str, ...] = (),
    ) -> None:
        self.label = label
        self.validate = validate
        self.schema = schema
        self.choices = choices

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return copy.deepcopy(dict(self.schema))


class KindError(ValueError):
    """A kind's verdict on a value. ``template`` may name ``{example}``, ``{default}`` and ``{path}``, which the
    parser fills in from the key's declaration, and any of ``fields`` (values computed from the input)."""

    def __init__(self, template: str, *, shown: Any = MISSING, **fields: str) -> None:
        super().__init__(template)
        self.template = template
        self.shown = shown
        """The value to echo instead of the input (e.g. shortened), unless MISSING."""
        self.fields = fields


class Shape:
    """Validates a value as ``shape`` (a TypedDict) while the attribute keeps its own, wider type: the
    reference and the messages walk ``shape``'s keys."""

    def __init__(self, shape: type) -> None:
        self.shape = shape

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler(self.shape)


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class RuleInput:
    """What a rule sees: the raw top-level values (nulls dropped), those that validated, the secrets' presence."""

    raw: Mapping[str, Any]
    parsed: Mapping[str, Any]
    secrets: Mapping[str, bool]


Problem = tuple[str, Any, str]
"""A rule's finding: key path (``nodes[2].ip``), the value as written, the message."""


@dataclass(frozen=True)
class Rule:
    check: Callable[[RuleInput], Iterable[Problem]]
    after: str | None
    """The top-level key it runs after (its problems are listed with that key's); ``None``: after all keys."""
    consumes: tuple[str, ...]
    """Keys of the ``after`` map that only this rule reports on (taken out before validation)."""
    schema: Mapping[str, Any] | None
    """The rule as JSON Schema keywords on the ``after`` key's value, where it can be said so."""

    @property
    def doc(self) -> str:
        return " ".join((self.check.__doc__ or "").split())


RULES: list[Rule] = []


def rule(
    after: str | None = None, *, consumes: tuple[str, ...] = (), schema: Mapping[str, Any] | None = None
) -> Callable[[Callable[[RuleInput], Iterable[Problem]]], Callable[[RuleInput], Iterable[Problem]]]:
    """Registers a cross-field rule; its docstring is what the reference says about it."""

    def register(check: Callable[[RuleInput], Iterable[Problem]]) -> Callable[[RuleInput], Iterable[Problem]]:
        RULES.append(Rule(check, after, consumes, schema))
        return check

    return register


# ----------------------------------------------------------------------------------- the declarations


@dataclass(frozen=True)
class Decl:
    """One key as declared: its name as written, its annotation and its default."""

    name: str
    annotation: Any
    default: Any = MISSING
    attribute: str = ""
    """The settings attribute that holds it (``esxi_host``); empty for list items and TypedDict keys."""

    @property
    def metadata(self) -> tuple[Any, ...]:
        return _unwrap(self.annotation)[1]

    @property
    def base(self) -> Any:
        """The type without ``Annotated`` and without ``| None``."""
        return _unwrap(self.annotation)[0]

    @property
    def key(self) -> Key | None:
        return next((m for m in self.metadata if isinstance(m, Key)), None)

    @property
    def kind(self) -> Kind | None:
        return next((m for m in reversed(self.metadata) if isinstance(m, Kind)), None)

    @property
    def required(self) -> bool:
        key = self.key
        if key is not None and (key.required is not None or key.derived is not None):
            return key.required is not None
        return self.default is MISSING

    @property
    def example(self) -> Any:
        key = self.key
        return key.example if key is not None and key.example is not None else _plain(self.default)

    @property
    def shape(self) -> type | None:
        """The dataclass or TypedDict whose keys this value has, if it is a map."""
        shaped = next((m.shape for m in self.metadata if isinstance(m, Shape)), None)
        base = shaped or self.base
        return base if isinstance(base, type) and (dataclasses.is_dataclass(base) or _is_typed_dict(base)) else None

    @property
    def item(self) -> Decl | None:
        """The declaration of each item, if this is a list."""
        if typing.get_origin(self.base) is tuple:
            return Decl("[]", typing.get_args(self.base)[0])
        return None

    def children(self) -> list[Decl]:
        return fields(self.shape, self.default) if self.shape is not None else []

    def child(self, step: str | int) -> Decl | None:
        if isinstance(step, int):
            return self.item
        return next((d for d in self.children() if d.name == step), None)


def fields(cls: type, parent_default: Any = MISSING) -> list[Decl]:
    """The keys of a settings dataclass or TypedDict, in declaration order. A key without a default of its own
    takes it from ``parent_default`` (the enclosing key's default value), as its validator does."""
    hints = typing.get_type_hints(cls, include_extras=True)
    if _is_typed_dict(cls):
        return [Decl(name, hint, _from_parent(parent_default, name)) for name, hint in hints.items()]
    decls = []
    for f in dataclasses.fields(cls):
        if not f.init or any(getattr(m, "init", None) is False for m in _unwrap(hints[f.name])[1]):
            continue  # not a key: set by the program, never by the stack
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _from_parent(parent_default, f.name)
        decls.append(Decl(to_camel(f.name), hints[f.name], default, f.name))
    return decls


def find(decls: Iterable[Decl], loc: Iterable[str | int]) -> tuple[Decl | None, Decl | None]:
    """The declaration at ``loc`` (names as written, list indexes), and its parent's; ``None`` where unknown."""
    parent: Decl | None = None
    steps = list(loc)
    current = next((d for d in decls if d.name == steps[0]), None) if steps else None
    for step in steps[1:]:
        if current is None:
            return None, parent
        parent, current = current, current.child(step)
    return current, parent


def _from_parent(parent_default: Any, name: str) -> Any:
    if parent_default is MISSING or parent_default is None:
        return MISSING
    if isinstance(parent_default, Mapping):
        return parent_default.get(name, MISSING)
    return getattr(parent_default, name, MISSING)


def _plain(value: Any) -> Any:
    """A default as it would be written in YAML (``None`` for none, or for defaults that are whole maps)."""
    if value is MISSING or dataclasses.is_dataclass(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_typed_dict(cls: type) -> bool:
    return typing_extensions.is_typeddict(cls)


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(base type, metadata of every ``Annotated`` layer), looking through ``X | None``."""
    metadata: list[Any] = []
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
            continue
        if typing.get_origin(annotation) in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, tuple(metadata)


KEYS = ConfigDict(extra="forbid", alias_generator=to_camel)
"""Every settings map: keys in camelCase, and an unknown key is an error (a typo would otherwise be ignored)."""
