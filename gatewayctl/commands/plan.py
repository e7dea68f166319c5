"""``gatewayctl plan``: the offline preview, what ``pulumi preview`` would show, computed under Pulumi's mock
runtime (:mod:`gatewayctl.harness`) and judged by the policy pack as the engine judges it.

Exit 0, or 1 when a mandatory policy is violated; an invalid config exits 2, anything else 3 (see
:mod:`gatewayctl.errors`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.config import NAMESPACE, ONE_OF_SECRETS
from gatewayctl import harness, program_fakes, stackfile, vcenter
from gatewayctl.command_line import (
    add_command,
    add_config_option,
    add_stack_arguments,
    err,
    parse_overrides,
    project_dir,
    read_json_object,
)
from gatewayctl.errors import EXIT_FAILED, EXIT_OK, CommandError, UsageError
from gatewayctl.harness import Inventory, Resource, Run

if TYPE_CHECKING:  # the analyzer loads pulumi-policy and jsonschema: imported when the policies run
    from gatewayctl.harness.analyzer import Violation


@dataclass
class Plan:
    stack: str
    run: Run
    prepared: stackfile.PreparedConfig
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def make_plan(
    project_dir: Path,
    stack: str,
    *,
    inventory: Inventory | None = None,
    overrides: Mapping[str, str] | None = None,
    prepared: stackfile.PreparedConfig | None = None,
) -> Plan:
    """Runs the program for ``stack`` offline (with ``prepared``, the stack file already read). Raises
    ``ConfigError`` (invalid config), ``StackError`` or ``InventoryError`` (a look-up found nothing)."""
    program_fakes.install()
    if prepared is None:
        prepared = stackfile.prepare(stackfile.read_stack(project_dir, stack), stack, overrides=overrides)
    run = harness.run_program(
        project_dir, stack, prepared.values, secret_keys=prepared.secret_keys, inventory=inventory
    )
    return Plan(stack=stack, run=run, prepared=prepared)


# ------------------------------------------------------------------------------------------------ JSON


def plan_options(resource: Resource) -> dict[str, Any]:
    """The options that decide what an update may do to ``resource``: all five, defaults included, wire names."""
    opts = resource.options
    return {
        "ignoreChanges": list(opts.get("ignoreChanges", [])),
        "replaceOnChanges": list(opts.get("replaceOnChanges", [])),
        "deleteBeforeReplace": bool(opts.get("deleteBeforeReplace", False)),
        "protect": bool(opts.get("protect", False)),
        "retainOnDelete": bool(opts.get("retainOnDelete", False)),
    }


def to_json(plan: Plan, *, show_secrets: bool = False) -> dict[str, Any]:
    mask = None if show_secrets else "[secret]"
    run = plan.run
    return {
        "stack": plan.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "dependencies": r.dependencies,
                "inputs": harness.reveal(r.inputs, mask=mask),
                "options": plan_options(r),
            }
            for r in run.resources
        ],
        "outputs": harness.reveal(run.outputs, mask=mask),
        "secretsNeeded": plan.prepared.secrets_needed,
        "violations": [
            {"policy": v.policy, "level": v.level, "message": v.message, "urn": v.urn} for v in plan.violations
        ],
    }


# ------------------------------------------------------------------------------------------------ text

#: What ``plan`` shows beside each resource of these types: (label, input path).
KEY_PROPERTIES: Mapping[str, tuple[tuple[str, tuple[str | int, ...]], ...]] = {
    "vsphere:index/virtualMachine:VirtualMachine": (
        ("name", ("name",)),
        ("host", ("hostSystemId",)),
        ("cpus", ("numCpus",)),
        ("memoryMb", ("memory",)),
        ("diskGb", ("disks", 0, "size")),
        ("datastore", ("datastoreId",)),
    ),
    "vsphere:index/contentLibrary:ContentLibrary": (("name", ("name",)),),
    "vsphere:index/contentLibraryItem:ContentLibraryItem": (("name", ("name",)), ("from", ("fileUrl",))),
    "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule": (
        ("name", ("name",)),
        ("mandatory", ("mandatory",)),
    ),
    "kubernetes:helm.sh/v3:Release": (
        ("release", ("name",)),
        ("chart", ("chart",)),
        ("version", ("version",)),
    ),
    "command:remote:Command": (("host", ("connection", "host")),),
}


def _dig(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return None
        elif not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def _format(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def key_properties(resource: Resource, names: Mapping[str, str]) -> str:
    """The resource's key inputs; vSphere IDs with the name they were looked up by."""
    shown = harness.reveal(resource.inputs)
    parts = []
    for label, path in KEY_PROPERTIES.get(resource.type, ()):
        value = _dig(shown, path)
        if value is not None:
            text = _format(value)
            parts.append(f"{label}={names[text]} ({text})" if text in names else f"{label}={text}")
    return " ".join(parts)


VM = "vsphere:index/virtualMachine:VirtualMachine"
#: Beside a VM that `rebuild` names: on an existing stack the update replaces it (components/node.py vm_options).
REBUILD_MARK = "  [rebuild: replaced, delete-before-replace]"


def rebuild_mark(resource: Resource) -> str:
    """:data:`REBUILD_MARK` for a VM rebuilt in this update (only a rebuilt VM is replaced delete-before-replace)."""
    return REBUILD_MARK if resource.type == VM and resource.options.get("deleteBeforeReplace") else ""


def to_text(plan: Plan, *, show_secrets: bool = False) -> str:
    run = plan.run
    lines = [
        f"Offline plan of stack '{plan.stack}' (project {run.project}), computed under Pulumi's mock runtime.",
        "Every resource would be created on a new stack; a real `pulumi preview` diffs against the stack's state.",
        "",
    ]
    children: dict[str | None, list[Resource]] = {}
    for r in run.resources:
        children.setdefault(r.parent, []).append(r)
    stack_urn = harness.stack_urn(run)
    names = run.names_by_id()
    lines.append(f"+ pulumi:pulumi:Stack  {run.project}-{run.stack}")

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            props = key_properties(r, names)
            shown = f"{prefix}{'└─ ' if last else '├─ '}+ {r.type}  {r.name}" + (f"  ({props})" if props else "")
            lines.append(shown + rebuild_mark(r))
            walk(r.urn, prefix + ("   " if last else "│  "))

    walk(stack_urn, "  ")
    custom = sum(1 for r in run.resources if r.custom)
    lines += ["", f"Resources: {custom} to create ({len(run.resources) - custom} components)."]

    outputs = harness.reveal(run.outputs, mask=None if show_secrets else "[secret]")
    if outputs:
        lines += ["", "Outputs:"]
        for key in sorted(outputs):
            lines.append(f"  {key}: {_render(outputs[key])}")

    if plan.prepared.secrets_needed:
        lines += ["", "Secrets a real `pulumi up` still needs (stood in for here):"]
        for key in plan.prepared.secrets_needed:
            how = (
                "or the VSPHERE_PASSWORD environment variable"
                if key == "vsphere:password"
                else f"`pulumi config set --secret {key}`"
            )
            if key == f"{NAMESPACE}:{ONE_OF_SECRETS[0]}":
                how += "; or set " + " or ".join(f"{NAMESPACE}:{k}" for k in ONE_OF_SECRETS[1:]) + " instead"
            lines.append(f"  - {key}  ({how})")

    lines += ["", _violations_text(plan.violations)]
    return "\n".join(lines)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _violations_text(violations: list[Violation]) -> str:
    if not violations:
        return "Policies: no violations."
    lines = [f"Policy violations ({len(violations)}):"]
    for level in ("mandatory", "remediate", "advisory"):
        for v in (v for v in violations if v.level == level):
            where = f"\n      on {v.urn}" if v.urn else ""
            lines.append(f"  [{level}] {v.policy}: {v.message}{where}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- CLI


def _read_policy_config(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return read_json_object("--policy-config", path, "a JSON object of policy name to settings")


#: What to do when a vSphere look-up finds nothing.
LOOKUP_FIX = (
    "Check the name in the stack's gateway-cluster:vsphere / nodes[].esxiHost against vCenter "
    "(`gatewayctl preflight` checks them all)."
)


def run(args: argparse.Namespace) -> int:
    root = project_dir()
    policy_config = _read_policy_config(args.policy_config)
    if not args.no_policies:
        # Checked before the program runs, as the engine checks it when it starts the analyzer: a bad file
        # costs no run and no vCenter session.
        from gatewayctl.harness import analyzer

        try:
            analyzer.reconcile_config(analyzer.GATEWAY_PACK, policy_config)
        except analyzer.PolicyConfigError as exc:
            raise UsageError(str(exc)) from None
    live = vcenter.live_inventory(root, args.stack) if args.vcenter else None
    try:
        prepared = stackfile.prepare(
            stackfile.read_stack(root, args.stack), args.stack, overrides=parse_overrides(args.config)
        )
        # Before the run: a warning (a value left out because it is encrypted inside a map) often explains the
        # config error that follows.
        for warning in prepared.warnings:
            err(f"warning: {warning}")
        inventory = live if live is not None else harness.DeclaredInventory()
        result = make_plan(root, args.stack, inventory=inventory, prepared=prepared)
    except harness.InventoryError as exc:
        raise CommandError(f"vSphere look-up failed: {exc}", LOOKUP_FIX) from None
    finally:
        # Log out of vCenter (the look-ups are over): a leaked session counts against its session limit.
        if live is not None:
            live.close()
    if not args.no_policies:
        result.violations = analyzer.evaluate(result.run, policy_config)
    if args.json:
        print(json.dumps(to_json(result, show_secrets=args.show_secrets), indent=2))
    else:
        print(to_text(result, show_secrets=args.show_secrets))
    return EXIT_FAILED if result.mandatory_violations else EXIT_OK


def register(subparsers: Any) -> None:
    """Adds ``plan`` to gatewayctl's subcommands."""
    parser = add_command(
        subparsers, "plan", run, summary="offline preview of a stack: resources, outputs, secrets needed, policies"
    )
    add_stack_arguments(parser, verb="plan")
    parser.add_argument("--show-secrets", action="store_true", help="show secret values instead of [secret]")
    parser.add_argument(
        "--policy-config",
        metavar="FILE",
        help="policy pack config (JSON), as for `pulumi preview --policy-pack-config`",
    )
    parser.add_argument("--no-policies", action="store_true", help="skip the policy pack")
    add_config_option(parser)
    parser.add_argument(
        "--vcenter",
        action="store_true",
        help="answer vSphere look-ups from the live vCenter (credentials as for preflight)",
    )
