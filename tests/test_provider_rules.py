"""The vSphere resources the program registers pass the provider's own checks (tests/support/provider_rules.py).

Every committed stack and the variants operators use (both deploy modes, hardware pinned, one to seven nodes,
standalone hosts, a resource pool) are run under the harness and their vSphere inputs checked the way
terraform-provider-vsphere checks them; each check is shown to catch the mistake it exists for.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gatewayctl import harness
from tests.support import provider_rules as rules
from tests.support.stacks import run_stack, stack_raw

NS = "gateway-cluster"


def _variant(stack: str, change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    raw = stack_raw(stack)
    if change is not None:
        change(raw)
    return raw


def _nodes(count: int) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        raw[f"{NS}:nodes"] = [
            {"hostname": f"gw-{i}", "esxiHost": f"esx-{i:02d}.corp.example.com", "ip": f"10.20.30.{10 + i}"}
            for i in range(1, count + 1)
        ]

    return change


def _ova(**fields: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw[f"{NS}:ova"].update(fields)


def _local_path(raw: dict[str, Any]) -> None:
    ova = raw[f"{NS}:ova"]
    ova.pop("url")
    ova["path"] = "/srv/images/gateway-17.0.0.ova"


def _drop_cluster(raw: dict[str, Any]) -> None:
    raw[f"{NS}:vsphere"].pop("cluster")


def _pool(raw: dict[str, Any]) -> None:
    raw[f"{NS}:vsphere"]["resourcePool"] = "compute-01/Resources/gateways"


STACKS = [
    pytest.param("prod", None, id="prod"),
    pytest.param("dev", None, id="dev"),
    pytest.param("prod", _ova(deploy="ovf"), id="prod-ovf"),
    pytest.param("dev", _ova(deploy="library"), id="dev-library"),
    pytest.param("prod", _ova(firmware="efi", scsiType="lsilogic-sas", nicType="e1000e"), id="prod-pinned"),
    pytest.param("prod", _local_path, id="prod-local-path"),
    pytest.param("dev", _local_path, id="dev-local-path"),
    pytest.param("prod", _nodes(1), id="one-node"),
    pytest.param("prod", _nodes(7), id="seven-nodes"),
    pytest.param("prod", _drop_cluster, id="standalone-hosts"),
    pytest.param("prod", _pool, id="resource-pool"),
]


@pytest.mark.parametrize(("stack", "change"), STACKS)
def test_every_vsphere_resource_passes_the_providers_checks(stack: str, change: Any) -> None:
    run = run_stack(stack, raw=_variant(stack, change))
    checked = [r for r in run.resources if r.type in rules.CHECKS]
    assert any(r.type == rules.VM for r in checked)
    assert list(rules.errors(run)) == []


@pytest.fixture(scope="module")
def clone_vm() -> dict[str, Any]:
    inputs: dict[str, Any] = harness.reveal(run_stack("prod").by_type(rules.VM)[0].inputs)
    return inputs


@pytest.fixture(scope="module")
def ovf_vm() -> dict[str, Any]:
    inputs: dict[str, Any] = harness.reveal(run_stack("dev").by_type(rules.VM)[0].inputs)
    return inputs


def _without(*keys: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        for key in keys:
            inputs.pop(key, None)

    return change


def _with(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.update(values)


def _nic(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs["networkInterfaces"][0].update(values)


def _nic_without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs["networkInterfaces"][0].pop(key)


# (base VM, change, the check that must fire, the provider's message)
CAUGHT = [
    ("clone", _with(datacenterId="datacenter-1"), "vm_datacenter_only_for_ovf", "data center id is to be set only"),
    ("ovf", _without("datacenterId"), "vm_ovf_needs_datacenter", "data center ID is required for ovf deployment"),
    ("ovf", lambda i: i["ovfDeploy"].update(localOvfPath="/x.ova"), "vm_ovf_one_source", "please specify only one"),
    ("ovf", lambda i: i["ovfDeploy"].pop("remoteOvfUrl"), "vm_ovf_one_source", "both can't be empty"),
    ("ovf", _without("datastoreId"), "vm_ovf_needs_datastore", "data store ID is required for ovf deployment"),
    ("clone", _without("networkInterfaces"), "vm_network_interface_required", "network_interface parameter is"),
    ("clone", _with(ovfDeploy={"remoteOvfUrl": "https://h/x.ova"}), "vm_clone_or_ovf", "both are set"),
    ("clone", _without("clone"), "vm_clone_or_ovf", "neither is set"),
    ("clone", _without("name"), "vm_name", "expected length of name"),
    ("clone", _with(name="g" * 81), "vm_name", "expected length of name"),
    ("clone", _with(firmware="uefi"), "vm_enums", "expected firmware to be one of"),
    ("clone", _with(scsiType="buslogic"), "vm_enums", "expected scsi_type to be one of"),
    ("clone", _nic(adapterType="vmxnet2"), "vm_enums", "expected adapter_type to be one of"),
    ("clone", _without("disks"), "vm_disks", "there must be at least one disk specified"),
    ("clone", lambda i: i["disks"][0].pop("size"), "vm_disks", "required option not set"),
    ("clone", lambda i: i["disks"][0].update(unitNumber=1), "vm_disks", "at least one disk must have a unit_number"),
    ("clone", _without("firmware"), "vm_hardware_pinned", "firmware"),
    ("ovf", _without("scsiType"), "vm_hardware_pinned", "scsiType"),
    ("clone", _nic_without("adapterType"), "vm_hardware_pinned", "networkInterfaces[0].adapterType"),
]


@pytest.mark.parametrize(
    ("base", "change", "check", "message"), CAUGHT, ids=[f"{c[2]}-{i}" for i, c in enumerate(CAUGHT)]
)
def test_each_check_catches_its_mistake(
    clone_vm: dict[str, Any], ovf_vm: dict[str, Any], base: str, change: Any, check: str, message: str
) -> None:
    inputs = copy.deepcopy(clone_vm if base == "clone" else ovf_vm)
    fn = getattr(rules, check)
    assert fn(inputs) is None, "the program's own VM must pass before the change"
    change(inputs)
    result = fn(inputs)
    assert result is not None and message in result, result


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"name": "i", "fileUrl": "https://h/gateway.ova?sig=1"}, "ends in neither .ova nor .ovf"),
        ({"name": "i", "fileUrl": "https://h/gateway.OVA"}, "ends in neither .ova nor .ovf"),
        ({"name": "i", "fileUrl": "https://h/gateway.ova", "type": "iso"}, "type must be ovf"),
        ({"fileUrl": "https://h/gateway.ova"}, "name is not set"),
    ],
    ids=["query-string", "uppercase-ending", "iso-type", "auto-named"],
)
def test_library_item_checks(inputs: dict[str, Any], message: str) -> None:
    found = [m for check in rules.CHECKS[rules.ITEM] if (m := check(inputs)) is not None]
    assert any(message in m for m in found), found


def test_rule_checks() -> None:
    assert rules.rule_members({"computeClusterId": "domain-c1", "virtualMachineIds": ["a", "b"]}) is None
    assert "at least two" in (rules.rule_members({"computeClusterId": "c", "virtualMachineIds": ["a"]}) or "")
    assert "required" in (rules.rule_members({"virtualMachineIds": ["a", "b"]}) or "")
