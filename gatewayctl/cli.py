"""``gatewayctl``: the offline plan and other operator tools. Run from the project root.

Exit codes: 0 ok; 1 mandatory policy violation (``plan``) or failed check (``preflight``); 2 invalid
configuration; 3 anything else (unknown stack, unreadable file, internal error). No path prints a traceback
unless ``GATEWAYCTL_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from components.config import ConfigError
from gatewayctl import preflight, stackfile
from gatewayctl.common import (
    EXIT_OK,
    EXIT_OTHER,
    EXIT_VIOLATION,
    UsageError,
    add_config_option,
    err,
    parse_overrides,
    project_dir,
    report_config_error,
)
from gatewayctl.harness import InventoryError


def _read_policy_config(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--policy-config {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--policy-config {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--policy-config {path}: must be a JSON object of policy name to settings")
    return data


def cmd_plan(args: argparse.Namespace) -> int:
    from gatewayctl import plan as planning

    root = project_dir()
    policy_config = _read_policy_config(args.policy_config)
    inventory = None
    if args.vcenter:
        from gatewayctl import vcenter

        inventory = vcenter.live_inventory(root, args.stack)
    try:
        prepared = stackfile.prepare(
            stackfile.read_stack(root, args.stack), args.stack, overrides=parse_overrides(args.config)
        )
        # Before the run: a warning (a value left out because it is encrypted inside a map) often explains the
        # config error that follows.
        for warning in prepared.warnings:
            err(f"warning: {warning}")
        result = planning.make_plan(root, args.stack, inventory=inventory, prepared=prepared)
    except ConfigError as error:
        return report_config_error("plan", args.stack, error, as_json=args.json)
    finally:
        # Log out of vCenter (the look-ups are over): a leaked session counts against its session limit.
        if inventory is not None:
            inventory.close()
    if not args.no_policies:
        from gatewayctl import policy_eval

        result.violations = policy_eval.evaluate(result.run, policy_config)
    if args.json:
        print(json.dumps(planning.to_json(result, show_secrets=args.show_secrets), indent=2))
    else:
        print(planning.to_text(result, show_secrets=args.show_secrets))
    return EXIT_VIOLATION if result.mandatory_violations else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatewayctl", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="offline preview of a stack: resources, outputs, secrets needed, policies")
    plan.add_argument("--stack", required=True, help="the stack whose Pulumi.<stack>.yaml to plan")
    plan.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    plan.add_argument("--show-secrets", action="store_true", help="show secret values instead of [secret]")
    plan.add_argument(
        "--policy-config",
        metavar="FILE",
        help="policy pack config (JSON), as for `pulumi preview --policy-pack-config`",
    )
    plan.add_argument("--no-policies", action="store_true", help="skip the policy pack")
    add_config_option(plan)
    plan.add_argument(
        "--vcenter",
        action="store_true",
        help="answer vSphere look-ups from the live vCenter (credentials as for preflight)",
    )
    plan.set_defaults(func=cmd_plan)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


#: Further subcommands: each registers its parser and sets ``func``.
EXTRA_COMMANDS: list[Callable[[Any], None]] = [preflight.register]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (UsageError, stackfile.StackError) as exc:
        err(f"gatewayctl {args.command}: {exc}")
        return EXIT_OTHER
    except InventoryError as exc:
        err(
            f"gatewayctl {args.command}: vSphere look-up failed: {exc}. Check the name in the stack's "
            "gateway-cluster:vsphere / nodes[].esxiHost against vCenter (`gatewayctl preflight` checks them all)."
        )
        return EXIT_OTHER
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
