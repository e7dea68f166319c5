"""What the commands share on the command line: the project folder, the stack options, ``--config`` overrides
and messages on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gatewayctl.errors import CommandError, UsageError


def err(message: str) -> None:
    print(message, file=sys.stderr)


def project_dir() -> Path:
    """The project folder: the working directory, which must hold ``Pulumi.yaml``."""
    here = Path.cwd()
    if not (here / "Pulumi.yaml").is_file():
        # No project, like no stack file: exit 3.
        raise CommandError(f"no Pulumi.yaml in {here}", "Run gatewayctl from the project root")
    return here


def add_command(
    subparsers: Any, name: str, run: Callable[[argparse.Namespace], int], *, summary: str, doc: str | None = None
) -> argparse.ArgumentParser:
    """A command's parser, whose ``func`` is ``run``; ``--help`` describes it by the first paragraph of ``doc``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary, description=doc.split("\n\n")[0] if doc else None
    )
    parser.set_defaults(func=run)
    return parser


def add_stack_arguments(parser: argparse.ArgumentParser, *, verb: str) -> None:
    """``--stack`` (the stack whose file to ``verb``) and ``--json``."""
    parser.add_argument("--stack", required=True, help=f"the stack whose Pulumi.<stack>.yaml to {verb}")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config KEY=VALUE``: what ``pulumi config set`` would change, for this run only."""
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. gateway-cluster:primary=gw-prod-2 (repeatable; maps and lists as JSON)",
    )


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``--config`` pairs as full key to value."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or ":" not in key:
            raise UsageError(f"--config {pair!r}: write it as namespace:key=value, e.g. gateway-cluster:primary=gw-2")
        out[key] = value
    return out


def read_json_object(option: str, path: str, shape: str) -> dict[str, Any]:
    """The JSON object in the file an option names; a missing file, bad JSON or another shape is a usage error
    (exit 2) that names the option, the file and the ``shape`` expected."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{option} {path}: must be {shape}")
    return data


def add_reach_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ssh-config``, ``--identity``: how the commands that reach the nodes (gatewayctl.health) reach them."""
    parser.add_argument("--ssh-config", metavar="FILE", help="an OpenSSH client config for reaching the nodes")
    parser.add_argument("--identity", metavar="FILE", help="an SSH private key, tried before the agent and the stack's")
