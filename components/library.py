"""OvaLibrary: the gateway OVA fetched once into a vCenter content library, for every node to clone from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_vsphere as vsphere

from components.config import OvaSettings


@dataclass(frozen=True)
class OvaLibraryArgs:
    """The library's home and the image it holds."""

    ova: OvaSettings
    """The OVA to import: an URL vCenter downloads itself, or a local file the provider uploads."""
    datastore_id: pulumi.Input[str]
    """Managed object ID of the datastore that backs the library."""
    library_name: str
    """The library's name in vCenter; unique per vCenter, so it carries the project and stack."""


def item_name(ova: OvaSettings) -> str:
    """The library item's name: the version and a digest of the source.

    A new source replaces the item create-before-delete, and vCenter refuses a second item of the same name in
    one library; a new URL for the same version (another mirror, a re-issued build) must still get a new name.
    """
    digest = hashlib.sha256(ova.source.encode()).hexdigest()[:8]
    return f"gateway-{ova.version}-{digest}"


class OvaLibrary(pulumi.ComponentResource):
    """One content library and one item per cluster, whatever the node count."""

    library_id: pulumi.Output[str]
    item_id: pulumi.Output[str]

    def __init__(self, name: str, args: OvaLibraryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:OvaLibrary", name, None, opts)
        library = vsphere.ContentLibrary(
            f"{name}-library",
            name=args.library_name,
            description="Gateway appliance images, managed by Pulumi.",
            storage_backings=[args.datastore_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        item = vsphere.ContentLibraryItem(
            f"{name}-item",
            library_id=library.id,
            name=item_name(args.ova),
            description=f"Gateway OVA {args.ova.version} from {args.ova.source}",
            file_url=args.ova.source,
            type="ovf",
            # A new image version replaces the item create-before-delete (Pulumi's default): the new item
            # exists before the old one goes, and VMs already cloned from the old item do not depend on it.
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.library_id = library.id
        self.item_id = item.id
        self.register_outputs({"libraryId": self.library_id, "itemId": self.item_id})
