"""nfs-storage-configured: a multi-node cluster's config names an NFS server and export path for its storage.

The same rule as nfs-storage-for-multi-node, judged on the cluster's inputs: they are known on a first
preview, when the storage release's outputs are not.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..cluster_inputs import CLUSTER, NFS_PATH, NFS_SERVER, NODES, STORAGE
from ..readers import UNKNOWN, items, text, value


def nfs_storage_configured_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A multi-node cluster's config names an NFS server and an absolute export path for its storage."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, *NODES)
    storage = value(args.props, *STORAGE)
    if nodes is UNKNOWN or len(nodes) < 2 or storage is UNKNOWN:
        return
    server = text(storage, *NFS_SERVER) if storage is not None else None
    path = text(storage, *NFS_PATH) if storage is not None else None
    if server is UNKNOWN or path is UNKNOWN:
        return
    if not server or not server.strip() or not path or not path.startswith("/"):
        shown = "no storage" if storage is None else f"storage {{nfsServer: {server!r}, nfsPath: {path!r}}}"
        report_violation(
            f"gateway cluster '{args.name}' has {len(nodes)} nodes but {shown}: a multi-node cluster keeps the "
            "Gateway Manager's data on NFS so that any node can take over. Set gateway-cluster:storage to "
            "{nfsServer: <server>, nfsPath: /<export>} (an NFS export every node can mount).",
            None,
        )


POLICY = ResourceValidationPolicy(
    name="nfs-storage-configured",
    description="A multi-node cluster's config names an NFS server and export path for its storage.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=nfs_storage_configured_validator,
)
