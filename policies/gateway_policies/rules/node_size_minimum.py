"""node-size-minimum: each gateway VM has at least the minimum vCPUs, memory and system disk."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from ..readers import UNKNOWN, config, items, number, shown_number, text
from ..stack import VM


def node_size_minimum_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each gateway VM has at least the configured vCPUs, memory and system disk."""
    if args.resource_type != VM:
        return
    min_cpus = float(config(args, SCHEMA, "minCpus"))
    min_memory = float(config(args, SCHEMA, "minMemoryMb"))
    min_disk = float(config(args, SCHEMA, "minDiskGb"))
    props = args.props
    short: list[str] = []
    cpus = number(props, "numCpus")
    if isinstance(cpus, float) and cpus < min_cpus:
        short.append(f"{shown_number(cpus)} vCPUs (minimum {shown_number(min_cpus)})")
    elif cpus is None:
        short.append(f"no numCpus (vSphere's default is 1; minimum {shown_number(min_cpus)})")
    memory = number(props, "memory")
    if isinstance(memory, float) and memory < min_memory:
        short.append(f"{shown_number(memory)} MB of memory (minimum {shown_number(min_memory)} MB)")
    elif memory is None:
        short.append(f"no memory size (vSphere's default is 1024 MB; minimum {shown_number(min_memory)} MB)")
    disks = items(props, "disks")
    if disks is not UNKNOWN:
        disk = number(disks[0], "size") if disks else None
        if isinstance(disk, float) and disk < min_disk:
            short.append(f"a {shown_number(disk)} GB system disk (minimum {shown_number(min_disk)} GB)")
        elif disk is None:
            short.append(f"no system disk size (disks[0].size; minimum {shown_number(min_disk)} GB)")
    if short:
        report_violation(
            f"gateway VM '{text(props, 'name') or args.name}' has {', '.join(short)}. Raise "
            "gateway-cluster:nodeSize (cpus, memoryMb, diskGb) to at least the minimum; the limits are this "
            "policy's config (minCpus, minMemoryMb, minDiskGb).",
            None,
        )


SCHEMA = PolicyConfigSchema(
    properties={
        "minCpus": {"type": "integer", "minimum": 1, "default": 4, "description": "Minimum vCPUs per node."},
        "minMemoryMb": {
            "type": "integer",
            "minimum": 1,
            "default": 8192,
            "description": "Minimum memory per node, in MB.",
        },
        "minDiskGb": {
            "type": "integer",
            "minimum": 1,
            "default": 40,
            "description": "Minimum size of the node's system disk (disks[0]), in GB.",
        },
    },
)

POLICY = ResourceValidationPolicy(
    name="node-size-minimum",
    description="Each gateway VM has at least the minimum vCPUs, memory and system disk.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=node_size_minimum_validator,
    config_schema=SCHEMA,
)
