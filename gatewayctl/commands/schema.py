"""``gatewayctl schema``: prints the JSON Schema (Draft 2020-12) of a stack file, ``Pulumi.<stack>.yaml``, as
``components.config`` declares it (for an editor's yaml-language-server, or CI)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gatewayctl.command_line import add_command
from gatewayctl.errors import EXIT_OK


def run(args: argparse.Namespace) -> int:
    from components.config import stack_file_schema  # here: the other commands never need it

    print(json.dumps(stack_file_schema(), indent=2))
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Adds ``schema`` to gatewayctl's subcommands."""
    add_command(
        subparsers, "schema", run, summary="print the JSON Schema of a stack file (Pulumi.<stack>.yaml)", doc=__doc__
    )
