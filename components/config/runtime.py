"""Reading the stack's configuration from the Pulumi runtime, and checking the local files it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import yaml

from .errors import NAMESPACE, ConfigError, ConfigIssue, full_key
from .parser import parse
from .services import ChartSettings, ChartsSettings
from .settings import KNOWN_KEYS, OBJECT_KEYS, SECRET_DECLS, SECRET_KEYS, STRING_KEYS, Secrets, Settings, StackConfig


def read_raw(config: pulumi.Config) -> dict[str, Any]:
    """The non-secret values as JSON-like data. A map or list that is not valid JSON is kept as its text,
    so :func:`parse` reports it against its key."""
    raw: dict[str, Any] = {}
    for key in (*OBJECT_KEYS, *STRING_KEYS):
        text = config.get(key)
        if text is None:
            continue
        raw[key] = _json_or_text(text) if key in OBJECT_KEYS else text
    return raw


def chart_file_issues(charts: ChartsSettings, base: Path) -> list[ConfigIssue]:
    """Problems with the local files the chart settings name (relative paths from ``base``, the project).

    Checked before anything is registered, because Helm would otherwise fail halfway through an update with
    an error that names no config key. A local chart's version is Helm's to ignore, so the pin is enforced
    here: the exported chart must be the version the config pins.
    """
    issues: list[ConfigIssue] = []
    for role, chart in (("storage", charts.storage), ("manager", charts.manager)):
        if chart.values_file is not None and not (base / chart.values_file).is_file():
            issues.append(
                ConfigIssue(
                    full_key(f"charts.{role}.valuesFile"),
                    chart.values_file,
                    "is not a file on this machine; give the path of the YAML values file (relative paths start "
                    "at the project folder).",
                )
            )
        if charts.directory is not None:
            issues.extend(_local_chart_issues(charts, role, chart, base))
    return issues


def _local_chart_issues(charts: ChartsSettings, role: str, chart: ChartSettings, base: Path) -> list[ConfigIssue]:
    folder = base / charts.reference(chart)
    manifest = folder / "Chart.yaml"
    if not manifest.is_file():
        return [
            ConfigIssue(
                full_key("charts.directory"),
                charts.directory,
                f"has no chart {chart.chart!r} ({manifest} is missing): export it there with `helm chart "
                f"export <registry>/{chart.chart}:{chart.version} --destination {charts.directory}`.",
            )
        ]
    try:
        data = yaml.safe_load(manifest.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [ConfigIssue(full_key("charts.directory"), charts.directory, f"{manifest} cannot be read: {exc}.")]
    found = str(data.get("version")) if isinstance(data, dict) else None
    if found != chart.version.lstrip("v") and found != chart.version:
        return [
            ConfigIssue(
                full_key(f"charts.{role}.version"),
                chart.version,
                f"does not match the exported chart in {folder} (version {found}): pin {found!r} or export "
                f"version {chart.version} there.",
            )
        ]
    return []


def _json_or_text(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return text


def _other_keys() -> dict[str, Any]:
    """Keys set in this namespace that the program does not know (typos such as ``nodesize``), with values."""
    # Config reaches a program through the runtime's map (set by the language host or by the mocks) and the
    # PULUMI_CONFIG environment; neither has a public listing API, so both are read here, in one place.
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return {
        k[len(prefix) :]: "[secret]" if runtime_config.is_config_secret(k) else _json_or_text(v)
        for k, v in sorted(values.items())
        if k.startswith(prefix) and k[len(prefix) :] not in KNOWN_KEYS
    }


def read_settings(config: pulumi.Config | None = None) -> Settings:
    """The validated non-secret settings from the runtime's config; secrets are only checked for presence.

    The program (through :func:`load`) and ``gatewayctl preflight`` both validate through here, so they accept
    and reject exactly the same configs with the same messages. Raises :class:`ConfigError`.
    """
    from pulumi.runtime import config as runtime_config

    config = config or pulumi.Config(NAMESPACE)
    settings = parse(
        read_raw(config),
        secrets_present={k: runtime_config.get_config(config.full_key(k)) is not None for k in SECRET_KEYS},
        other_keys=_other_keys(),
    )
    # Files the config names are checked here too, before anything is registered. Relative paths start at the
    # project folder, which is the program's working directory under `pulumi` and under gatewayctl.
    issues = chart_file_issues(settings.charts, Path.cwd())
    if issues:
        raise ConfigError(issues)
    return settings


def load(config: pulumi.Config | None = None) -> StackConfig:
    """Reads and validates the stack's configuration. Raises :class:`ConfigError`; registers nothing."""
    config = config or pulumi.Config(NAMESPACE)
    settings = read_settings(config)
    # Secrets are read as Output secrets only, never as plain strings; parse() rejects a config without the
    # required ones, so a missing required secret never reaches here.
    secrets = Secrets(**{d.attribute: config.get_secret(d.name) for d in SECRET_DECLS})  # type: ignore[arg-type]
    return StackConfig(settings=settings, secrets=secrets)
