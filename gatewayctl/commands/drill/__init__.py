"""``gatewayctl drill``: the run-book's node-failure drill. It powers one node's VM off, measures how the cluster
recovers, powers it on again and checks that the cluster is whole: the evidence an operator files.

Kubernetes marks a node NotReady after its grace period and evicts its pods only after their NoExecute
toleration (300 s by default), so a drill takes minutes. The VM is powered on again in every case (on failure,
on timeout, on Ctrl-C) unless ``--leave-off``. Only this stack's VM is touched: it is found by name and by the
notes that name this project and stack.

Exit codes: 0 the cluster recovered; 1 it did not, or validate failed beforehand (nothing was touched); 2
invalid config or usage (fewer than three nodes, an unknown node, no terminal to confirm on without ``--yes``);
3 anything else (no stack file, vCenter unusable, no such VM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from components import config as cfg
from components.annotation import annotation_owner
from gatewayctl import harness, health, stackfile, vcenter
from gatewayctl.automation import read_stack_values
from gatewayctl.command_line import add_command, add_reach_arguments, add_stack_arguments, err, project_dir
from gatewayctl.commands.drill.timeline import DrillPorts, DrillResult, Observation, Pod, run_drill
from gatewayctl.errors import EXIT_FAILED, EXIT_OK, CommandError, UsageError
from gatewayctl.health import facts, judge

#: The drill's clock: tests replace it with a simulated one (Kubernetes' own waits take minutes).
CLOCK: tuple[Callable[[], float], Callable[[float], None]] = (time.monotonic, time.sleep)


def _check_usage(settings: cfg.Settings, args: argparse.Namespace) -> None:
    if len(settings.nodes) < 3:
        raise UsageError(
            f"stack '{args.stack}' has {len(settings.nodes)} node(s): a drill powers one off, and only a cluster of at "
            "least three keeps its quorum and its apps through that. Drill a stack of three or more nodes"
        )
    if args.node not in {n.hostname for n in settings.nodes}:
        names = ", ".join(n.hostname for n in settings.nodes)
        raise UsageError(f"--node {args.node}: not a node of stack '{args.stack}' ({names})")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to confirm on: pass --yes to power the node's VM off")
        if input(f"Power off {args.node}'s VM for a drill? [y/N] ").strip().lower() not in ("y", "yes"):
            raise UsageError("not confirmed: nothing changed")


def find_vm(vc: vcenter.VCenter, settings: cfg.Settings, node: str, project: str, stack: str) -> Any:
    """The node's VM: its name, and notes that say this project and stack manage it."""
    dc = vc.datacenter(settings.vsphere.datacenter)
    for vm, props in vc.vms(dc):
        if props.get("name") == node and annotation_owner(props.get("config.annotation")) == (project, stack):
            return vm
    raise CommandError(
        f"no VM named {node} managed by project {project}, stack {stack} in datacenter {settings.vsphere.datacenter}",
        "Check the node's VM in vCenter (its notes name the project and stack that manage it)",
    )


def _power(vm: Any, on: bool) -> None:
    from pyVim import task

    wait: Callable[[Any], Any] = task.WaitForTask
    state = str(vm.runtime.powerState)
    if on and state != "poweredOn":
        wait(vm.PowerOnVM_Task())
    elif not on and state == "poweredOn":
        wait(vm.PowerOffVM_Task())


def _observer(settings: cfg.Settings, node: str, reach: health.Reach) -> Callable[[], Observation]:
    others = [n for n in settings.nodes if n.hostname != node]

    def observe() -> Observation:
        seen = facts.collect_nodes(settings, others, reach)
        source = next((f for f in seen.values() if f.error is None), None)
        manager = health.manager_answers(str(settings.floating_ip), reach.timeout)
        if source is None:
            return Observation(None, manager.status == "pass", [])
        state = judge.node_table(source.get("nodes")).get(node)
        pods = [
            Pod(p.get("namespace", ""), p.get("name", ""), p.get("phase", ""), p.get("node", ""), p.get("owner", ""))
            for p in judge.pod_table(source.get("pods"))
        ]
        return Observation(state is not None and state.split(",")[0] == "Ready", manager.status == "pass", pods)

    return observe


def to_json(stack: str, vm: str, result: DrillResult) -> dict[str, Any]:
    return {
        "stack": stack,
        "node": result.node,
        "vm": vm,
        "steps": [s.to_json() for s in result.steps],
        **{
            k: result.times.get(k)
            for k in ("nodeNotReadyAfterS", "managerBackAfterS", "podsMovedAfterS", "nodeReadyAfterS")
        },
        "recovered": result.recovered,
        **({"failures": [f.__dict__ for f in result.failures]} if result.failures else {}),
    }


def to_text(doc: dict[str, Any]) -> str:
    lines = [f"Drill of stack '{doc['stack']}': node {doc['node']} (VM {doc['vm']}) powered off", ""]
    for step in doc["steps"]:
        at = "" if step["at"] is None else f"T+{step['at']:>6.1f} s"
        lines.append(
            f"  {at:<11} {step['step']:<15} {'ok' if step['ok'] else 'NOT SEEN' if step['at'] is None else 'FAILED'}"
        )
    for failure in doc.get("failures", []):
        lines.append(f"  failing: {failure['id']} {failure['target']}: {failure['message']}")
    lines.append("")
    lines.append(
        "Recovered: the cluster is whole again." if doc["recovered"] else "NOT RECOVERED: see the steps above."
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    root = project_dir()
    settings, raw = stackfile.load_settings(root, args.stack)
    _check_usage(settings, args)
    secrets, outputs = read_stack_values(root, args.stack, health.STACK_SECRETS, note=err)
    reach = health.reach_from(args, secrets)
    password = health.manager_password(secrets)
    recorded = outputs.get("registrationStatus")
    creds = vcenter.credentials(raw, args.stack)
    si = vcenter.connect(creds)
    try:
        vm = find_vm(
            vcenter.VCenter(si, server=creds.address), settings, args.node, harness.project_name(root), args.stack
        )
        clock, sleep = CLOCK
        ports = DrillPorts(
            power_off=lambda: _power(vm, on=False),
            power_on=lambda: _power(vm, on=True),
            observe=_observer(settings, args.node, reach),
            validate=lambda: health.validate(
                settings,
                reach,
                manager_password=password,
                recorded_registration=recorded if isinstance(recorded, str) else None,
            ),
            clock=clock,
            sleep=sleep,
        )
        err(f"drill: powering off {args.node}; this takes minutes (Kubernetes evicts pods after 300 s)")
        result = run_drill(args.node, ports, timeout=args.timeout, interval=args.interval, leave_off=args.leave_off)
        doc = to_json(args.stack, str(vm._moId), result)
    finally:
        vcenter.disconnect(si)
    print(json.dumps(doc, indent=2) if args.json else to_text(doc))
    return EXIT_OK if result.recovered else EXIT_FAILED


def register(subparsers: Any) -> None:
    """Adds ``drill`` to gatewayctl's subcommands."""
    parser = add_command(
        subparsers, "drill", run, summary="the node-failure drill: power a node off, measure recovery", doc=__doc__
    )
    add_stack_arguments(parser, verb="drill")
    parser.add_argument("--node", required=True, metavar="HOSTNAME", help="the node whose VM is powered off")
    parser.add_argument("--timeout", type=float, default=900.0, metavar="S", help="bound of each wait (default 900 s)")
    parser.add_argument("--interval", type=float, default=5.0, metavar="S", help="between two looks (default 5 s)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--leave-off", action="store_true", help="leave the VM powered off at the end")
    add_reach_arguments(parser)
