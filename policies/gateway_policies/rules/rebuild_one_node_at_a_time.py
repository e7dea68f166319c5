"""rebuild-one-node-at-a-time: a multi-node cluster rebuilds at most one node per update.

A rebuilt node's VM is deleted before its replacement boots, so each node in `rebuild` is down during the
update; the cluster stays available only while one node at a time is down. The config parser owns the rest of
`rebuild` (each entry names a node, once, not the primary of a multi-node stack): docs/policies-rules.md.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..cluster_inputs import CLUSTER, NODES, REBUILD
from ..readers import UNKNOWN, items


def rebuild_one_node_at_a_time_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """In a multi-node cluster, `rebuild` names at most one node."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, *NODES)
    rebuild = items(args.props, *REBUILD)
    if nodes is UNKNOWN or rebuild is UNKNOWN or len(nodes) < 2:
        return
    # Unknown entries are not judged; a name listed twice is one node (the parser reports the duplicate).
    names = list(dict.fromkeys(h for h in rebuild if isinstance(h, str)))
    if len(names) > 1:
        report_violation(
            f"gateway cluster '{args.name}' ({len(nodes)} nodes) rebuilds {len(names)} nodes in one update "
            f"(gateway-cluster:rebuild = [{', '.join(names)}]): each rebuilt VM is deleted before its replacement "
            "boots, and the cluster stays available only while one node at a time is down. Set "
            f"gateway-cluster:rebuild to one node ([{names[0]}]), apply, then rebuild the next.",
            None,
        )


POLICY = ResourceValidationPolicy(
    name="rebuild-one-node-at-a-time",
    description="A multi-node cluster rebuilds at most one node per update.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=rebuild_one_node_at_a_time_validator,
)
