"""ssh-host-keys-pinned (advisory): each node's SSH host key is pinned."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..cluster_inputs import CLUSTER, HOSTNAME, NODES, SSH_HOST_KEY_PINNED
from ..readers import UNKNOWN, items, text, value


def ssh_host_keys_pinned_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each node's SSH host key is pinned, so remote commands cannot be diverted to another machine."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, *NODES)
    if nodes is UNKNOWN:
        return
    unpinned = [
        f"nodes[{i}] ({text(node, *HOSTNAME) or '?'})"
        for i, node in enumerate(nodes)
        if value(node, *SSH_HOST_KEY_PINNED) is False
    ]
    if unpinned:
        report_violation(
            f"no SSH host key is pinned for {', '.join(unpinned)}: the remote commands then accept any host key, "
            "so whoever answers on the node's address gets the SSH credentials. Set "
            "gateway-cluster:nodes[i].sshHostKey to the node's public host key (`ssh-keyscan -t ed25519 <ip>`).",
            None,
        )


POLICY = ResourceValidationPolicy(
    name="ssh-host-keys-pinned",
    description="Each node's SSH host key is pinned.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=ssh_host_keys_pinned_validator,
)
