"""nfs-storage-for-multi-node: a multi-node cluster's storage release uses an NFS server and export path."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from ..readers import text
from ..stack import RELEASE, STORAGE_RELEASE, VM, by_cluster, cluster_label


def _is_storage_release(release: PolicyResource) -> bool:
    name = text(release.props, "name")
    if isinstance(name, str):
        return name == STORAGE_RELEASE
    chart = text(release.props, "chart")
    if isinstance(chart, str):
        return chart.rstrip("/").rsplit("/", 1)[-1] == STORAGE_RELEASE
    return release.name == STORAGE_RELEASE or release.name.endswith(f"-{STORAGE_RELEASE}")


def nfs_storage_for_multi_node_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A multi-node cluster's storage release carries an NFS server and an absolute export path."""
    vms = by_cluster(args.resources, VM)
    releases = by_cluster([r for r in args.resources if _is_storage_release(r)], RELEASE)
    for cluster_urn, group in vms.items():
        if len(group) < 2:
            continue
        for release in releases.get(cluster_urn, []):
            if not any(key in release.props for key in ("chart", "name", "values")):
                # No outputs at all: during a first preview the Kubernetes provider's config (the kubeconfig,
                # an output of the cluster's formation) is unknown and the engine hands back an empty map.
                # Nothing to judge; nfs-storage-configured judges the same rule on the cluster's inputs.
                continue
            server = text(release.props, "values", "nfs", "server")
            path = text(release.props, "values", "nfs", "path")
            missing = []
            if server is None or (isinstance(server, str) and not server.strip()):
                missing.append("no NFS server (values.nfs.server)")
            if path is None or (isinstance(path, str) and not path.startswith("/")):
                missing.append("no absolute NFS export path (values.nfs.path)")
            if missing:
                report_violation(
                    f"the storage release '{release.name}' of {cluster_label(args.resources, cluster_urn)} "
                    f"({len(group)} nodes) has {' and '.join(missing)}: on node-local disks each node keeps its "
                    "own data and a fail-over loses it. Set gateway-cluster:storage.nfsServer and "
                    "storage.nfsPath (an NFS export every node can mount).",
                    release.urn,
                )


POLICY = StackValidationPolicy(
    name="nfs-storage-for-multi-node",
    description="A multi-node cluster's storage release uses an NFS server and export path.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=nfs_storage_for_multi_node_validator,
)
