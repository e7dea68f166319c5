"""The configuration reference, ``docs/configuration.md``, rendered from the declarations.

    .venv/bin/python -m components.config reference > docs/configuration.md

``tests/test_config_docs.py`` fails when the committed file differs from what this renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .declare import MISSING, RULES, Decl
from .errors import NAMESPACE
from .parser import flow
from .settings import ONE_OF_SECRETS, SECRET_DECLS, TOP_KEYS

COMMAND = ".venv/bin/python -m components.config reference > docs/configuration.md"
SCHEMA_FILE = "schema/stack.schema.json"
MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"

_HEADER = f"""<!-- Generated from components/config by `{COMMAND}`: edit the declarations there, not this file. -->

# Configuration reference

Everything the program reads lives in the `{NAMESPACE}:` namespace of `Pulumi.<stack>.yaml`. Set a value with
`pulumi config set --path '{NAMESPACE}:nodeSize.cpus' 8`, a secret with `pulumi config set --secret
{NAMESPACE}:managerPassword`. `pulumi up`, `gatewayctl plan` and `gatewayctl preflight` validate the whole
configuration before anything is registered and list every problem at once, each naming the key, the value as
written (never a secret's) and the fix. A key the program does not know is an error (with a "did you mean").
A null (YAML's empty value, `url:`) is the same as an unset key.

Only what the program cannot build is rejected here; the mission's rules (three hosts for HA, minimum sizes,
addresses outside DHCP, NFS for multi-node) are the policy pack's (`policies/`).

## Editor support: the JSON Schema

`{SCHEMA_FILE}` is the JSON Schema (Draft 2020-12) of a whole stack file, generated from the same declarations
(`python -m gatewayctl schema` prints it; a test fails when the committed file is stale). Editors that use the
YAML language server (VS Code's YAML extension, Neovim's yamlls, ...) validate and complete a stack file whose
first line is this modeline, as the committed stacks' is:

```yaml
{MODELINE}
```

The schema types every `{NAMESPACE}:` key, rejects unknown ones and lets other namespaces (`vsphere:*`)
through; it takes a secret as plaintext or as `secure:`. It holds what a single value can say (types, choices,
hostnames, addresses, exactly one OVA source); the rules across keys below are checked by the program alone.
A stack with an `environment:` (Pulumi ESC) may take required keys from there, so the schema then requires none.

## Keys

Types: *text* is a non-empty string (a whole number reads as its digits: `version: 17` is `"17"`, but quote
`17.10`); a *positive whole number* may be quoted (`cpus: "4"`).

| Key | Type | Required / default | Secret | Example | Description |
|---|---|---|---|---|---|
"""


_RULES_HEADER = """

## Rules across keys

Checked by the program (`pulumi up`, `gatewayctl plan`, `gatewayctl preflight`):

"""


def render_reference() -> str:
    """``docs/configuration.md`` as the declarations say it."""
    rows = [_row(path, decl) for decl in TOP_KEYS for path, decl in _walk(decl.name, decl)]
    rows += [_secret_row(decl) for decl in SECRET_DECLS]
    rules = [f"- {rule.doc}" + (" (The schema holds this one too.)" if rule.schema else "") for rule in RULES]
    return _HEADER + "\n".join(rows) + _RULES_HEADER + "\n".join(rules) + "\n"


def _walk(path: str, decl: Decl) -> Iterator[tuple[str, Decl]]:
    yield path, decl
    for child in decl.children():
        yield from _walk(f"{path}.{child.name}", child)
    item = decl.item
    if item is not None:
        for child in item.children():
            yield from _walk(f"{path}[].{child.name}", child)


def _row(path: str, decl: Decl) -> str:
    key = decl.key
    example = f"`{flow(key.example)}`" if key is not None and key.example is not None else ""
    description = key.description if key is not None else ""
    return _cells(f"`{path}`", _type(decl), _need(decl), "no", example, description)


def _secret_row(decl: Decl) -> str:
    if decl.required:
        need = "**required**"
    elif decl.name in ONE_OF_SECRETS:
        need = "at least one of " + ", ".join(f"`{n}`" for n in ONE_OF_SECRETS)
    else:
        need = "optional"
    description = decl.key.description if decl.key is not None else ""
    return _cells(f"`{decl.name}`", "text", need, "**yes**", "", description[:1].upper() + description[1:] + ".")


def _type(decl: Decl) -> str:
    kind = decl.kind
    if kind is not None and kind.choices:
        return "one of " + ", ".join(f"`{c}`" for c in kind.choices)
    if kind is not None:
        return kind.label
    item = decl.item
    if item is not None:
        return f"list of {'maps' if item.shape is not None else _type(item)}"
    return "map" if decl.shape is not None else str(decl.base)


def _need(decl: Decl) -> str:
    key = decl.key
    if decl.required:
        return "**required**"
    if key is not None and key.derived is not None:
        return f"default: {key.derived}"
    default = _shown_default(decl.default)
    return "optional" if default is None else f"default `{default}`"


def _shown_default(default: Any) -> str | None:
    if default is MISSING or default is None or isinstance(default, dict) or hasattr(default, "__dataclass_fields__"):
        return None  # a map's defaults are its keys'
    if isinstance(default, tuple) and not default:
        return None
    return flow(default)


def _cells(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
