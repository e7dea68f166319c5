"""The JSON Schema (Draft 2020-12) of a whole ``Pulumi.<stack>.yaml``, from the same declarations as the parser.

    .venv/bin/python -m components.config schema > schema/stack.schema.json

It types every ``gateway-cluster:`` key and rejects unknown ones, lets other namespaces (``vsphere:*``) and the
stack file's other top-level keys through, and accepts each secret as plaintext or as ``{secure: ...}``.
Where a kind's rule fits a pattern the schema holds it too (hostnames, enums, the one OVA source); the rules
across keys (duplicates, the floating IP in ``metallbRange``, the secrets) stay with the parser.
Committed as ``schema/stack.schema.json``; editors pick it up through the modeline in the stack files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from .declare import RULES, Decl
from .errors import NAMESPACE, full_key
from .kinds import TEXT
from .settings import ONE_OF_SECRETS, SECRET_DECLS, STRING_KEYS, TOP_KEYS

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_SECURE = {
    "type": "object",
    "description": "An encrypted value, as `pulumi config set --secret` writes it.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}


class _Generator(GenerateJsonSchema):
    """pydantic's generator, without the titles it makes up from attribute names (``Esxihost``)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def dataclass_schema(self, schema: Any) -> JsonSchemaValue:
        json_schema = super().dataclass_schema(schema)
        json_schema.pop("title", None)
        return json_schema

    def typed_dict_schema(self, schema: Any) -> JsonSchemaValue:
        json_schema = super().typed_dict_schema(schema)
        json_schema.pop("title", None)
        return json_schema

    def default_schema(self, schema: Any) -> JsonSchemaValue:
        """An optional key also takes null, which the parser reads as unset (YAML's empty value); a default that
        is a whole map is left to the reference."""
        json_schema = super().default_schema(schema)
        if isinstance(json_schema.get("default"), dict):
            json_schema.pop("default")
        if _nullable(json_schema):
            return json_schema
        notes: dict[str, Any] = {k: json_schema.pop(k) for k in _NOTES if k in json_schema}
        choices = json_schema["anyOf"] if set(json_schema) == {"anyOf"} else [json_schema]
        return {"anyOf": [*choices, {"type": "null"}], **notes}


_NOTES = ("default", "description", "examples")


def _nullable(schema: JsonSchemaValue) -> bool:
    return schema.get("type") == "null" or any(s.get("type") == "null" for s in schema.get("anyOf", []))


def _top_level(decl: Decl, schema: JsonSchemaValue) -> JsonSchemaValue:
    """A top-level scalar reaches the program as text (the CLI passes `true` and `5` as "true" and "5"): plain
    text then takes any scalar."""
    if decl.name in STRING_KEYS and decl.kind is TEXT:
        notes: dict[str, Any] = {k: schema[k] for k in ("description", "examples") if k in schema}
        return {"type": ["string", "number", "boolean"], "pattern": r"\S", **notes}
    return schema


COMMAND = ".venv/bin/python -m components.config schema > schema/stack.schema.json"


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema of a stack file, as ``python -m gatewayctl schema`` prints it."""
    adapters = [(d.name, "validation", TypeAdapter(d.annotation)) for d in TOP_KEYS]
    by_key, definitions = TypeAdapter.json_schemas(adapters, schema_generator=_Generator)  # type: ignore[arg-type]
    properties: dict[str, Any] = {full_key(d.name): _top_level(d, by_key[(d.name, "validation")]) for d in TOP_KEYS}
    for r in RULES:
        if r.schema is not None and r.after is not None:
            properties[full_key(r.after)].update(r.schema)
    for d in SECRET_DECLS:
        description = d.key.description if d.key is not None else ""
        if d.name in ONE_OF_SECRETS:
            description += f" (at least one of {', '.join(ONE_OF_SECRETS)})"
        properties[full_key(d.name)] = {
            "description": f"Secret: {description}.",
            "anyOf": [{"type": "string"}, {"$ref": "#/$defs/secure"}],
        }
    required = [full_key(d.name) for d in TOP_KEYS if d.required]
    config = {
        "type": "object",
        "description": f"Configuration: the `{NAMESPACE}:` keys are this program's; other namespaces pass.",
        "properties": properties,
        "patternProperties": {f"^(?!{NAMESPACE}:)": {}},
        "additionalProperties": False,
    }
    return {
        "$schema": DIALECT,
        "title": f"Pulumi.<stack>.yaml of the {NAMESPACE} project",
        "description": "Generated from components/config: `python -m gatewayctl schema`. Reference: "
        "docs/configuration.md.",
        "type": "object",
        "properties": {
            "config": config,
            "secretsprovider": {"type": "string", "description": "The secrets provider that encrypts the secrets."},
            "encryptedkey": {"type": "string", "description": "The data key, encrypted by a cloud secrets provider."},
            "encryptionsalt": {"type": "string", "description": "The salt of the passphrase secrets provider."},
            "environment": {
                "description": "Pulumi ESC environments whose values the stack imports.",
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
            },
        },
        "additionalProperties": False,
        # Values may come from an ESC environment instead of the file: only without one must the file hold
        # every required key.
        "if": {"required": ["environment"]},
        "else": {"required": ["config"], "properties": {"config": {"required": required}}},
        "$defs": {**definitions.get("$defs", {}), "secure": _SECURE},
    }


def render_schema() -> str:
    """The committed file's text: ``stack_file_schema()`` as ``python -m gatewayctl schema`` prints it."""
    return json.dumps(stack_file_schema(), indent=2) + "\n"
