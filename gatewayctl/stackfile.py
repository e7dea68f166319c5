"""Reads ``Pulumi.<stack>.yaml`` into the flat config map the program runs with, standing in for secrets.

``pulumi preview`` decrypts ``secure:`` values with the stack's secrets provider; offline we cannot, so every
secret the program needs that is ``secure:`` or absent gets a stand-in value (a Pulumi secret all the same)
and is listed in :attr:`PreparedConfig.secrets_needed`, which a real ``pulumi up`` still has to be given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pulumi.runtime
import yaml

from components import config as cfg
from gatewayctl.errors import CommandError
from gatewayctl.harness.wire import anywhere


class StackError(CommandError):
    """The stack file is missing or unreadable (not a config error: exit 3)."""


@dataclass(frozen=True)
class PreparedConfig:
    """What the program runs with offline."""

    stack: str
    values: dict[str, str]
    """Full key to string value (maps and lists as JSON), as the Pulumi runtime hands config to a program."""
    secret_keys: list[str]
    """Full keys of values that are secrets (secure, stood in, or secret keys given in plaintext)."""
    secrets_needed: list[str] = field(default_factory=list)
    """Full keys a real ``pulumi up`` must be given (``pulumi config set --secret``)."""
    warnings: list[str] = field(default_factory=list)


def stack_path(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def committed_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


_Loader = TypeVar("_Loader", bound=type)


def _yaml_12_scalars(loader: _Loader) -> _Loader:
    """Makes a loader read scalars as the Pulumi CLI does (Go's yaml.v3, YAML 1.2 rules), not as PyYAML's YAML 1.1
    does: the CLI hands an unquoted ``2024-05-01`` to the program as that text (PyYAML: a ``date``, which is not
    even JSON) and ``yes``/``no``/``on``/``off`` as text (PyYAML: booleans); only ``true``/``false`` are booleans.
    """
    loader.yaml_implicit_resolvers = {  # type: ignore[attr-defined]
        first: [
            (tag, regexp)
            for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(  # type: ignore[attr-defined]
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return loader


@_yaml_12_scalars
class _PulumiYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader (it builds no objects) with the CLI's scalars; its errors show the bad line."""


@_yaml_12_scalars
class _FastPulumiYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser (PyYAML's wheels ship it): the same values in a tenth of the time, but
    errors that do not show the line."""


def _load_yaml(text: str) -> Any:
    """A stack file's data; invalid YAML raises the error of PyYAML's own parser, which shows the line."""
    try:
        return yaml.load(text, Loader=_FastPulumiYamlLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=_PulumiYamlLoader)  # raises again, saying where


def read_stack(project_dir: Path, stack: str) -> dict[str, Any]:
    """The ``config:`` map of a stack file."""
    path = stack_path(project_dir, stack)
    if not path.is_file():
        known = ", ".join(committed_stacks(project_dir)) or "none"
        raise StackError(f"no stack file {path.name} in {project_dir} (stacks here: {known})")
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StackError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise StackError(f"{path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise StackError(f"{path.name} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(config, dict | None):
        raise StackError(f"{path.name}: must be a map with 'config:', a map of keys to values")
    return config or {}


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _has_secure(value: Any) -> bool:
    return anywhere(value, _is_secure)


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def stand_in(key: str) -> str:
    """The value that stands in for a secret offline: recognisable, unique per key, never a real secret."""
    return f"offline-stand-in-for-{key}"


def prepare(raw: Mapping[str, Any], stack: str, *, overrides: Mapping[str, str] | None = None) -> PreparedConfig:
    """The program's config from a stack file's ``config:`` map.

    ``overrides`` (full key to value) replace or add values, as ``pulumi config set`` would; a secret key
    given there is treated as a secret.
    """
    ns = cfg.NAMESPACE
    secret_full = {f"{ns}:{k}" for k in cfg.SECRET_KEYS} | {"vsphere:password"}
    merged: dict[str, Any] = dict(raw)
    merged.update(overrides or {})
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    needed: list[str] = []
    warnings: list[str] = []

    for key, value in merged.items():
        if _is_secure(value):
            if key in secret_full:
                needed.append(key)
                values[key] = stand_in(key)
                secret_keys.append(key)
            else:
                warnings.append(
                    f"{key} is encrypted (secure:) but is not a secret key of this program; it cannot be read "
                    "offline and is left out."
                )
            continue
        if _has_secure(value):
            warnings.append(f"{key} holds an encrypted value inside a map; it cannot be read offline and is left out.")
            continue
        values[key] = _as_config_string(value)
        if key in secret_full:
            secret_keys.append(key)
            if not overrides or key not in overrides:
                warnings.append(
                    f"{key} is in plaintext in Pulumi.{stack}.yaml; it is treated as a secret, but anyone who "
                    f"can read the file can read it. Run `pulumi config set --secret {key}` to encrypt it."
                )

    def need(key: str) -> None:
        full = f"{ns}:{key}"
        values[full] = stand_in(full)
        secret_keys.append(full)
        needed.append(full)

    for key in cfg.REQUIRED_SECRETS:
        if f"{ns}:{key}" not in values:
            need(key)
    if not any(f"{ns}:{k}" in values for k in cfg.ONE_OF_SECRETS):
        need(cfg.ONE_OF_SECRETS[0])
    if "vsphere:password" not in values:
        # The provider also reads VSPHERE_PASSWORD; the program itself never sees this value.
        needed.append("vsphere:password")

    return PreparedConfig(
        stack=stack,
        values=values,
        secret_keys=sorted(set(secret_keys)),
        secrets_needed=sorted(set(needed)),
        warnings=warnings,
    )


def load_settings(
    project_dir: Path, stack: str, overrides: Mapping[str, str] | None = None
) -> tuple[cfg.Settings, dict[str, Any]]:
    """The stack's validated settings and its raw ``config:`` map (with overrides).

    Validation is the program's own: the runtime's config is set to what ``plan`` runs the program with, and
    :func:`components.config.read_settings` reads it back as the program does. Raises ``ConfigError``.
    """
    raw = dict(read_stack(project_dir, stack))
    prepared = prepare(raw, stack, overrides=overrides)
    raw.update(overrides or {})
    pulumi.runtime.set_all_config(dict(prepared.values), list(prepared.secret_keys))
    return cfg.read_settings(), raw
