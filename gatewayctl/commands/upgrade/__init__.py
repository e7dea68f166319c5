"""``gatewayctl upgrade``: roll the whole cluster to a newer OVA, one node at a time, through Pulumi's Automation
API (a real run needs the Pulumi CLI, logged in to the stack's backend).

It keeps the image in use (``ova.retain``), sets ``ova``; then, for each node not yet on the new version (the
non-primary nodes first, in config order; then ``primary`` moves to the first rebuilt node; then the old primary),
sets ``rebuild`` to that node, runs ``pulumi up`` and waits for the cluster's health (every node Ready under its
hostname, the Gateway Manager answering on the floating IP) before the next. At the end it clears ``rebuild`` and
releases the old image. It stops at the first failure; run it again to resume: nodes already on the version
(the stack's ``nodes[i].image`` output) are skipped. The config changes rewrite ``Pulumi.<stack>.yaml``: commit it.

Exit codes: 0 done or nothing to do; 1 a step failed (which, and how to resume); 2 invalid config or usage; 3
anything else (no Pulumi CLI, no stack).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from components import config as cfg
from gatewayctl import health, stackfile
from gatewayctl.command_line import (
    add_command,
    add_reach_arguments,
    add_stack_arguments,
    err,
    project_dir,
    read_json_object,
)
from gatewayctl.commands.upgrade.roll import roll
from gatewayctl.commands.upgrade.steps import (
    HOST_KEY_MISMATCH,
    PlanError,
    Target,
    host_key_advice,
    pinned_nodes,
    plan_upgrade,
    versions_in_use,
)
from gatewayctl.errors import EXIT_FAILED, EXIT_OK, CommandError, UsageError

#: How long to wait for the cluster's health after each update, by default.
DEFAULT_HEALTH_TIMEOUT = 900.0


def node_images(outputs: dict[str, Any]) -> dict[str, str | None]:
    """Each node's running version from the stack's outputs (``nodes[i].image``)."""
    nodes = outputs.get("nodes")
    if not isinstance(nodes, list):
        raise CommandError(
            "the stack's outputs have no `nodes` list",
            "Run `pulumi up` once with this version of the program (it exports nodes[i].image), then upgrade",
        )
    return {str(n.get("hostname")): n.get("image") for n in nodes if isinstance(n, dict)}


def _confirm(args: argparse.Namespace, count: int) -> None:
    if args.yes or args.dry_run:
        return
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on: pass --yes to roll the cluster, or --dry-run to see the steps")
    answer = input(f"Rebuild {count} node(s) of stack '{args.stack}' one at a time? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("not confirmed: nothing changed")


def _health_gate(driver: Any, settings: cfg.Settings, args: argparse.Namespace) -> Any:
    secrets = driver.config_values(health.STACK_SECRETS)
    reach = health.reach_from(args, secrets)
    return lambda: health.wait_healthy(lambda: health.cluster_health(settings, reach), timeout=args.health_timeout)


def run(args: argparse.Namespace) -> int:
    root = project_dir()
    if (args.ova_url is None) == (args.ova_path is None):
        raise UsageError("give exactly one of --ova-url and --ova-path: where the new OVA is")
    settings, _ = stackfile.load_settings(root, args.stack)
    target = Target(version=args.to, url=args.ova_url, path=args.ova_path)
    driver = None
    if args.outputs is not None:
        outputs = read_json_object("--outputs", args.outputs, "the JSON object `pulumi stack output --json` prints")
    else:
        from gatewayctl.automation import AutomationStack

        driver = AutomationStack(root, args.stack, on_output=lambda line: err(f"    {line}"))
        outputs = driver.outputs()
    images = node_images(outputs)
    hostnames = [n.hostname for n in settings.nodes]
    try:
        steps = plan_upgrade(settings, images, target)
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    doc = {
        "stack": args.stack,
        "from": versions_in_use(images, hostnames),
        "to": target.version,
        "steps": [s.to_json() for s in steps],
    }
    rebuilt = {s.node for s in steps if s.action == "rebuild"}
    notes = [
        f"{h} has a pinned sshHostKey: its update stops once its new VM is up, for you to read and pin the new key "
        "(the message then says how)"
        for h in pinned_nodes(settings)
        if h in rebuilt
    ]
    if len(settings.nodes) == 1 and rebuilt and settings.registration is not None:
        notes.append(
            "a single-node stack is down while its node is rebuilt, and the new appliance registers again with "
            'the same management profile (docs/operations.md, section "Upgrading a single-node stack")'
        )
    if args.dry_run or not steps:
        _print(doc, args, done=None, notes=notes)
        return EXIT_OK
    if driver is None:
        raise UsageError("--outputs is for --dry-run: a real roll reads the outputs from the stack")
    _confirm(args, sum(1 for s in steps if s.action == "rebuild"))
    outcome = roll(steps, driver, _health_gate(driver, settings, args), progress=err)
    _print(doc, args, done=len(outcome.done), notes=notes)
    if outcome.failed is not None:
        what = f"{outcome.failed.action} {outcome.failed.node or ''}".strip()
        node = outcome.failed.node
        if node in pinned_nodes(settings) and HOST_KEY_MISMATCH in (outcome.error or ""):
            err(f"gatewayctl upgrade: {host_key_advice(settings, node or '')}")
        err(
            f"gatewayctl upgrade: step {len(outcome.done) + 1} ({what}) failed: {outcome.error}\n"
            f"The stack's config says what it was doing (Pulumi.{args.stack}.yaml). Fix the cause, then run the "
            "same `gatewayctl upgrade` again: it resumes, skipping the nodes already on "
            f'{target.version}. See docs/operations.md, section "When an upgrade stops half-way".'
        )
        return EXIT_FAILED
    err(f"Done: every node runs {target.version}. Commit Pulumi.{args.stack}.yaml (the roll changed it).")
    return EXIT_OK


def _print(doc: dict[str, Any], args: argparse.Namespace, *, done: int | None, notes: Sequence[str] = ()) -> None:
    if args.json:
        print(json.dumps({**doc, **({"done": done} if done is not None else {})}, indent=2))
        return
    print(f"Upgrade of stack '{doc['stack']}' from {', '.join(doc['from'])} to {doc['to']}:")
    if not doc["steps"]:
        print("  nothing to do: every node runs it already.")
    for note in notes:
        print(f"  note: {note}")
    for i, step in enumerate(doc["steps"], start=1):
        mark = "" if done is None else (" [done]" if i <= done else " [not done]")
        what = f"{step['action']} {step['node'] or ''}".strip()
        changes = ", ".join(
            f"{k}={json.dumps(v)}" if v is not None else f"{k} removed" for k, v in step["config"].items()
        )
        print(f"  {i}. {what}: {changes}{mark}")


def register(subparsers: Any) -> None:
    """Adds ``upgrade`` to gatewayctl's subcommands."""
    parser = add_command(
        subparsers, "upgrade", run, summary="roll the cluster to a newer OVA, one node at a time", doc=__doc__
    )
    add_stack_arguments(parser, verb="upgrade")
    parser.add_argument("--to", required=True, metavar="VERSION", help="the new image's version")
    parser.add_argument("--ova-url", metavar="URL", help="where the new OVA is (an https URL)")
    parser.add_argument("--ova-path", metavar="PATH", help="... or a local .ova file")
    parser.add_argument("--dry-run", action="store_true", help="print the steps; change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--outputs",
        metavar="FILE",
        help="the stack's outputs (`pulumi stack output --json`), for a --dry-run without the CLI",
    )
    add_reach_arguments(parser)
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=DEFAULT_HEALTH_TIMEOUT,
        metavar="S",
        help="wait for health (default 900 s)",
    )
