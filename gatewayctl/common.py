"""What gatewayctl's commands share: exit codes, messages, the stack's config on the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from components.config import ConfigError, ConfigIssue

EXIT_OK, EXIT_VIOLATION, EXIT_CONFIG, EXIT_OTHER = 0, 1, 2, 3


class UsageError(Exception):
    """A bad command-line value (exit 3, like any failure that is not the stack's config)."""


def err(message: str) -> None:
    print(message, file=sys.stderr)


def project_dir() -> Path:
    here = Path.cwd()
    if not (here / "Pulumi.yaml").is_file():
        raise UsageError(f"no Pulumi.yaml in {here}: run gatewayctl from the project root")
    return here


def _json_safe(value: Any) -> Any:
    """Strict JSON: a bad value such as YAML's ``.inf`` is echoed as text (``Infinity`` is not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def config_error_json(stack: str, error: ConfigError) -> dict[str, Any]:
    def one(issue: ConfigIssue) -> dict[str, Any]:
        return {"key": issue.key, "value": _json_safe(issue.value), "message": issue.message}

    return {"stack": stack, "error": one(error.issues[0]), "errors": [one(i) for i in error.issues]}


def report_config_error(command: str, stack: str, error: ConfigError, *, as_json: bool) -> int:
    """Prints an invalid config the same way for every command; returns the exit code (2)."""
    if as_json:
        print(json.dumps(config_error_json(stack, error), indent=2))
    else:
        err(f"gatewayctl {command}: stack '{stack}': {error}")
    return EXIT_CONFIG


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or ":" not in key:
            raise UsageError(f"--config {pair!r}: write it as namespace:key=value, e.g. gateway-cluster:primary=gw-2")
        out[key] = value
    return out


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config KEY=VALUE``: what ``pulumi config set`` would change, for this run only."""
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. gateway-cluster:primary=gw-prod-2 (repeatable; maps and lists as JSON)",
    )
