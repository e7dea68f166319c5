"""``gatewayctl preflight``: checks the real environment against the stack before ``pulumi up`` touches it.

Every check is a small function returning :class:`gatewayctl.checks.Check` rows (``pass``, ``fail`` or ``warn``,
with what to do about a failure): the vCenter checks (:mod:`.vcenter_checks`) use the same look-ups as
``plan --vcenter`` (:mod:`gatewayctl.vcenter`), the address and NFS checks (:mod:`.network_checks`) the bounded
probes of :mod:`gatewayctl.probe`, and the OVA's are in :mod:`.ova_checks`; :mod:`.report` runs them all and
prints the table. Config is validated exactly as the program validates it (``components.config.parse`` over
the values the runtime would hand it); an invalid config exits 2 with the same messages as ``plan``. Exit 1
when any check fails, 0 otherwise (warnings too).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gatewayctl import probe, vcenter
from gatewayctl.command_line import add_command, add_config_option, add_stack_arguments, parse_overrides, project_dir
from gatewayctl.commands.preflight.report import run_checks, to_text
from gatewayctl.errors import EXIT_FAILED, EXIT_OK
from gatewayctl.stackfile import load_settings


def _progress(message: str) -> None:
    print(f"preflight: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    root = project_dir()
    overrides = parse_overrides(args.config)
    settings, raw = load_settings(root, args.stack, overrides)
    report = run_checks(
        root, args.stack, settings, raw, timeout=args.timeout, probe_timeout=args.probe_timeout, progress=_progress
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(to_text(report))
    return EXIT_FAILED if report.failed else EXIT_OK


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds between 0 and 300")
    return value


def register(subparsers: Any) -> None:
    """Adds ``preflight`` to gatewayctl's subcommands."""
    parser = add_command(
        subparsers,
        "preflight",
        run,
        summary="check the live environment (vCenter inventory, the OVA, addresses, NFS) before `pulumi up`",
        doc=__doc__,
    )
    add_stack_arguments(parser, verb="check")
    add_config_option(parser)
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=vcenter.DEFAULT_TIMEOUT,
        help=f"seconds for each call to vCenter (default {vcenter.DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=probe.DEFAULT_TIMEOUT,
        help=f"seconds to wait for an address or port to answer (default {probe.DEFAULT_TIMEOUT:g})",
    )
