"""GatewayNode: one gateway VM from the vendor's OVA, on one ESXi host, with a static address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_vsphere as vsphere

from components.config import NetworkSettings, NodeSettings, NodeSize, OvaSettings


@dataclass(frozen=True)
class OvaSource:
    """Where a node's image comes from: a content library item (library mode) or the OVA itself (ovf mode)."""

    ova: OvaSettings
    """The image settings (source, vApp property keys, OVF network name)."""
    library_item_id: pulumi.Input[str] | None = None
    """The content library item to clone from; ``None`` deploys each VM from the OVA directly."""
    library_item_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Every image's library item by version (the current one and ``ova.retain``'s), to tell which one a VM
    was cloned from; empty in ovf mode."""


@dataclass(frozen=True)
class GatewayNodeArgs:
    """Everything one node needs; the vSphere IDs come from the cluster's look-ups."""

    node: NodeSettings
    """Hostname, ESXi host and IP of this node."""
    network: NetworkSettings
    """The subnet: netmask, gateway and DNS servers for the static address."""
    size: NodeSize
    """vCPUs, memory and disk size."""
    image: OvaSource
    """The OVA or the library item to build the VM from."""
    datacenter_id: pulumi.Input[str]
    """Managed object ID of the datacenter (used to find the ESXi host)."""
    datastore_id: pulumi.Input[str]
    """Managed object ID of the datastore for the VM's disks."""
    network_id: pulumi.Input[str]
    """Managed object ID of the port group for the primary NIC."""
    resource_pool_id: pulumi.Input[str] | None
    """Resource pool; ``None``: the host's own root pool (a standalone host, no cluster)."""
    folder: str | None
    """VM folder path, or ``None`` for the datacenter's root VM folder."""
    annotation: str
    """The VM's notes in vCenter: which project and stack manage it."""
    rebuilt: bool = False
    """Whether this update rebuilds the node from the current image (its hostname is in ``rebuild``)."""


#: The VM inputs that belong to the image: what the node was deployed or cloned from and the hardware that came
#: with it. They are ignored on existing VMs, so that a new `ova` (or a new hardware pin) in config changes no
#: running node: the provider applies `firmware`, `scsiType` and `datacenterId` as in-place updates that power
#: the VM off, and would do so on every node in one `pulumi up`, taking the whole cluster down; `clone`,
#: `ovfDeploy` and a NIC's `ovfMapping` would replace every VM at once; a library -> ovf switch would add
#: `datacenterId` to cloned VMs, which the provider rejects. Only a deliberate rebuild of one node (`rebuild`,
#: :func:`vm_options`) applies them.
IMAGE_INPUTS: tuple[str, ...] = (
    "clone",
    "ovfDeploy",
    "networkInterfaces[*].ovfMapping",
    "networkInterfaces[*].adapterType",
    # vApp properties are read by the appliance once, at first boot, so changing them later cannot re-address
    # a running node; and the provider reports a perpetual diff on them (terraform-provider-vsphere #1617).
    "vapp",
    "datacenterId",
    # The notes name the image version the VM was made from (components/annotation.py node_annotation).
    "annotation",
    "firmware",
    "scsiType",
    "scsiControllerCount",
)
#: Reported as changed on every refresh for OVF-deployed VMs (pulumi-vsphere #472): ignored on every VM,
#: rebuilt or not.
REFRESH_NOISE: tuple[str, ...] = ("eptRviMode", "hvMode")


def vm_options(rebuilt: bool, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """The VM's options, the one place that decides whether its image inputs apply.

    A kept VM ignores the image inputs, so a new `ova` changes nothing on it. A rebuilt VM (in `rebuild`)
    ignores only the refresh noise: its changed `clone`/`ovfDeploy` makes the provider replace it, with the
    current image and fresh vApp values. It is replaced delete-before-replace because the new VM takes the
    same name (vCenter refuses two VMs of one name in a folder) and the same IP.
    """
    if rebuilt:
        return pulumi.ResourceOptions(parent=parent, ignore_changes=[*REFRESH_NOISE], delete_before_replace=True)
    return pulumi.ResourceOptions(parent=parent, ignore_changes=[*IMAGE_INPUTS, *REFRESH_NOISE])


def vapp_properties(node: NodeSettings, network: NetworkSettings, keys: Mapping[str, str]) -> dict[str, str]:
    """The OVA's vApp properties that give the node its hostname and static address at first boot."""
    values = {
        "hostname": node.hostname,
        "ip": str(node.ip),
        "netmask": network.netmask,
        "gateway": str(network.gateway),
        "dns": ",".join(str(d) for d in network.dns),
    }
    return {keys[field]: value for field, value in values.items()}


def image_version(source: str | None, versions_by_source: Mapping[str, str]) -> str | None:
    """The version of the image a VM was made from: the one whose source (its library item's ID, or its OVA's
    URL or path) is the VM's, or ``None`` when no image in config has it (an image dropped from ``ova.retain``
    while nodes still ran it, or an unknown value)."""
    return versions_by_source.get(source) if source else None


def _field(value: Any, name: str) -> str | None:
    """A nested output's field: the SDK hands nested outputs to ``apply`` as dicts with snake_case keys (or as
    its output types, which read the same way by attribute)."""
    if value is None:
        return None
    found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
    return found if isinstance(found, str) else None


class GatewayNode(pulumi.ComponentResource):
    """A gateway VM pinned to its ESXi host, sized and addressed from config."""

    hostname: pulumi.Output[str]
    ip: pulumi.Output[str]
    esxi_host: pulumi.Output[str]
    esxi_host_id: pulumi.Output[str]
    vm_id: pulumi.Output[str]
    image: pulumi.Output[str | None]
    """The version of the image the VM runs, read from what it was made from (on an existing VM, its state: the
    image inputs are ignored there), or ``None`` when that image is no longer in `ova` or `ova.retain`."""

    def __init__(self, name: str, args: GatewayNodeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:GatewayNode", name, None, opts)
        node = args.node

        # The output form of the invoke: under a program with many pending registrations it does not block
        # the event loop, and the VM simply waits for it.
        host = vsphere.get_host_output(
            name=node.esxi_host,
            datacenter_id=args.datacenter_id,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        ova = args.image.ova
        if args.image.library_item_id is not None:
            clone = vsphere.VirtualMachineCloneArgs(template_uuid=args.image.library_item_id)
            ovf_deploy = None
        else:
            clone = None
            ovf_deploy = vsphere.VirtualMachineOvfDeployArgs(
                remote_ovf_url=ova.url,
                local_ovf_path=ova.path,
                disk_provisioning="thin",
                ovf_network_map={ova.ovf_network: args.network_id},
            )

        vm = vsphere.VirtualMachine(
            f"{name}-vm",
            name=node.hostname,
            # The provider needs the datacenter for an OVF deploy, and checks it only after the import, so a
            # missing one leaves an untracked VM behind; its CustomizeDiff refuses it on any other deploy.
            datacenter_id=args.datacenter_id if ovf_deploy is not None else None,
            annotation=args.annotation,
            resource_pool_id=args.resource_pool_id if args.resource_pool_id is not None else host.resource_pool_id,
            host_system_id=host.id,
            datastore_id=args.datastore_id,
            folder=args.folder,
            num_cpus=args.size.cpus,
            memory=args.size.memory_mb,
            # After the deploy or clone the provider reconfigures the VM from its own inputs, whose defaults
            # (bios, pvscsi) would overwrite the OVA's hardware: an EFI appliance would no longer boot.
            firmware=ova.firmware,
            scsi_type=ova.scsi_type,
            # In library mode vCenter maps the OVF's networks from each NIC's `ovf_mapping` (the provider builds
            # the deploy's network mappings from it, not from `ovf_network_map`); without it the mapping has an
            # empty OVF network name. In ovf mode `ovf_deploy.ovf_network_map` does the same job.
            network_interfaces=[
                # The provider's post-clone network step replaces a NIC of another type (default vmxnet3),
                # with a new MAC: the OVA's own type keeps its NIC.
                vsphere.VirtualMachineNetworkInterfaceArgs(
                    network_id=args.network_id, ovf_mapping=ova.ovf_network, adapter_type=ova.nic_type
                )
            ],
            # The OVA's system disk, grown to the configured size (vSphere only grows disks, never shrinks).
            disks=[vsphere.VirtualMachineDiskArgs(label="disk0", size=args.size.disk_gb)],
            clone=clone,
            ovf_deploy=ovf_deploy,
            vapp=vsphere.VirtualMachineVappArgs(properties=vapp_properties(node, args.network, ova.properties)),
            # The appliance has no guest customization: its first-boot script applies the vApp properties.
            # Waiting for a routable guest IP means that script ran and the node can be reached over SSH.
            wait_for_guest_net_timeout=10,
            wait_for_guest_net_routable=True,
            opts=vm_options(args.rebuilt, parent=self),
        )

        self.hostname = pulumi.Output.from_input(node.hostname)
        self.ip = pulumi.Output.from_input(str(node.ip))
        self.esxi_host = pulumi.Output.from_input(node.esxi_host)
        self.esxi_host_id = host.id
        self.vm_id = vm.id
        self.vm = vm
        if args.image.library_item_id is not None:
            ids = pulumi.Output.all(**args.image.library_item_ids)
            self.image = pulumi.Output.all(vm.clone, ids).apply(
                lambda given: image_version(_field(given[0], "template_uuid"), {v: k for k, v in given[1].items()})
            )
        else:
            by_source = {source: version for version, source in ova.images}
            self.image = vm.ovf_deploy.apply(
                lambda deploy: image_version(
                    _field(deploy, "remote_ovf_url") or _field(deploy, "local_ovf_path"), by_source
                )
            )
        self.register_outputs(
            {
                "hostname": self.hostname,
                "ip": self.ip,
                "esxiHost": self.esxi_host,
                "esxiHostId": self.esxi_host_id,
                "vmId": self.vm_id,
                "image": self.image,
            }
        )
