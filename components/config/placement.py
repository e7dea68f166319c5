"""Where the nodes go (``vsphere``) and what they run (``ova``): the keys and their rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from .declare import KEYS, Key, Kind, KindError, Problem, RuleInput, Shape, rule
from .errors import full_key
from .kinds import OvaPath, OvaUrl, Text, choice


@with_config(KEYS)
@dataclass(frozen=True)
class VSphereSettings:
    """Where the nodes go, in vSphere's own vocabulary."""

    datacenter: Annotated[Text, Key("Datacenter name.", example="dc-east")]
    datastore: Annotated[Text, Key("Datastore for the VMs' disks (and the content library).", example="vsanDatastore")]
    network: Annotated[Text, Key("Port group of each node's primary NIC.", example="gw-mgmt-pg")]
    cluster: Annotated[
        Text | None,
        Key(
            "Compute cluster; adds a mandatory DRS anti-affinity rule keeping the nodes on separate hosts (needs DRS).",
            example="compute-01",
        ),
    ] = None
    folder: Annotated[
        Text | None, Key("VM folder path, relative to the datacenter's VM folder.", example="gateways/prod")
    ] = None
    resource_pool: Annotated[
        Text | None,
        Key(
            "Resource pool path; default: the cluster's (or the host's) root pool.",
            example="compute-01/Resources/gateways",
        ),
    ] = None


DeployMode = Literal["library", "ovf"]
Firmware = Literal["bios", "efi"]

#: The VM hardware the vSphere provider sets after every deploy and clone from its own inputs, whatever the OVA
#: says (terraform-provider-vsphere: `firmware` defaults to bios, `scsi_type` to pvscsi, a NIC's `adapter_type`
#: to vmxnet3; docs/upstream-facts.md). The program pins each to ``ova.firmware``/``ova.scsiType``/
#: ``ova.nicType``; these are the defaults, which are the provider's own: the vendor's OVA descriptor is not
#: public, so `gatewayctl preflight` (check ``ova.hardware``) reads it and fails when a value differs.
FIRMWARE_TYPES: tuple[str, ...] = ("bios", "efi")
#: The SCSI controller types the provider accepts (virtualdevice.SCSIBusTypeAllowedValues).
SCSI_TYPES: tuple[str, ...] = ("pvscsi", "lsilogic", "lsilogic-sas")
#: The NIC types the provider accepts for a plain port group NIC (its allowed values less `sriov`, which needs
#: a physical function the program does not configure).
NIC_TYPES: tuple[str, ...] = ("vmxnet3", "e1000e", "e1000", "vmxnet3vrdma")
DEFAULT_FIRMWARE: Firmware = "bios"
DEFAULT_SCSI_TYPE = "pvscsi"
DEFAULT_NIC_TYPE = "vmxnet3"

#: The OVA's vApp property keys for each field the program fills in, unless ``ova.properties`` says otherwise.
DEFAULT_OVA_PROPERTIES: Mapping[str, str] = {
    "hostname": "guestinfo.hostname",
    "ip": "guestinfo.ipaddress",
    "netmask": "guestinfo.netmask",
    "gateway": "guestinfo.gateway",
    "dns": "guestinfo.dns",
}


@with_config(ConfigDict(extra="forbid"))
class OvaProperties(TypedDict, total=False):
    """`ova.properties`: the program's fields to the OVA's vApp property keys; each unset one keeps its default."""

    hostname: Annotated[Text, Key("The vApp property that takes the node's hostname.")]
    ip: Annotated[Text, Key("The vApp property that takes the node's IP address.")]
    netmask: Annotated[Text, Key("The vApp property that takes the subnet's netmask.")]
    gateway: Annotated[Text, Key("The vApp property that takes the default gateway.")]
    dns: Annotated[Text, Key("The vApp property that takes the DNS servers (comma-separated).")]


def _with_default_properties(given: Mapping[str, str]) -> Mapping[str, str]:
    return {**DEFAULT_OVA_PROPERTIES, **given}


def _deploy(raw: Any) -> str:
    if raw not in ("library", "ovf"):
        raise KindError("must be 'library' (one content library item for all nodes) or 'ovf'.")
    return str(raw)


@with_config(KEYS)
@dataclass(frozen=True)
class OvaImage:
    """One image of the vendor's gateway appliance: its version and where it comes from."""

    version: Annotated[
        Text, Key("The image version, shown in names and annotations (quote it: 17.10 is text).", example="17.0.0")
    ]
    url: Annotated[
        OvaUrl | None,
        Key(
            "An http(s) URL of the OVA, ending in .ova or .ovf (lowercase, no query string: the vSphere provider "
            "tells OVA from OVF by the ending). The machine that runs `pulumi up` downloads it (the provider "
            "pushes it to vCenter; only a bare .ovf URL is pulled by vCenter itself), so that machine must reach "
            "it: `gatewayctl preflight` checks it (ova.source).",
            example="https://downloads.example.com/gateway-17.0.0.ova",
        ),
    ] = None
    path: Annotated[
        OvaPath | None,
        Key(
            "A local .ova/.ovf file on the machine that runs `pulumi`, instead of url.",
            example="/srv/images/gateway-17.0.0.ova",
        ),
    ] = None

    @property
    def source(self) -> str:
        """The URL or path, whichever is set."""
        return self.url or self.path or ""


@with_config(KEYS)
@dataclass(frozen=True)
class OvaSettings(OvaImage):
    """The vendor's gateway appliance image that new and rebuilt nodes are made from, and how."""

    deploy: Annotated[
        DeployMode,
        Kind("one of", _deploy, {"enum": ["library", "ovf"]}, ("library", "ovf")),
        Key(
            "`library`: the OVA goes once into a vCenter content library and every node is cloned from that "
            "item; `ovf`: each VM is deployed from the OVA (downloaded once per node)."
        ),
    ] = "library"
    properties: Annotated[
        Mapping[str, str],
        Shape(OvaProperties),
        AfterValidator(_with_default_properties),
        Key("The program's fields to the OVA's vApp property keys (only keys the OVA defines can be set)."),
    ] = field(default_factory=lambda: dict(DEFAULT_OVA_PROPERTIES))
    ovf_network: Annotated[Text, Key("The OVF's network name, mapped onto vsphere.network.")] = "VM Network"
    firmware: Annotated[
        Firmware,
        choice(FIRMWARE_TYPES, DEFAULT_FIRMWARE, "the firmware in the OVA's descriptor"),
        Key(
            "The OVA's firmware: after a deploy or clone the provider reconfigures the VM from its own inputs "
            "and would set bios whatever the OVA says, so an EFI appliance would not boot."
        ),
    ] = DEFAULT_FIRMWARE
    scsi_type: Annotated[
        str,
        choice(SCSI_TYPES, DEFAULT_SCSI_TYPE, "the SCSI controller type in the OVA's descriptor"),
        Key("The OVA's SCSI controller type: the provider would otherwise convert the controllers to pvscsi."),
    ] = DEFAULT_SCSI_TYPE
    nic_type: Annotated[
        str,
        choice(NIC_TYPES, DEFAULT_NIC_TYPE, "the NIC type in the OVA's descriptor"),
        Key("The OVA's NIC type: the provider replaces the OVA's NIC with one of this type."),
    ] = DEFAULT_NIC_TYPE

    retain: Annotated[
        tuple[OvaImage, ...],
        Key(
            "Older images that nodes still run (during a rolling upgrade). In library mode each keeps its content "
            "library item: a node not yet rebuilt was cloned from it, and the provider checks a VM's clone source "
            "whenever it re-creates one. Remove an entry once no node runs it (`nodes[i].image` in the stack's "
            "outputs; the policy retained-images-in-use says so), and its item is deleted.",
            example=[{"version": "16.4.0", "url": "https://downloads.example.com/gw-16.4.0.ova"}],
        ),
    ] = ()

    @property
    def images(self) -> tuple[tuple[str, str], ...]:
        """``(version, source)`` of every image: the current one first, then the retained ones."""
        return ((self.version, self.source), *((r.version, r.source) for r in self.retain))


#: Exactly one of ``url`` and ``path`` (a null stands for an unset key, as it does for the parser).
_ONE_SOURCE = [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in ("url", "path")]


def _one_source(where: str, image: Any) -> Iterator[Problem]:
    if not isinstance(image, Mapping):
        return
    has_url, has_path = image.get("url") is not None, image.get("path") is not None
    if has_url == has_path:
        yield (
            where,
            {"url": image.get("url"), "path": image.get("path")} if has_url else None,
            f"set exactly one of {where}.url (an https URL) or {where}.path (a local .ova file), not "
            + ("both." if has_url else "neither."),
        )


@rule(after="ova", schema={"oneOf": _ONE_SOURCE, "properties": {"retain": {"items": {"oneOf": _ONE_SOURCE}}}})
def one_ova_source(given: RuleInput) -> Iterator[Problem]:
    """`ova` sets exactly one of `ova.url` and `ova.path`, and so does each `ova.retain` entry."""
    ova = given.raw.get("ova")
    if not isinstance(ova, Mapping):
        return
    yield from _one_source("ova", ova)
    retain = ova.get("retain")
    if isinstance(retain, list):
        for i, image in enumerate(retain):
            yield from _one_source(f"ova.retain[{i}]", image)


@rule(after="ova")
def distinct_images(given: RuleInput) -> Iterator[Problem]:
    """`ova` and the `ova.retain` entries all have their own version and their own source: a version names one
    image (in `nodes[i].image` and in its library item), and a source holds one image."""
    ova: OvaSettings | None = given.parsed.get("ova")
    if ova is None or not ova.retain:
        return
    versions: dict[str, str] = {ova.version: "ova.version"}
    sources: dict[str, str] = {ova.source: "ova.url" if ova.url else "ova.path"}
    for i, image in enumerate(ova.retain):
        where = f"ova.retain[{i}]"
        if image.version in versions:
            yield (
                f"{where}.version",
                image.version,
                f"duplicates {full_key(versions[image.version])}; each image has its own version (an image being "
                "rolled out is `ova`, and leaves `ova.retain`).",
            )
        versions.setdefault(image.version, f"{where}.version")
        field_name = "url" if image.url else "path"
        if image.source in sources:
            yield (
                f"{where}.{field_name}",
                image.source,
                f"duplicates {full_key(sources[image.source])}: the same file cannot be two versions.",
            )
        sources.setdefault(image.source, f"{where}.{field_name}")
