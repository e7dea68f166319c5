"""The mock-run harness itself: ordering, secret handling, failures, inventory."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from typing import Any

import pulumi.runtime.resource
import pytest

from gatewayctl import harness
from gatewayctl.harness import runtime
from gatewayctl.harness.monitor import RecordingMonitor
from tests.support.stacks import PROJECT, SENTINELS, flat_config, run_stack, stack_raw

NS = "gateway-cluster"


def _resource(name: str, *, parent: str | None = None, deps: tuple[str, ...] = (), custom: bool = True):
    return harness.Resource(
        urn=f"urn:{name}",
        type="t:custom" if custom else "t:component",
        name=name,
        parent=parent,
        custom=custom,
        provider=None,
        dependencies=list(deps),
        property_dependencies={},
        inputs={},
        options={},
    )


def test_stable_order_is_a_tree_in_dependency_order_whatever_the_arrival_order():
    records = [
        _resource("cluster", custom=False),
        _resource("gw-10", parent="urn:cluster", custom=False),
        _resource("gw-2", parent="urn:cluster", custom=False),
        _resource("gw-10-vm", parent="urn:gw-10"),
        _resource("gw-2-vm", parent="urn:gw-2"),
        _resource("a-late-step", parent="urn:cluster", deps=("urn:gw-2-vm", "urn:gw-10-vm")),
        _resource("skipped", parent="urn:cluster", custom=False),
        _resource("z-free", parent="urn:cluster"),
    ]
    expected = ["cluster", "gw-2", "gw-2-vm", "gw-10", "gw-10-vm", "z-free", "a-late-step", "skipped"]
    rng = random.Random(7)
    for _ in range(20):
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert [r.name for r in harness.stable_order(shuffled)] == expected


def test_reveal_masks_secrets_in_place_and_renders_references_and_unknowns():
    wire = {
        "values": {"secrets": {"defaultPassword": harness.secret("pw")}, "port": 5480},
        "ref": {harness.SIG_KEY: harness.RESOURCE_REF_SIG, "urn": "urn:x", "id": "1"},
        "later": harness.UNKNOWN,
    }
    assert harness.reveal(wire) == {
        "values": {"secrets": {"defaultPassword": "[secret]"}, "port": 5480},
        "ref": "urn:x",
        "later": "[unknown]",
    }
    assert harness.reveal(wire, mask=None)["values"]["secrets"]["defaultPassword"] == "pw"


def test_engine_secret_rules_are_emulated():
    """A secret input gives a secret output; additional_secret_outputs make outputs secret."""
    run = run_stack("prod")
    steps = [r for r in run.by_type("command:remote:Command") if "stdin" in r.inputs]
    assert steps, "some remote step reads a secret from stdin"
    for r in steps:
        assert harness.is_secret(r.inputs["stdin"]), r.urn
        assert harness.is_secret(r.state["stdin"]), f"{r.urn}: a secret input must stay secret as an output"
        if "stdout" in r.options.get("additionalSecretOutputs", []):
            assert harness.is_secret(r.state["stdout"]), r.urn


def test_a_failed_run_leaves_nothing_that_breaks_the_next_one():
    missing = harness.DeclaredInventory(missing=frozenset({("host", "esx-02.corp.example.com")}))
    for _ in range(2):
        with pytest.raises(harness.InventoryError, match="esx-02"):
            run_stack("prod", inventory=missing)
    # The same process runs the program again, cleanly.
    run = run_stack("prod")
    assert len(run.by_type("vsphere:index/virtualMachine:VirtualMachine")) == 3


def test_monitor_calls_keep_their_threads_and_get_no_call_stacks(monkeypatch):
    """The SDK's mock monitor awaits with ``_sync_await``: answered on the program's own thread, whose loop is
    running, each call would pump that loop from inside itself, nesting registration in registration (a 40-node
    plan exceeded Python's recursion limit), so every call keeps the SDK's worker thread. No registration carries
    the program's call stack, which the SDK would read frame by frame, source lines and all (a tenth of each run);
    the SDK's own stack reader is back in place after the run, and the run leaves no logger behind."""
    answered_on: set[str] = set()
    stacks_sent: list[int] = []
    register = RecordingMonitor.RegisterResource

    def spy(self: RecordingMonitor, request: Any) -> object:
        answered_on.add(threading.current_thread().name)
        stacks_sent.append(len(request.stackTrace.frames) + request.HasField("sourcePosition"))
        return register(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    reader = pulumi.runtime.resource._get_stack_trace
    records: list[harness.Resource] = []  # a run recorded into a list is never a cached one
    run = harness.run_program(
        PROJECT, "dev", flat_config(stack_raw("dev")), secret_keys=sorted(SENTINELS), record_into=records
    )
    assert run.resources and answered_on and "pulumi-program" not in answered_on
    assert stacks_sent and set(stacks_sent) == {0}
    assert pulumi.runtime.resource._get_stack_trace is reader
    # The run's logger (and its messages) went with the run: none is left in logging's registry.
    assert run.log and not [n for n in logging.root.manager.loggerDict if n.startswith("gatewayctl.harness")]


def test_runs_without_call_stacks_record_the_same(monkeypatch):
    """With the SDK's call stacks, the prod stack's run records the same resources, inputs, outputs, dependencies
    and options, in the same order. (Dependencies are recorded sorted: the SDK sends them in the order of a Python
    set of resources, which changes from run to run.)"""

    def records(run: harness.Run) -> list[tuple[object, ...]]:
        return [
            (r.urn, r.parent, r.dependencies, r.property_dependencies, r.inputs, r.options, r.id, r.state)
            for r in run.resources
        ]

    def run_prod() -> harness.Run:
        config = flat_config(stack_raw("prod"))
        return harness.run_program(PROJECT, "prod", config, secret_keys=sorted(SENTINELS), record_into=[])

    fast = run_prod()
    monkeypatch.setattr(runtime, "_without_source_positions", contextlib.nullcontext)
    assert records(run_prod()) == records(fast)


def test_declared_inventory_ids_are_stable_and_distinct():
    inv = harness.DeclaredInventory()
    token = "vsphere:index/getHost:getHost"
    a = inv.invoke(token, {"name": "esx-01", "datacenterId": "datacenter-1"})
    assert a == inv.invoke(token, {"name": "esx-01", "datacenterId": "datacenter-1"})
    assert a["id"] != inv.invoke(token, {"name": "esx-02", "datacenterId": "datacenter-1"})["id"]
    assert a["id"].startswith("host-") and a["resourcePoolId"].startswith("resgroup-")
    with pytest.raises(harness.InventoryError, match="cannot answer"):
        inv.invoke("vsphere:index/getTag:getTag", {"name": "x"})


def test_relative_paths_resolve_from_the_project_folder(tmp_path, monkeypatch):
    """`pulumi` runs the program from its folder; so does the harness, wherever the caller stands."""
    monkeypatch.chdir(tmp_path)
    raw = stack_raw("prod")
    raw[f"{NS}:charts"] = {"storage": {"version": "1.0.0", "valuesFile": "Pulumi.yaml"}}
    run = run_stack(raw=raw)
    assert run.named("gateway-persistent-storage")


def test_urns_are_the_engines():
    """The engine's URN carries the parent's whole type chain and never the root stack's type (the SDK's mock
    keeps only the last parent type): plan URNs must be the ones `pulumi up --target/--replace` accepts."""
    run = run_stack("prod")
    vm = run.named("gw-prod-1-vm")
    assert vm.urn == (
        "urn:pulumi:prod::gateway-cluster::gateway-cluster:index:GatewayCluster$gateway-cluster:index:GatewayNode"
        "$vsphere:index/virtualMachine:VirtualMachine::gw-prod-1-vm"
    )
    assert run.named("gateway").urn == "urn:pulumi:prod::gateway-cluster::gateway-cluster:index:GatewayCluster::gateway"
    for r in run.resources:
        parent = run.by_urn(r.parent) if r.parent and r.parent != harness.stack_urn(run) else None
        expected = r.type if parent is None else f"{parent.urn.split('::')[2]}${r.type}"
        assert r.urn.split("::")[2] == expected, r.urn


def test_generations_give_a_replaced_resource_a_new_id_and_only_it():
    """A later run after the engine replaced a VM (a rebuild): that VM has a new ID and new outputs, every other
    resource keeps its own, and what the program builds from the ID (triggers, a token's keepers, the rule's
    members) changes with it; a password whose keepers changed is a new one."""
    vm = "vsphere:index/virtualMachine:VirtualMachine"
    before = run_stack("prod")
    after = run_stack("prod", generations={"gw-prod-2-vm": 1})
    old, new = before.named("gw-prod-2-vm"), after.named("gw-prod-2-vm")
    assert new.id != old.id and new.state["uuid"] != old.state["uuid"] and new.state["moid"] != old.state["moid"]
    assert new.inputs == old.inputs, "a replacement is the same resource as the program declares it"
    assert {r.name: r.id for r in after.by_type(vm) if r is not new} == {
        r.name: r.id for r in before.by_type(vm) if r is not old
    }
    changed = {r.name for r in after.resources if r.inputs != before.named(r.name).inputs}
    assert changed == {
        "gateway-anti-affinity",
        "gw-prod-2-join-token",
        "gw-prod-2-bootstrap",
        "gw-prod-2-hosts",
        "gw-prod-2-add-node",
        "gw-prod-2-join",
        "gateway-formation-health",
    }
    assert after.named("gw-prod-2-join").input("triggers") == [new.id]
    token = "gw-prod-2-join-token"
    assert after.named(token).state["result"] != before.named(token).state["result"]
    # Each generation is its own replacement, and the same generation gives the same ID again.
    second = run_stack("prod", generations={"gw-prod-2-vm": 2}).named("gw-prod-2-vm").id
    assert second not in {old.id, new.id}
    assert run_stack("prod", generations={"gw-prod-2-vm": 1}).named("gw-prod-2-vm").id == new.id
