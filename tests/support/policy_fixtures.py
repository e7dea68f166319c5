"""Synthetic resource sets for the policy tests: the cluster component's facts, VMs, releases, and how the
engine hands them to validators (through ``gatewayctl.harness.analyzer``'s marshalling and pulumi-policy's proxy)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from gatewayctl import harness
from gatewayctl.harness import analyzer
from policies import gateway_policies as gp
from policies.gateway_policies.facts import ClusterFacts

STACK = "test"
PROJECT = "gateway-cluster"

#: The GatewayCluster component's inputs for a healthy three-node cluster (the facts contract, as
#: ``components.cluster.cluster_facts`` builds it).
FACTS: ClusterFacts = {
    "network": {
        "cidr": "10.20.30.0/24",
        "gateway": "10.20.30.1",
        "dns": ["10.20.0.53"],
        "dhcpRanges": ["10.20.30.100-10.20.30.199"],
    },
    "floatingIp": "10.20.30.50",
    "metallbRange": "10.20.30.50-10.20.30.50",
    "primary": "gw-1",
    "rebuild": [],
    "nodes": [
        {"hostname": f"gw-{i}", "ip": f"10.20.30.4{i}", "esxiHost": f"esx-{i}.example.com", "sshHostKeyPinned": True}
        for i in (1, 2, 3)
    ],
    "nodeSize": {"cpus": 4, "memoryMb": 8192, "diskGb": 40},
    "storage": {"nfsServer": "nfs.example.com", "nfsPath": "/exports/gateway"},
    "ova": {"version": "17.0.0", "source": "https://downloads.example.com/gateway.ova", "deploy": "library"},
}


def changed(base: Mapping[str, Any], changes: Mapping[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with the value at each path replaced (or removed, for the ``DELETE`` marker)."""
    result: Any = copy.deepcopy(dict(base))
    for path, new in changes.items():
        target = result
        for step in path[:-1]:
            target = target[step]
        if new is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = new
    return dict(result)


DELETE = object()


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def record(
    type_: str,
    name: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    parent: harness.Resource | None = None,
    custom: bool = True,
    outputs: Mapping[str, Any] | None = None,
) -> harness.Resource:
    """A registered resource; a custom resource's outputs are its inputs unless given."""
    inputs = dict(inputs or {})
    return harness.Resource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        parent=parent.urn if parent else None,
        custom=custom,
        provider=None,
        dependencies=[],
        property_dependencies={},
        inputs=inputs,
        options={},
        id=f"id-{name}" if custom else "",
        state=dict(outputs if outputs is not None else inputs) if custom else {},
        component_outputs=dict(outputs) if (outputs is not None and not custom) else None,
    )


def vm_inputs(name: str, host: Any, cpus: Any = 4, memory: Any = 8192, disk: Any = 40) -> dict[str, Any]:
    inputs: dict[str, Any] = {"name": name, "numCpus": cpus, "memory": memory, "disks": [{"label": "disk0"}]}
    if disk is not DELETE:
        inputs["disks"][0]["size"] = disk
    if host is not DELETE:
        inputs["hostSystemId"] = host
    return inputs


def cluster_set(
    hosts: Sequence[Any],
    *,
    cluster: str = "gateway",
    storage_values: Any = DELETE,
    release_name: str = gp.STORAGE_RELEASE,
    release_outputs: Mapping[str, Any] | None = None,
) -> list[harness.Resource]:
    """A cluster component, one GatewayNode component and VM per host, and optionally the storage release
    (whose outputs are its inputs unless ``release_outputs`` says otherwise)."""
    comp = record(gp.CLUSTER, cluster, FACTS, custom=False, outputs={"managerUrl": "https://10.20.30.50:5480"})
    resources = [comp]
    for i, host in enumerate(hosts, start=1):
        node = record("gateway-cluster:index:GatewayNode", f"{cluster}-n{i}", custom=False, parent=comp)
        vm = record(gp.VM, f"{cluster}-n{i}-vm", vm_inputs(f"{cluster}-n{i}", host), parent=node)
        resources += [node, vm]
    if storage_values is not DELETE:
        inputs = {"name": release_name, "chart": release_name, "version": "1.0.0", "values": storage_values}
        resources.append(record(gp.RELEASE, f"{cluster}-storage", inputs, parent=comp, outputs=release_outputs))
    return resources


def run_of(resources: Sequence[harness.Resource]) -> harness.Run:
    return harness.Run(project=PROJECT, stack=STACK, resources=list(resources), outputs={}, invokes=[], log=[])


Report = tuple[str, str | None]


def check_resource(
    validate: Callable[[ResourceValidationArgs, Any], None],
    type_: str,
    inputs: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    """Runs a resource validator on ``inputs`` as the engine passes them; returns the messages it reported."""
    resource = record(type_, "subject", inputs)
    args = ResourceValidationArgs(
        type_,
        analyzer.policy_props(resource.inputs),
        resource.urn,
        resource.name,
        analyzer._options(resource),
        None,
        dict(config or {}),
    )
    messages: list[str] = []
    validate(args, lambda message, _urn=None: messages.append(message))
    return messages


def check_stack(
    validate: Callable[[StackValidationArgs, Any], None],
    resources: Sequence[harness.Resource],
    config: Mapping[str, Any] | None = None,
) -> list[Report]:
    """Runs a stack validator over ``resources`` (their outputs, linked as the engine links them)."""
    args = StackValidationArgs(analyzer.stack_resources(run_of(resources)), dict(config or {}))
    reports: list[Report] = []
    validate(args, lambda message, where=None: reports.append((message, where)))
    return reports


def unknown_output() -> dict[str, Any]:
    """An output value the engine does not know yet (wire form)."""
    return {harness.SIG_KEY: harness.OUTPUT_SIG}
