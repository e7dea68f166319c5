"""one-node-per-host: no two gateway VMs on one ESXi host."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from ..readers import value
from ..stack import VM, vm_name


def one_node_per_host_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No two gateway VMs on one ESXi host (``hostSystemId``), across the whole stack."""
    first_on_host: dict[str, PolicyResource] = {}
    for vm in (r for r in args.resources if r.resource_type == VM):
        host = value(vm.props, "hostSystemId")
        if not isinstance(host, str) or not host:
            continue  # unknown at preview, or left to DRS: nothing to judge
        first = first_on_host.setdefault(host, vm)
        if first is not vm:
            report_violation(
                f"gateway VM '{vm_name(vm)}' is on ESXi host {host}, like '{vm_name(first)}': losing that "
                "host would take both nodes (and two dqlite voters) at once. Give each node its own "
                "esxiHost in gateway-cluster:nodes.",
                vm.urn,
            )


POLICY = StackValidationPolicy(
    name="one-node-per-host",
    description="No two gateway VMs run on one ESXi host.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=one_node_per_host_validator,
)
