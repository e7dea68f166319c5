"""The vSphere provider's own checks on the inputs of the resources the program registers, without the provider.

The real provider's code cannot run here (its Go module is not served here; docs/upstream-facts.md), so this
module restates, check by check, what terraform-provider-vsphere (the code pulumi-vsphere 4.18.2 bridges; read
at b45b5b41) does with a resource's inputs before and right after it talks to vCenter: schema validation
(ValidateFunc, ExactlyOneOf), CustomizeDiff, and the create-time checks that fail only after the VM exists. Each
check cites its source; the messages are the provider's own. Inputs are in wire form (camelCase, lists plural),
as the harness records them: pulumi-vsphere maps them one to one (no field overrides for these resources).

A check returns the provider's error text, or ``None`` when the provider would accept the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gatewayctl import harness

VM = "vsphere:index/virtualMachine:VirtualMachine"
ITEM = "vsphere:index/contentLibraryItem:ContentLibraryItem"
LIBRARY = "vsphere:index/contentLibrary:ContentLibrary"
RULE = "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule"

TPV = "vmware/terraform-provider-vsphere@b45b5b41"

#: virtualdevice.SCSIBusTypeAllowedValues (vsphere/internal/virtualdevice/virtual_machine_device_subresource.go:108)
SCSI_TYPES = ("pvscsi", "lsilogic", "lsilogic-sas")
#: networkInterfaceSubresourceTypeAllowedValues (virtual_machine_network_interface_subresource.go:46)
NIC_TYPES = ("e1000", "e1000e", "sriov", "vmxnet3", "vmxnet3vrdma")
#: GuestOsDescriptorFirmwareType values accepted by `firmware` (virtual_machine_config_structure.go:344)
FIRMWARE_TYPES = ("bios", "efi")

Inputs = Mapping[str, Any]
Check = Callable[[Inputs], "str | None"]


def _ovf(inputs: Inputs) -> Mapping[str, Any] | None:
    deploy = inputs.get("ovfDeploy")
    return deploy if isinstance(deploy, Mapping) else None


def vm_network_interface_required(inputs: Inputs) -> str | None:
    """resource_vsphere_virtual_machine.go:1005 (CustomizeDiff)."""
    if _ovf(inputs) is None and not inputs.get("networkInterfaces"):
        return "network_interface parameter is required when not deploying from ovf template"
    return None


def vm_datacenter_only_for_ovf(inputs: Inputs) -> str | None:
    """resource_vsphere_virtual_machine.go:1036 (CustomizeDiff)."""
    if _ovf(inputs) is None and inputs.get("datacenterId"):
        return "data center id is to be set only when deploying from ovf"
    return None


def vm_ovf_needs_datacenter(inputs: Inputs) -> str | None:
    """resource_vsphere_virtual_machine.go:1468-1471 (resourceVsphereMachineDeployOvfAndOva): checked only after
    the OVF was imported, so the VM is left in vCenter, untracked."""
    if _ovf(inputs) is not None and not inputs.get("datacenterId"):
        return "data center ID is required for ovf deployment"
    return None


def vm_ovf_one_source(inputs: Inputs) -> str | None:
    """resource_vsphere_virtual_machine.go:1039-1052 (CustomizeDiff)."""
    deploy = _ovf(inputs)
    if deploy is None:
        return None
    local, remote = deploy.get("localOvfPath") or "", deploy.get("remoteOvfUrl") or ""
    if not local and not remote:
        return "either local ovf/ova path or remote ovf/ova url is required, both can't be empty"
    if local and remote:
        return "both local ovf/ova path and remote ovf/ova url are provided, please specify only one source"
    return None


def vm_ovf_needs_datastore(inputs: Inputs) -> str | None:
    """internal/helper/ovfdeploy/ovf_helper.go:501 (NewOvfHelper)."""
    if _ovf(inputs) is not None and not inputs.get("datastoreId") and not inputs.get("datastoreClusterId"):
        return "data store ID is required for ovf deployment"
    return None


def vm_clone_or_ovf(inputs: Inputs) -> str | None:
    """resourceVSphereVirtualMachineCreate (resource_vsphere_virtual_machine.go:346-371) takes `clone` first and
    ignores `ovf_deploy` then; a VM from neither is a bare VM with no OS: for this program, both are mistakes."""
    has_clone, has_ovf = bool(inputs.get("clone")), _ovf(inputs) is not None
    if has_clone == has_ovf:
        return "exactly one of clone and ovf_deploy: " + ("both are set" if has_clone else "neither is set")
    return None


def vm_name(inputs: Inputs) -> str | None:
    """`name` is Required, 1-80 characters (resource_vsphere_virtual_machine.go schema); under Pulumi it is
    optional and auto-named `<logical name>-<random>` (provider/resources.go SetAutonaming): set it."""
    name = inputs.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 80:
        return f"expected length of name to be in the range (1 - 80), got {name!r}"
    return None


def vm_enums(inputs: Inputs) -> str | None:
    """The ValidateFuncs of firmware, scsi_type and network_interface.adapter_type."""
    if inputs.get("firmware", "bios") not in FIRMWARE_TYPES:
        return f"expected firmware to be one of {list(FIRMWARE_TYPES)}, got {inputs.get('firmware')}"
    if inputs.get("scsiType", "pvscsi") not in SCSI_TYPES:
        return f"expected scsi_type to be one of {list(SCSI_TYPES)}, got {inputs.get('scsiType')}"
    for nic in inputs.get("networkInterfaces") or []:
        if nic.get("adapterType", "vmxnet3") not in NIC_TYPES:
            return f"expected adapter_type to be one of {list(NIC_TYPES)}, got {nic.get('adapterType')}"
    return None


def vm_disks(inputs: Inputs) -> str | None:
    """virtualdevice.DiskDiffOperation (virtual_machine_disk_subresource.go:559), run for every VM but an OVF
    deploy: at least one disk, each with a label and a size, one of them on unit 0 (unit_number default 0)."""
    if _ovf(inputs) is not None:
        return None
    disks = inputs.get("disks") or []
    if not disks:
        return "there must be at least one disk specified"
    for disk in disks:
        label = disk.get("label")
        if not label:
            return "disk: label is required"
        if str(label).startswith("orphaned_disk_"):
            return f'disk label "{label}" cannot start with "orphaned_disk_"'
        if not disk.get("size"):
            return f'size for disk "{label}": required option not set'
    if not any(int(d.get("unitNumber", 0)) == 0 for d in disks):
        return "at least one disk must have a unit_number of 0 for SATA, SCSI, NVMe or 1 for IDE"
    return None


def vm_hardware_pinned(inputs: Inputs) -> str | None:
    """resourceVSphereVirtualMachinePostDeployChanges (resource_vsphere_virtual_machine.go:1614-1680) reconfigures
    a deployed or cloned VM from its own inputs, schema defaults included: an unset firmware becomes bios, an
    unset scsi_type converts the controllers to pvscsi (NormalizeBus), an unset adapter_type gives a vmxnet3 NIC.
    Not a provider error: the appliance's own hardware silently lost. The program must set all three."""
    missing = [k for k in ("firmware", "scsiType") if k not in inputs]
    missing += [
        f"networkInterfaces[{i}].adapterType"
        for i, nic in enumerate(inputs.get("networkInterfaces") or [])
        if "adapterType" not in nic
    ]
    return f"left to the provider's defaults, overwriting the OVA's: {', '.join(missing)}" if missing else None


def item_source(inputs: Inputs) -> str | None:
    """contentlibrary.CreateLibraryItem (content_library_helper.go:165) tells an OVA by the case-sensitive ending
    `.ova` of `file_url` (anything else that is not `.iso` is read as an OVF descriptor); `type` must be ovf."""
    url = inputs.get("fileUrl") or ""
    if not url.endswith((".ova", ".ovf")):
        return f"file_url {url!r} ends in neither .ova nor .ovf: the provider would read it as an OVF descriptor"
    if inputs.get("type", "ovf") != "ovf":
        return f"type must be ovf for an OVF/OVA item, not {inputs.get('type')!r}"
    return None


def named(inputs: Inputs) -> str | None:
    """Auto-naming (provider/resources.go SetAutonaming) would give a random suffix: vCenter names must be set."""
    return None if inputs.get("name") else "name is not set: Pulumi would auto-name it with a random suffix"


def rule_members(inputs: Inputs) -> str | None:
    """resource_vsphere_compute_cluster_vm_anti_affinity_rule.go: compute_cluster_id and virtual_machine_ids are
    Required; a rule of fewer than two VMs keeps nothing apart."""
    if not inputs.get("computeClusterId"):
        return "compute_cluster_id is required"
    if len(inputs.get("virtualMachineIds") or []) < 2:
        return "an anti-affinity rule needs at least two virtual machines"
    return None


CHECKS: Mapping[str, tuple[Check, ...]] = {
    VM: (
        vm_name,
        vm_clone_or_ovf,
        vm_network_interface_required,
        vm_datacenter_only_for_ovf,
        vm_ovf_needs_datacenter,
        vm_ovf_one_source,
        vm_ovf_needs_datastore,
        vm_enums,
        vm_disks,
        vm_hardware_pinned,
    ),
    ITEM: (named, item_source),
    LIBRARY: (named,),
    RULE: (named, rule_members),
}


def errors(run: harness.Run) -> Iterator[tuple[str, str, str]]:
    """``(urn, check, message)`` for every vSphere resource of ``run`` the provider would refuse or mangle."""
    for resource in run.resources:
        inputs = harness.reveal(resource.inputs)
        for check in CHECKS.get(resource.type, ()):
            message = check(inputs)
            if message is not None:
                yield resource.urn, check.__name__, message
