"""retained-images-in-use (advisory): every image in `ova.retain` is still run by a node, and every node runs
an image that `ova` or `ova.retain` keeps.

A stack policy on the ``GatewayCluster`` component's outputs: which image each node runs (``nodes[i].image``)
comes from the VMs' state, so it is an output, not a fact of the config. A retained image no node runs any
more only holds datastore space; a node whose image is in neither list was made from a library item the stack
no longer keeps, and the provider re-creates a VM only from an item that exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from ..facts import CLUSTER
from ..readers import UNKNOWN, items, text, value


def image_findings(nodes: Sequence[tuple[str, str | None]], retained: Sequence[str]) -> list[str]:
    """What is wrong with ``retained`` (versions in `ova.retain`) given ``nodes`` (each node's hostname and the
    version it runs, ``None`` for an image in neither `ova` nor `ova.retain`): one message each."""
    running = {image for _, image in nodes if image is not None}
    findings = [
        f"node '{hostname}' runs an image that is neither gateway-cluster:ova nor in gateway-cluster:ova.retain: "
        "its library item is gone, and the provider could not re-create the VM from it. Rebuild the node "
        f"(gateway-cluster:rebuild = [{hostname}]), or add its image back to gateway-cluster:ova.retain."
        for hostname, image in nodes
        if image is None
    ]
    findings += [
        f"retained image {version} (gateway-cluster:ova.retain) is run by no node any more (they run "
        f"{', '.join(sorted(running)) or 'nothing yet'}): remove it from gateway-cluster:ova.retain, and the next "
        "`pulumi up` deletes its library item."
        for version in retained
        if version not in running
    ]
    return findings


def retained_images_in_use_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each retained image is run by a node, and each node's image is `ova` or retained (judged when known)."""
    for cluster in (r for r in args.resources if r.resource_type == CLUSTER):
        nodes = items(cluster.props, "nodes")
        retained = items(cluster.props, "retainedImages")
        if nodes is UNKNOWN or retained is UNKNOWN or nodes is None or retained is None:
            continue
        images = [value(node, "image") for node in nodes]
        # A new stack's nodes (or any node being created) have no image yet: nothing to judge until they do.
        if any(image is UNKNOWN for image in images):
            continue
        named = [
            (str(text(node, "hostname") or f"nodes[{i}]"), image if isinstance(image, str) else None)
            for i, (node, image) in enumerate(zip(nodes, images, strict=True))
        ]
        for message in image_findings(named, [v for v in retained if isinstance(v, str)]):
            report_violation(message, cluster.urn)


POLICY = StackValidationPolicy(
    name="retained-images-in-use",
    description="Every image in ova.retain is still run by a node, and every node runs a kept image.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=retained_images_in_use_validator,
)
