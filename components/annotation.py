"""The notes every gateway VM carries in vCenter: written by the program, read back by ``gatewayctl`` (preflight,
drill), so that both sides use the same functions and cannot drift apart. Standard library only: the commands that
read notes need not import the program's components or the provider SDKs."""

from __future__ import annotations

import re


def node_annotation(project: str, stack: str, image: str | None = None) -> str:
    """The notes every gateway VM carries in vCenter: which project and stack manage it, and the image version
    it was made from.

    ``gatewayctl preflight`` reads them back with :func:`annotation_owner` (to tell this stack's own VMs from a
    name clash) and :func:`annotation_image` (which version each node runs), so both sides use these functions
    and cannot drift apart. The notes are written when the VM is created or rebuilt: they are an image input
    (components/node.py ``IMAGE_INPUTS``), so a new `ova` does not rewrite a running node's notes.
    """
    version = f", image {image}" if image is not None else ""
    return (
        f"Gateway cluster node, managed by Pulumi (project {project}, stack {stack}){version}. "
        "Written when the VM is created or rebuilt."
    )


_ANNOTATION = re.compile(
    r"^Gateway cluster node, managed by Pulumi \(project (?P<project>[^\s,()]+), stack (?P<stack>[^\s()]+)\)"
    r"(?:, image (?P<image>\S+?))?\.(?:\s|$)"
)


def annotation_owner(annotation: str | None) -> tuple[str, str] | None:
    """``(project, stack)`` from notes written by :func:`node_annotation`; ``None`` for any other notes."""
    match = _ANNOTATION.match(annotation or "")
    return (match["project"], match["stack"]) if match else None


def annotation_image(annotation: str | None) -> str | None:
    """The image version in notes written by :func:`node_annotation`; ``None`` when they name none (notes
    written before versions were, or any other notes)."""
    match = _ANNOTATION.match(annotation or "")
    return match["image"] if match else None
