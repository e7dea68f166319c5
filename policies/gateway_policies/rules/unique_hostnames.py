"""unique-hostnames: node hostnames are lowercase RFC 1123 labels, all distinct."""

from __future__ import annotations

import re
from typing import Final

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..cluster_inputs import CLUSTER, HOSTNAME, NODES
from ..readers import UNKNOWN, items, text

# The config parser has the same pattern (a deliberate duplicate: docs/policies-rules.md).
_HOSTNAME: Final = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def unique_hostnames_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every node's hostname a lowercase RFC 1123 label, all distinct."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, *NODES)
    if nodes is UNKNOWN:
        return
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        hostname = text(node, *HOSTNAME)
        if hostname is UNKNOWN:
            continue
        if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
            report_violation(
                f"gateway-cluster:nodes[{i}].hostname {hostname!r} is not a lowercase RFC 1123 label (1-63 "
                "characters a-z, 0-9 and '-', starting and ending with a letter or digit): MicroK8s names the "
                "Kubernetes node after it. Rename it, e.g. 'gw-node-1'.",
                None,
            )
            continue
        if hostname in seen:
            report_violation(
                f"gateway-cluster:nodes[{i}].hostname '{hostname}' duplicates nodes[{seen[hostname]}]: "
                "MicroK8s joins fail silently between nodes of one name. Give every node its own hostname.",
                None,
            )
        else:
            seen[hostname] = i


POLICY = ResourceValidationPolicy(
    name="unique-hostnames",
    description="Node hostnames are lowercase RFC 1123 labels, all distinct.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=unique_hostnames_validator,
)
