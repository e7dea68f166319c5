"""``gatewayctl validate``: is the cluster set up as configured? The run-book's closing checks, repeatable, with
rows an operator can file.

It reaches every node as the program does (SSH as ``sshUser``; keys: ``--identity``, else the ssh-agent, then the
stack's ``sshPrivateKey``; password: ``GATEWAY_SSH_PASSWORD``, else the stack's ``sshPassword``; the stack's
secrets are read through Pulumi's Automation API where the Pulumi CLI is installed), honouring an OpenSSH
client config (``--ssh-config``: aliases, ports, known hosts, ``ProxyJump``) and every pinned ``sshHostKey``.
Probes go only to the configured addresses. Changes nothing.

Exit codes: 0 every check passed (warnings allowed); 1 a check failed; 2 invalid config or usage; 3 anything
else (no stack file).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gatewayctl import checks, health, stackfile
from gatewayctl.automation import read_stack_values
from gatewayctl.command_line import add_command, add_reach_arguments, add_stack_arguments, err, project_dir
from gatewayctl.errors import EXIT_FAILED, EXIT_OK


def run(args: argparse.Namespace) -> int:
    root = project_dir()
    settings, _ = stackfile.load_settings(root, args.stack)
    secrets, outputs = read_stack_values(root, args.stack, health.STACK_SECRETS, note=err)
    recorded = outputs.get("registrationStatus")
    reach = health.reach_from(args, secrets, timeout=args.timeout)
    password = health.manager_password(secrets)
    rows = health.validate(
        settings,
        reach,
        manager_password=password,
        recorded_registration=recorded if isinstance(recorded, str) else None,
    )
    report = checks.Report(args.stack, rows)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            checks.to_text(
                report,
                title="Validation",
                verdict_ok="the cluster is set up as configured",
                verdict_failed="NOT VALID: fix the failures above",
            )
        )
    return EXIT_FAILED if report.failed else EXIT_OK


def register(subparsers: Any) -> None:
    """Adds ``validate`` to gatewayctl's subcommands."""
    parser = add_command(subparsers, "validate", run, summary="check a running cluster against its config", doc=__doc__)
    add_stack_arguments(parser, verb="validate")
    add_reach_arguments(parser)
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="per connection and probe (default 30)"
    )
