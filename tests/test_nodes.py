"""The VM layer under the mock runtime: one VM per node on its ESXi host, sized, addressed, from one image."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import DEFAULT_OVA_PROPERTIES
from components.node import IMAGE_INPUTS, REFRESH_NOISE
from gatewayctl import harness
from tests.support.stacks import run_stack, stack_raw

NS = "gateway-cluster"
VM = "vsphere:index/virtualMachine:VirtualMachine"
ITEM = "vsphere:index/contentLibraryItem:ContentLibraryItem"
LIBRARY = "vsphere:index/contentLibrary:ContentLibrary"
RULE = "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule"


def scaled(count: int, *, deploy: str = "library", cluster: bool = True) -> dict[str, Any]:
    """The prod stack with ``count`` nodes, each on its own host."""
    raw = stack_raw("prod")
    raw[f"{NS}:nodes"] = [
        {"hostname": f"gw-{i}", "esxiHost": f"esx-{i:02d}.corp.example.com", "ip": f"10.20.30.{10 + i}"}
        for i in range(1, count + 1)
    ]
    raw[f"{NS}:ova"]["deploy"] = deploy
    if not cluster:
        raw[f"{NS}:vsphere"].pop("cluster")
    return raw


@pytest.fixture(scope="module")
def prod() -> harness.Run:
    return run_stack("prod")


def host_names(run: harness.Run) -> dict[str, str]:
    return {i.result["id"]: i.args["name"] for i in run.invokes if i.token.endswith("getHost:getHost")}


def test_one_vm_per_node_each_on_its_own_esxi_host(prod):
    vms = prod.by_type(VM)
    assert [vm.input("name") for vm in vms] == ["gw-prod-1", "gw-prod-2", "gw-prod-3"]
    hosts = host_names(prod)
    placed = {vm.input("name"): hosts[vm.input("hostSystemId")] for vm in vms}
    assert placed == {
        "gw-prod-1": "esx-01.corp.example.com",
        "gw-prod-2": "esx-02.corp.example.com",
        "gw-prod-3": "esx-03.corp.example.com",
    }
    for vm in vms:
        parent = prod.by_urn(vm.parent or "")
        assert parent.type == "gateway-cluster:index:GatewayNode", vm.urn
        assert vm.name == f"{parent.name}-vm", vm.urn


def test_vms_are_sized_from_node_size(prod):
    for vm in prod.by_type(VM):
        assert vm.input("numCpus") == 4, vm.urn
        assert vm.input("memory") == 8192, vm.urn
        assert vm.input("disks", 0, "size") == 40, vm.urn


def test_hostname_and_static_address_reach_each_vm_as_vapp_properties(prod):
    p = DEFAULT_OVA_PROPERTIES
    for vm, ip in zip(prod.by_type(VM), ["10.20.30.41", "10.20.30.42", "10.20.30.43"], strict=True):
        props = vm.input("vapp", "properties")
        assert props[p["hostname"]] == vm.input("name"), vm.urn
        assert props[p["ip"]] == ip, vm.urn
        assert props[p["netmask"]] == "255.255.255.0", vm.urn
        assert props[p["gateway"]] == "10.20.30.1", vm.urn
        assert props[p["dns"]] == "10.20.0.53,10.20.0.54", vm.urn


def test_ova_property_keys_follow_config():
    raw = stack_raw("prod")
    raw[f"{NS}:ova"]["properties"] = {"ip": "vami.ip0.Gateway", "hostname": "vami.hostname"}
    run = run_stack(raw=raw)
    props = run.by_type(VM)[0].input("vapp", "properties")
    assert props["vami.ip0.Gateway"] == "10.20.30.41" and props["vami.hostname"] == "gw-prod-1"
    assert DEFAULT_OVA_PROPERTIES["ip"] not in props


@pytest.mark.parametrize("count", [1, 3, 7], ids=["one-node", "three-nodes", "seven-nodes"])
def test_library_mode_fetches_the_ova_exactly_once(count):
    run = run_stack(raw=scaled(count))
    fetches = [r for r in run.resources if "fileUrl" in r.inputs or "ovfDeploy" in r.inputs]
    assert [r.type for r in fetches] == [ITEM]
    assert fetches[0].input("fileUrl") == "https://downloads.example.com/opsramp/gateway-17.0.0.ova"
    item = fetches[0]
    vms = run.by_type(VM)
    assert len(vms) == count and len(run.by_type(LIBRARY)) == 1
    for vm in vms:
        assert vm.input("clone", "templateUuid") == item.id, vm.urn
        assert run.waits_for(vm, item), vm.urn


def test_ovf_mode_deploys_each_vm_from_the_ova():
    run = run_stack("dev")
    assert run.by_type(ITEM) == [] and run.by_type(LIBRARY) == []
    (vm,) = run.by_type(VM)
    deploy = vm.input("ovfDeploy")
    assert deploy["remoteOvfUrl"] == "https://downloads.example.com/opsramp/gateway-17.0.0.ova"
    assert set(deploy["ovfNetworkMap"]) == {"VM Network"}
    assert "clone" not in vm.inputs


@pytest.mark.parametrize("stack", ["prod", "dev"], ids=["library-mode", "ovf-mode"])
def test_nic_is_mapped_from_the_ovf_network(stack):
    """In library mode vCenter maps OVF networks from each NIC's ovfMapping (not from any ovf_network_map)."""
    raw = stack_raw(stack)
    raw[f"{NS}:ova"]["ovfNetwork"] = "Appliance Network"
    run = run_stack(stack, raw=raw)
    for vm in run.by_type(VM):
        (nic,) = vm.input("networkInterfaces")
        assert nic["ovfMapping"] == "Appliance Network", vm.urn
        assert nic["networkId"].startswith("network-"), vm.urn


def test_library_item_is_renamed_whenever_its_source_changes():
    """A new source replaces the item create-before-delete; vCenter refuses two items of one name in a library."""
    first = run_stack(raw=scaled(1)).by_type(ITEM)[0].input("name")
    raw = scaled(1)
    raw[f"{NS}:ova"]["url"] = "https://mirror.example.com/opsramp/gateway-17.0.0.ova"
    moved = run_stack(raw=raw).by_type(ITEM)[0].input("name")
    assert first.startswith("gateway-17.0.0-") and moved.startswith("gateway-17.0.0-")
    assert first != moved


def _without_ignored(run: harness.Run) -> list[dict[str, Any]]:
    """Each VM's inputs less those its ignoreChanges names: what the engine would diff on an existing VM."""
    out = []
    for vm in run.by_type(VM):
        inputs = copy.deepcopy(harness.reveal(vm.inputs))
        for key in vm.options.get("ignoreChanges", []):
            # A property path such as networkInterfaces[*].ovfMapping: that field of every element.
            head, _, field = key.partition("[*].")
            if field:
                for element in inputs.get(head, []):
                    element.pop(field, None)
            else:
                inputs.pop(key, None)
        out.append(inputs)
    return out


def test_image_inputs_are_one_list_owned_by_the_node(prod):
    for vm in prod.by_type(VM):
        assert vm.options.get("ignoreChanges") == [*IMAGE_INPUTS, *REFRESH_NOISE], vm.urn
        assert "replaceOnChanges" not in vm.options, vm.urn


NEW_IMAGE = {
    "url": "https://downloads.example.com/opsramp/gateway-18.0.0.ova",
    "version": "18.0.0",
    # A new image may name its network differently; the provider replaces a VM whose ovfMapping changes.
    "ovfNetwork": "Gateway Network",
    "properties": {"hostname": "vami.hostname"},
    # ... and come with other hardware, which the provider would apply in place with the VM powered off.
    "firmware": "efi",
    "scsiType": "lsilogic-sas",
    "nicType": "e1000e",
}


@pytest.mark.parametrize("deploy", ["library", "ovf"], ids=["new-image-same-mode", "new-image-library-to-ovf"])
def test_nodes_keep_their_image_when_the_ova_changes(prod, deploy: str):
    """A new OVA, its hardware and even a switch of deploy mode change no existing VM: every input they touch
    is one of the image inputs, ignored on existing VMs (a switch to ovf adds datacenterId, which the provider
    would reject on a cloned VM)."""
    raw = stack_raw("prod")
    raw[f"{NS}:ova"] = {**NEW_IMAGE, "deploy": deploy}
    upgraded = run_stack(raw=raw)
    before = {vm.input("name"): harness.reveal(vm.inputs) for vm in prod.by_type(VM)}
    after = {vm.input("name"): harness.reveal(vm.inputs) for vm in upgraded.by_type(VM)}
    changed = {
        key
        for name in before
        for key in set(before[name]) | set(after[name])
        if before[name].get(key) != after[name].get(key)
    }
    # The change must actually touch the VMs' inputs, or this test proves nothing.
    assert {"vapp", "firmware", "scsiType"} <= changed
    assert changed <= {*IMAGE_INPUTS, "networkInterfaces"}
    # Only ignored inputs differ, so the engine would see no change on any VM.
    assert _without_ignored(upgraded) == _without_ignored(prod)


def _rebuilding(hostname: str, *, deploy: str = "library") -> harness.Run:
    """The prod stack with a new OVA, rebuilding ``hostname`` from it."""
    raw = stack_raw("prod")
    raw[f"{NS}:ova"] = {**NEW_IMAGE, "deploy": deploy}
    raw[f"{NS}:rebuild"] = [hostname]
    return run_stack(raw=raw)


def test_a_rebuilt_vm_takes_the_image_inputs_and_goes_first():
    """Only REFRESH_NOISE is ignored on a rebuilt VM, so its new clone/ovfDeploy replaces it; it is deleted
    before its replacement is created, which takes the same name and IP."""
    run = _rebuilding("gw-prod-2")
    options = {vm.input("name"): vm.options for vm in run.by_type(VM)}
    assert options["gw-prod-2"].get("ignoreChanges") == [*REFRESH_NOISE]
    assert options["gw-prod-2"].get("deleteBeforeReplace") is True
    for kept in ("gw-prod-1", "gw-prod-3"):
        assert options[kept].get("ignoreChanges") == [*IMAGE_INPUTS, *REFRESH_NOISE], kept
        assert not options[kept].get("deleteBeforeReplace"), kept


@pytest.mark.parametrize("deploy", ["library", "ovf"], ids=["new-image-same-mode", "new-image-library-to-ovf"])
def test_a_rebuild_changes_only_the_rebuilt_vm(prod, deploy: str):
    """With a new OVA and a `rebuild`, the VMs not in it still keep their image (the engine sees no change on
    them); the rebuilt one has a changed, no longer ignored image input, which the provider replaces."""
    run = _rebuilding("gw-prod-3", deploy=deploy)
    before = dict(zip((vm.input("name") for vm in prod.by_type(VM)), _without_ignored(prod), strict=True))
    after = dict(zip((vm.input("name") for vm in run.by_type(VM)), _without_ignored(run), strict=True))
    assert after["gw-prod-1"] == before["gw-prod-1"] and after["gw-prod-2"] == before["gw-prod-2"]
    rebuilt = harness.reveal(run.by_type(VM)[2].inputs)
    assert rebuilt["name"] == "gw-prod-3"
    assert rebuilt["vapp"]["properties"]["vami.hostname"] == "gw-prod-3", "fresh vApp values from the new image"
    assert after["gw-prod-3"] != before["gw-prod-3"]
    image = "clone" if deploy == "library" else "ovfDeploy"
    assert image in rebuilt and after["gw-prod-3"][image] == rebuilt[image]


def test_rebuilding_a_single_node_stack_rebuilds_its_only_vm():
    raw = scaled(1)
    raw[f"{NS}:rebuild"] = ["gw-1"]
    [vm] = run_stack(raw=raw).by_type(VM)
    assert vm.options.get("ignoreChanges") == [*REFRESH_NOISE] and vm.options.get("deleteBeforeReplace") is True


@pytest.mark.parametrize(
    ("stack", "datacenter"),
    [("prod", False), ("dev", True)],
    ids=["library-clone-never-sets-it", "ovf-deploy-sets-it"],
)
def test_datacenter_id_only_on_ovf_deploys(stack: str, datacenter: bool):
    """The provider fails an OVF deploy without datacenter_id only after importing the VM (leaving it behind),
    and its CustomizeDiff refuses the key on any other deploy (docs/upstream-facts.md)."""
    run = run_stack(stack)
    dc_id = next(i.result["id"] for i in run.invokes if i.token.endswith("getDatacenter:getDatacenter"))
    for vm in run.by_type(VM):
        if datacenter:
            assert "ovfDeploy" in vm.inputs and vm.input("datacenterId") == dc_id, vm.urn
        else:
            assert "clone" in vm.inputs and "datacenterId" not in vm.inputs, vm.urn


@pytest.mark.parametrize("stack", ["prod", "dev"], ids=["library-mode", "ovf-mode"])
@pytest.mark.parametrize(
    "hardware",
    [{}, {"firmware": "efi", "scsiType": "lsilogic", "nicType": "e1000"}],
    ids=["defaults", "pinned"],
)
def test_vm_hardware_is_pinned_to_the_ova(stack: str, hardware: dict[str, str]):
    """The provider reconfigures every deployed or cloned VM from its own inputs; unset, they are its defaults
    (bios, pvscsi, vmxnet3), so the program always sets all three from config."""
    raw = stack_raw(stack)
    raw[f"{NS}:ova"].update(hardware)
    want = {"firmware": "bios", "scsiType": "pvscsi", "nicType": "vmxnet3", **hardware}
    for vm in run_stack(stack, raw=raw).by_type(VM):
        assert vm.input("firmware") == want["firmware"], vm.urn
        assert vm.input("scsiType") == want["scsiType"], vm.urn
        (nic,) = vm.input("networkInterfaces")
        assert nic["adapterType"] == want["nicType"], vm.urn


def test_anti_affinity_rule_keeps_cluster_nodes_apart(prod):
    (rule,) = prod.by_type(RULE)
    assert sorted(rule.input("virtualMachineIds")) == sorted(vm.id for vm in prod.by_type(VM))
    assert rule.input("mandatory") is True
    assert rule.input("computeClusterId").startswith("domain-c")


@pytest.mark.parametrize(("count", "cluster"), [(1, True), (3, False)], ids=["single-node", "standalone-hosts"])
def test_no_anti_affinity_rule_without_a_cluster_or_a_second_node(count, cluster):
    run = run_stack(raw=scaled(count, cluster=cluster))
    assert run.by_type(RULE) == []


def test_resource_pool_from_cluster_host_or_config():
    clustered = run_stack("prod")
    pool = next(i.result["resourcePoolId"] for i in clustered.invokes if i.token.endswith("getComputeCluster"))
    assert {vm.input("resourcePoolId") for vm in clustered.by_type(VM)} == {pool}

    standalone = run_stack("dev")
    host_pool = next(i.result["resourcePoolId"] for i in standalone.invokes if i.token.endswith("getHost"))
    assert standalone.by_type(VM)[0].input("resourcePoolId") == host_pool

    raw = stack_raw("prod")
    raw[f"{NS}:vsphere"]["resourcePool"] = "compute-01/Resources/gateways"
    configured = run_stack(raw=raw)
    pool_id = next(i.result["id"] for i in configured.invokes if i.token.endswith("getResourcePool"))
    assert {vm.input("resourcePoolId") for vm in configured.by_type(VM)} == {pool_id}


def test_vm_annotation_names_project_and_stack_and_folder_is_set(prod):
    for vm in prod.by_type(VM):
        assert "project gateway-cluster, stack prod" in vm.input("annotation"), vm.urn
        assert vm.input("folder") == "gateways/prod", vm.urn


def test_node_outputs_and_stack_export_in_config_order(prod):
    nodes = harness.reveal(prod.outputs["nodes"])
    assert [n["hostname"] for n in nodes] == ["gw-prod-1", "gw-prod-2", "gw-prod-3"]
    vm_ids = {vm.input("name"): vm.id for vm in prod.by_type(VM)}
    for n in nodes:
        assert set(n) == {"hostname", "ip", "esxiHost", "vmId", "image"}
        assert n["image"] == "17.0.0", "made from prod's ova"
        assert n["vmId"] == vm_ids[n["hostname"]]
    assert nodes[1]["esxiHost"] == "esx-02.corp.example.com" and nodes[1]["ip"] == "10.20.30.42"
    assert harness.reveal(prod.outputs["managerUrl"]) == "https://10.20.30.50:5480"
    node = prod.named("gw-prod-2")
    assert harness.reveal(node.component_outputs)["esxiHost"] == "esx-02.corp.example.com"
