"""ha-minimum-three-hosts: one node, or at least three nodes on at least three distinct ESXi hosts."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from ..readers import config, value
from ..stack import VM, by_cluster, cluster_label, vm_name


def ha_minimum_three_hosts_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """One node, or at least three nodes on at least three distinct ESXi hosts; never two."""
    allow_single = bool(config(args, SCHEMA, "allowSingleNode"))
    for cluster_urn, vms in by_cluster(args.resources, VM).items():
        label = cluster_label(args.resources, cluster_urn)
        names = ", ".join(vm_name(vm) for vm in vms)
        count = len(vms)
        if count == 1 and not allow_single:
            report_violation(
                f"{label} has a single node ({names}), and this stack's policy config forbids single-node "
                "clusters (allowSingleNode: false): one host failure takes the gateway down. Add at least two "
                "more nodes on two more ESXi hosts to gateway-cluster:nodes.",
                cluster_urn,
            )
        elif count == 2:
            report_violation(
                f"{label} has two nodes ({names}): two MicroK8s nodes give no HA (losing either one loses "
                "dqlite's quorum) and are not the single-node layout either. Add a third node on a third ESXi "
                "host to gateway-cluster:nodes, or go back to one node.",
                cluster_urn,
            )
        elif count >= 3:
            hosts = [value(vm.props, "hostSystemId") for vm in vms]
            known = {h for h in hosts if isinstance(h, str) and h}
            # A VM whose host is unknown (or left to DRS) might be on a host of its own: only a shortfall
            # that holds whatever those hosts turn out to be is reported.
            undecided = sum(1 for h in hosts if not (isinstance(h, str) and h))
            if len(known) + undecided < 3:
                report_violation(
                    f"{label} has {count} nodes ({names}) but they run on only {len(known)} distinct ESXi "
                    f"host(s) ({', '.join(sorted(known))}): HA needs at least three nodes on at least three "
                    "hosts, so that losing one host keeps two of three dqlite voters. Give the nodes in "
                    "gateway-cluster:nodes esxiHost values naming at least three different hosts.",
                    cluster_urn,
                )


SCHEMA = PolicyConfigSchema(
    properties={
        "allowSingleNode": {
            "type": "boolean",
            "default": True,
            "description": "Whether a one-node cluster (no HA) is allowed; set false for production stacks.",
        },
    },
)

POLICY = StackValidationPolicy(
    name="ha-minimum-three-hosts",
    description="A gateway cluster is one node, or at least three nodes on at least three ESXi hosts.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=ha_minimum_three_hosts_validator,
    config_schema=SCHEMA,
)
