"""``gatewayctl.harness.analyzer``: the pack evaluated over a run as the engine evaluates it (config merging,
which props each kind of policy sees, secrets, unknowns, enforcement levels, attribution)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from gatewayctl import harness
from gatewayctl.harness import analyzer
from gatewayctl.harness.analyzer import Pack, PolicyConfigError, reconcile_config
from policies import gateway_policies as gp
from tests.support.policy_fixtures import FACTS, changed, cluster_set, record, run_of, unknown_output, vm_inputs

# ----------------------------------------------------------------------------------------------- config

SCHEMA = PolicyConfigSchema(
    properties={
        "limit": {"type": "integer", "minimum": 1, "default": 4},
        "flag": {"type": "boolean", "default": True},
        "note": {"type": "string"},
    }
)


def _noop(args: Any, report: Any) -> None:
    return None


def make_pack(initial: Mapping[str, Any] | None = None) -> Pack:
    return Pack(
        name="test-pack",
        policies=[
            ResourceValidationPolicy(
                name="configured",
                description="d",
                validate=_noop,
                config_schema=SCHEMA,
                enforcement_level=EnforcementLevel.MANDATORY,
            ),
            ResourceValidationPolicy(name="plain", description="d", validate=_noop),
            StackValidationPolicy(
                name="stacked", description="d", validate=_noop, enforcement_level=EnforcementLevel.ADVISORY
            ),
        ],
        enforcement_level=EnforcementLevel.ADVISORY,
        initial_config=dict(initial or {}),
    )


CONFIG_CASES = [
    pytest.param(
        {},
        None,
        {
            "configured": ("mandatory", {"limit": 4, "flag": True}),
            "plain": ("advisory", {}),
            "stacked": ("advisory", {}),
        },
        id="schema-defaults-and-levels",
    ),
    pytest.param(
        {"configured": {"limit": 6}},
        None,
        {"configured": ("mandatory", {"limit": 6, "flag": True})},
        id="initial-config-over-defaults",
    ),
    pytest.param(
        {"configured": {"limit": 6, "flag": False}},
        {"configured": {"limit": 9}},
        {"configured": ("mandatory", {"limit": 9, "flag": False})},
        id="user-config-over-initial",
    ),
    pytest.param(
        {"plain": EnforcementLevel.DISABLED},
        {"plain": "mandatory"},
        {"plain": ("mandatory", {})},
        id="user-level-over-initial-level",
    ),
    pytest.param(
        {},
        {"all": "disabled"},
        {
            "configured": ("disabled", {"limit": 4, "flag": True}),
            "plain": ("disabled", {}),
            "stacked": ("disabled", {}),
        },
        id="all-sets-every-level",
    ),
    pytest.param(
        {},
        {"all": "advisory", "configured": "mandatory"},
        {"configured": ("mandatory", {"limit": 4, "flag": True}), "plain": ("advisory", {})},
        id="policy-level-beats-all",
    ),
    pytest.param(
        {},
        {"configured": {"enforcementLevel": "remediate", "note": "x"}},
        {"configured": ("remediate", {"limit": 4, "flag": True, "note": "x"})},
        id="object-with-enforcement-level",
    ),
    pytest.param(
        {"configured": {"enforcementLevel": EnforcementLevel.ADVISORY}},
        None,
        {"configured": ("advisory", {"limit": 4, "flag": True})},
        id="initial-object-with-level",
    ),
]


@pytest.mark.parametrize(("initial", "user", "expected"), CONFIG_CASES)
def test_reconcile_config(initial: dict[str, Any], user: dict[str, Any] | None, expected: dict[str, Any]):
    config = reconcile_config(make_pack(initial), user)
    for name, (level, properties) in expected.items():
        assert (config[name].level, config[name].properties) == (level, properties), name


BAD_CONFIG = [
    pytest.param({"configured": "strict"}, "'strict' is not an enforcement level", id="bad-level"),
    pytest.param({"configured": {"enforcementLevel": 3}}, "enforcementLevel 3 is not one of", id="level-not-string"),
    pytest.param({"configured": {"limit": "eight"}}, "configured.limit: 'eight' is not of type 'integer'", id="type"),
    pytest.param({"configured": {"limit": 0}}, "configured.limit: 0 is less than the minimum of 1", id="minimum"),
    pytest.param({"configured": {"limit": 2.5}}, "configured.limit: 2.5 is not of type 'integer'", id="fraction"),
    pytest.param({"configured": 5}, "5 is not valid", id="number-entry"),
    pytest.param({"environments": ["org/env"]}, "ESC environments cannot be resolved offline", id="esc"),
]


@pytest.mark.parametrize(("user", "message"), BAD_CONFIG)
def test_bad_policy_config_is_refused(user: dict[str, Any], message: str):
    with pytest.raises(PolicyConfigError, match=re.escape(message)):
        reconcile_config(make_pack(), user)


def test_gateway_pack_config_keys_validate():
    config = reconcile_config(
        analyzer.GATEWAY_PACK,
        {"ha-minimum-three-hosts": {"allowSingleNode": False}, "node-size-minimum": {"minCpus": 8}},
    )
    assert config["ha-minimum-three-hosts"].properties == {"allowSingleNode": False}
    assert config["node-size-minimum"].properties == {"minCpus": 8, "minMemoryMb": 8192, "minDiskGb": 40}
    with pytest.raises(PolicyConfigError, match="allowSingleNode: 'no' is not of type 'boolean'"):
        reconcile_config(analyzer.GATEWAY_PACK, {"ha-minimum-three-hosts": {"allowSingleNode": "no"}})


# --------------------------------------------------------------------------------- what policies see


class Recorder:
    """Policies that record what the evaluator hands them."""

    def __init__(self) -> None:
        self.resource_calls: list[ResourceValidationArgs] = []
        self.stack_calls: list[StackValidationArgs] = []

    def pack(self, *, resource_level: EnforcementLevel = EnforcementLevel.MANDATORY) -> Pack:
        def on_resource(args: ResourceValidationArgs, report: Any) -> None:
            self.resource_calls.append(args)

        def on_stack(args: StackValidationArgs, report: Any) -> None:
            self.stack_calls.append(args)

        return Pack(
            name="recorder",
            policies=[
                ResourceValidationPolicy(
                    name="r",
                    description="d",
                    validate=on_resource,
                    config_schema=SCHEMA,
                    enforcement_level=resource_level,
                ),
                StackValidationPolicy(name="s", description="d", validate=on_stack),
            ],
            enforcement_level=EnforcementLevel.MANDATORY,
            initial_config={},
        )


def _sample_run() -> harness.Run:
    resources = cluster_set(["h1", "h2", "h3"], storage_values={"nfs": {"server": "nfs", "path": "/x"}})
    cmd = record(
        "command:remote:Command",
        "bootstrap",
        {
            "connection": harness.secret({"host": "10.20.30.41", "privateKey": "SENTINEL-KEY"}),
            "create": "echo hi",
            "triggers": [{harness.SIG_KEY: harness.RESOURCE_REF_SIG, "urn": "urn:x::vm", "id": "vm-1"}],
            "owner": {harness.SIG_KEY: harness.RESOURCE_REF_SIG, "urn": "urn:x::component"},
            "pending": {harness.SIG_KEY: harness.RESOURCE_REF_SIG, "urn": "urn:x::vm2", "id": ""},
            "later": unknown_output(),
            "known": {harness.SIG_KEY: harness.OUTPUT_SIG, "value": "v", "secret": True},
            "__defaults": ["create"],
        },
        parent=resources[0],
        outputs={"stdout": harness.secret("ok"), "create": "echo hi"},
    )
    return run_of([*resources, cmd])


def test_resource_policies_see_every_resource_with_its_inputs():
    recorder = Recorder()
    run = _sample_run()
    assert analyzer.evaluate_pack(recorder.pack(), run) == []
    seen = [a.urn for a in recorder.resource_calls]
    assert seen == [analyzer.stack_urn(run)] + [r.urn for r in run.resources], "components and the stack too"
    cluster = recorder.resource_calls[1]
    assert cluster.resource_type == gp.CLUSTER
    assert cluster.props["floatingIp"] == FACTS["floatingIp"], "a component's inputs"
    assert cluster.opts.parent is None
    vm = recorder.resource_calls[3]
    assert vm.opts.parent == run.resources[1].urn


def test_props_are_marshalled_as_the_engine_marshals_them():
    recorder = Recorder()
    analyzer.evaluate_pack(recorder.pack(), _sample_run())
    cmd = recorder.resource_calls[-1].props
    # Secrets reach validators as their plain value (pulumi-policy unwraps them), as in a real preview.
    assert cmd["connection"]["privateKey"] == "SENTINEL-KEY"
    assert cmd["triggers"][0] == "vm-1", "a custom resource's reference becomes its ID"
    assert cmd["owner"] == "urn:x::component", "a component's reference becomes its URN"
    assert cmd["known"] == "v", "a known output value becomes its value"
    assert "__defaults" not in cmd, "internal keys are not sent"
    for key in ("pending", "later"):
        with pytest.raises(UnknownValueError):
            _ = cmd[key]


def test_stack_policies_see_outputs_linked_by_parent():
    recorder = Recorder()
    run = _sample_run()
    analyzer.evaluate_pack(recorder.pack(), run)
    [args] = recorder.stack_calls
    by_name = {r.name: r for r in args.resources}
    cluster = by_name["gateway"]
    assert dict(cluster.props) == {"managerUrl": "https://10.20.30.50:5480"}, "a component's registered outputs"
    assert by_name["bootstrap"].props["stdout"] == "ok", "a custom resource's outputs"
    assert "connection" not in by_name["bootstrap"].props
    vm = by_name["gateway-n1-vm"]
    assert vm.props["hostSystemId"] == "h1"
    assert vm.parent is not None and vm.parent.parent is cluster
    stack = args.resources[0]
    assert stack.resource_type == "pulumi:pulumi:Stack" and stack.parent is None


def test_config_reaches_validators_through_a_struct():
    recorder = Recorder()
    analyzer.evaluate_pack(recorder.pack(), run_of([]), {"r": {"limit": 7}})
    config = recorder.resource_calls[0].get_config()
    assert config == {"limit": 7.0, "flag": True}
    assert isinstance(config["limit"], float), "integers arrive as floats, as from the engine"


def test_disabled_policies_do_not_run():
    recorder = Recorder()
    analyzer.evaluate_pack(recorder.pack(), _sample_run(), {"r": "disabled"})
    assert recorder.resource_calls == []
    assert len(recorder.stack_calls) == 1


# ------------------------------------------------------------------------------- levels and attribution


def _reporting_pack(level: EnforcementLevel, where: str | None) -> Pack:
    def on_resource(args: ResourceValidationArgs, report: Any) -> None:
        if args.resource_type == gp.VM:
            report(f"bad {args.name}", "urn:elsewhere")

    def on_stack(args: StackValidationArgs, report: Any) -> None:
        report("stack-wide", where)

    return Pack(
        name="reporting",
        policies=[
            ResourceValidationPolicy(name="res", description="d", validate=on_resource, enforcement_level=level),
            StackValidationPolicy(name="stk", description="d", validate=on_stack, enforcement_level=level),
        ],
        enforcement_level=EnforcementLevel.ADVISORY,
        initial_config={},
    )


@pytest.mark.parametrize(
    ("level", "reported"),
    [
        pytest.param(EnforcementLevel.MANDATORY, "mandatory", id="mandatory"),
        pytest.param(EnforcementLevel.ADVISORY, "advisory", id="advisory"),
        pytest.param(EnforcementLevel.REMEDIATE, "mandatory", id="remediate-reported-as-mandatory"),
    ],
)
def test_violation_levels(level: EnforcementLevel, reported: str):
    run = run_of(cluster_set(["h1"]))
    violations = analyzer.evaluate_pack(_reporting_pack(level, None), run)
    assert {v.level for v in violations} == {reported}


def test_violations_are_attributed_as_the_engine_does():
    resources = cluster_set(["h1"])
    run = run_of(resources)
    vm = resources[2]
    violations = analyzer.evaluate_pack(_reporting_pack(EnforcementLevel.MANDATORY, vm.urn), run)
    by_policy = {v.policy: v for v in violations}
    assert by_policy["res"].urn == vm.urn, "a resource policy's violation is the resource's, whatever it names"
    assert by_policy["stk"].urn == vm.urn, "a stack violation naming a resource of the stack"
    elsewhere = analyzer.evaluate_pack(_reporting_pack(EnforcementLevel.MANDATORY, "urn:not-here"), run)
    assert {v.urn for v in elsewhere if v.policy == "stk"} == {analyzer.stack_urn(run)}


def test_a_policy_that_reads_an_unknown_is_not_judged():
    def strict(args: ResourceValidationArgs, report: Any) -> None:
        if args.resource_type == gp.VM and args.props["numCpus"] < 4:  # raises on an unknown
            report("too small", None)

    pack = Pack(
        name="strict-pack",
        policies=[ResourceValidationPolicy(name="strict", description="d", validate=strict)],
        enforcement_level=EnforcementLevel.MANDATORY,
        initial_config={},
    )
    vm = record(gp.VM, "gw-1-vm", vm_inputs("gw-1", "h1", cpus=harness.UNKNOWN))
    [violation] = analyzer.evaluate_pack(pack, run_of([vm]))
    assert violation.level == "advisory"
    assert violation.urn == vm.urn
    assert "can't run policy 'strict' from policy pack 'strict-pack' during preview" in violation.message
    assert ".numCpus can't be known during preview" in violation.message


def test_async_validators_are_awaited():
    async def late(args: StackValidationArgs, report: Any) -> None:
        report("from a coroutine", None)

    pack = Pack(
        name="async-pack",
        policies=[StackValidationPolicy(name="late", description="d", validate=late)],
        enforcement_level=EnforcementLevel.MANDATORY,
        initial_config={},
    )
    [violation] = analyzer.evaluate_pack(pack, run_of([]))
    assert violation.message == "from a coroutine"


# ---------------------------------------------------------------------------------- the gateway pack


def test_gateway_pack_over_a_broken_synthetic_stack():
    resources = cluster_set(["h1", "h1"], storage_values={})
    resources[0].inputs = changed(FACTS, {("nodes", 0, "ip"): "10.20.30.150"})
    violations = analyzer.evaluate(run_of(resources), None)
    found = {(v.policy, v.level) for v in violations}
    assert found >= {
        ("ha-minimum-three-hosts", "mandatory"),
        ("one-node-per-host", "mandatory"),
        ("ips-outside-dhcp", "mandatory"),
        ("nfs-storage-for-multi-node", "mandatory"),
    }
    assert ("static-ips-same-subnet", "mandatory") not in found
    downgraded = analyzer.evaluate(run_of(resources), {"all": "advisory"})
    assert {v.level for v in downgraded} == {"advisory"}
    assert len(downgraded) == len(violations)
