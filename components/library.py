"""OvaLibrary: the gateway OVA fetched once into a vCenter content library, for every node to clone from; and
the older images nodes still run (``ova.retain``), each kept as long as it is listed."""

from __future__ import annotations

import hashlib
import re
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


def item_name(version: str, source: str) -> str:
    """The library item's name: the version and a digest of the source.

    vCenter refuses a second item of the same name in one library, and a new URL for the same version (another
    mirror, a re-issued build) is another image: its item must get a name of its own.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"gateway-{version}-{digest}"


def item_resource_name(library: str, version: str) -> str:
    """The Pulumi name of a version's item: by version, not by role, so the item of an image that moves from
    `ova` to `ova.retain` keeps its URN, and with it its ID, which the nodes not yet rebuilt were cloned from."""
    return f"{library}-item-{re.sub(r'[^A-Za-z0-9._-]', '-', version)}"


class OvaLibrary(pulumi.ComponentResource):
    """One content library per cluster, whatever the node count, with one item per image in use: the current
    `ova` and each `ova.retain` entry."""

    library_id: pulumi.Output[str]
    item_id: pulumi.Output[str]
    """The current image's item, which new and rebuilt nodes are cloned from."""
    item_ids: dict[str, pulumi.Output[str]]
    """Every image's item by version, the current one included."""

    def __init__(self, name: str, args: OvaLibraryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:OvaLibrary", name, None, opts)
        library = vsphere.ContentLibrary(
            f"{name}-library",
            name=args.library_name,
            description="Gateway appliance images, managed by Pulumi.",
            storage_backings=[args.datastore_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.item_ids = {}
        for version, source in args.ova.images:
            item = vsphere.ContentLibraryItem(
                item_resource_name(name, version),
                library_id=library.id,
                name=item_name(version, source),
                description=f"Gateway OVA {version} from {source}",
                file_url=source,
                type="ovf",
                # A version's item is deleted only when the version leaves both `ova` and `ova.retain`; a new
                # source for the same version replaces it create-before-delete (Pulumi's default), and VMs
                # already cloned from the old item do not depend on it while they run.
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.item_ids[version] = item.id
        self.library_id = library.id
        self.item_id = self.item_ids[args.ova.version]
        self.register_outputs(
            {"libraryId": self.library_id, "itemId": self.item_id, "itemIds": pulumi.Output.all(**self.item_ids)}
        )
