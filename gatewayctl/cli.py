"""``gatewayctl``: the offline plan and other operator tools. Run from the project root.

Exit codes, for every command (:mod:`gatewayctl.errors`): 0 ok; 1 a check, policy or step failed (a mandatory
policy violation for ``plan``, a failed check for ``preflight``); 2 invalid configuration, or a command line
argparse rejects; 3 anything else (unknown stack, unreadable file, unusable option value, vCenter unusable,
internal error). No path prints a traceback unless ``GATEWAYCTL_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from components.config import ConfigError
from gatewayctl.command_line import err
from gatewayctl.commands import drill, plan, preflight, schema, upgrade, validate
from gatewayctl.errors import EXIT_CONFIG, EXIT_OTHER, CommandError, config_error_json

#: The commands, in the order ``--help`` lists them: each module's ``register(subparsers)`` adds its parser.
COMMANDS = (plan, preflight, validate, drill, upgrade, schema)


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The command line's parser. Built once per process: it is the same for every call (each call parses into a
    new namespace), and building it costs about 8 ms (argparse looks up its messages' translations on disk), which
    whatever calls :func:`main` many times in one process (the tests, some 200 times) would pay every time."""
    parser = argparse.ArgumentParser(prog="gatewayctl", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def _report_config_error(args: argparse.Namespace, error: ConfigError) -> int:
    """An invalid config, the same way for every command: JSON on stdout with ``--json``, else on stderr."""
    if getattr(args, "json", False):
        print(json.dumps(config_error_json(args.stack, error), indent=2))
    else:
        err(f"gatewayctl {args.command}: stack '{args.stack}': {error}")
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except CommandError as exc:
        err(f"gatewayctl {args.command}: {exc}")
        return exc.exit_code
    except ConfigError as error:
        return _report_config_error(args, error)
    except KeyboardInterrupt:
        err("gatewayctl: interrupted")
        return EXIT_OTHER
    except Exception as exc:  # noqa: BLE001 - the promise is: no traceback, exit 3, unless debugging
        if os.environ.get("GATEWAYCTL_DEBUG") == "1":
            traceback.print_exc()
        err(
            f"gatewayctl {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "(set GATEWAYCTL_DEBUG=1 for the traceback)"
        )
        return EXIT_OTHER


def run_and_exit(argv: Sequence[str] | None = None) -> NoReturn:
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Pulumi runtime leaves gRPC and executor threads behind; a normal interpreter exit can print their
    # shutdown noise. Everything is flushed, so leave at once with the promised code.
    os._exit(code)
