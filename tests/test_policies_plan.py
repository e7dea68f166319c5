"""End to end: `gatewayctl plan` evaluates the policy pack over what the program registers.

Stacks that break a rule but that the program itself accepts make `plan` exit 1 naming the rule; the committed
stacks pass; `--policy-config` works like `pulumi preview --policy-pack-config`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gatewayctl import harness, stackfile
from gatewayctl.harness import analyzer
from policies import gateway_policies as gp
from policies.gateway_policies import cluster_inputs
from tests.support.stacks import PROJECT, SENTINELS, gatewayctl, make_project, run_stack, stack_raw

NS = "gateway-cluster"
PROD_POLICY_CONFIG = PROJECT / "policies" / "config" / "prod.json"
PROD_STACK_URN = "urn:pulumi:prod::gateway-cluster::pulumi:pulumi:Stack::gateway-cluster-prod"


def nodes(*specs: tuple[str, str, str]) -> str:
    return json.dumps([{"hostname": h, "esxiHost": e, "ip": ip} for h, e, ip in specs])


THREE = [("gw-1", "esx-1", "10.20.30.41"), ("gw-2", "esx-2", "10.20.30.42"), ("gw-3", "esx-3", "10.20.30.43")]

#: (overrides of prod's config, policy config, the mandatory policies it must break)
BREAKS = [
    pytest.param({f"{NS}:nodes": nodes(*THREE[:2])}, None, {"ha-minimum-three-hosts"}, id="two-nodes"),
    pytest.param(
        {f"{NS}:nodes": nodes(THREE[0])}, PROD_POLICY_CONFIG, {"ha-minimum-three-hosts"}, id="one-node-prod-config"
    ),
    pytest.param(
        {f"{NS}:nodes": nodes(THREE[0], THREE[1], ("gw-3", "esx-1", "10.20.30.43"))},
        None,
        {"one-node-per-host", "ha-minimum-three-hosts"},
        id="two-nodes-on-one-host",
    ),
    pytest.param(
        {f"{NS}:nodes": nodes(*THREE[:2], ("gw-3", "esx-3", "10.20.31.43"))},
        None,
        {"static-ips-same-subnet"},
        id="node-outside-subnet",
    ),
    pytest.param(
        {f"{NS}:nodes": nodes(*THREE[:2], ("gw-3", "esx-3", "10.20.30.255"))},
        None,
        {"static-ips-same-subnet"},
        id="node-on-broadcast",
    ),
    pytest.param(
        {f"{NS}:nodes": nodes(*THREE[:2], ("gw-3", "esx-3", "10.20.30.1"))},
        None,
        {"static-ips-same-subnet"},
        id="node-on-gateway",
    ),
    pytest.param(
        {f"{NS}:nodes": nodes(*THREE[:2], ("gw-3", "esx-3", "10.20.30.150"))},
        None,
        {"ips-outside-dhcp"},
        id="node-in-dhcp",
    ),
    pytest.param(
        {f"{NS}:floatingIp": "10.20.30.120", f"{NS}:metallbRange": "10.20.30.120-10.20.30.120"},
        None,
        {"ips-outside-dhcp"},
        id="floating-ip-in-dhcp",
    ),
    pytest.param(
        {f"{NS}:nodeSize": json.dumps({"cpus": 2, "memoryMb": 4096, "diskGb": 20})},
        None,
        {"node-size-minimum"},
        id="small-nodes",
    ),
    pytest.param({}, {"node-size-minimum": {"minCpus": 8}}, {"node-size-minimum"}, id="configured-minimum"),
    pytest.param(
        {f"{NS}:storage": "null"},
        None,
        {"nfs-storage-for-multi-node", "nfs-storage-configured"},
        id="multi-node-without-nfs",
    ),
    pytest.param(
        {f"{NS}:rebuild": json.dumps(["gw-prod-2", "gw-prod-3"])},
        None,
        {"rebuild-one-node-at-a-time"},
        id="two-nodes-rebuilt-at-once",
    ),
]


def plan_json(*argv: str, cwd: Path = PROJECT) -> tuple[int, dict[str, Any], str]:
    code, out, err = gatewayctl("plan", "--json", *argv, cwd=cwd)
    return code, json.loads(out) if out.strip() else {}, err


def _argv(overrides: dict[str, str], policy_config: Any, tmp_path: Path) -> list[str]:
    argv = ["--stack", "prod"]
    for key, value in overrides.items():
        argv += ["--config", f"{key}={value}"]
    if isinstance(policy_config, Path):
        argv += ["--policy-config", str(policy_config)]
    elif policy_config is not None:
        path = tmp_path / "policy-config.json"
        path.write_text(json.dumps(policy_config))
        argv += ["--policy-config", str(path)]
    return argv


@pytest.mark.parametrize(("overrides", "policy_config", "broken"), BREAKS)
def test_a_stack_breaking_a_rule_fails_the_plan(
    tmp_path: Path, overrides: dict[str, str], policy_config: Any, broken: set[str]
):
    code, doc, err = plan_json(*_argv(overrides, policy_config, tmp_path))
    # A config error would exit 2 before any policy ran: exit 1 with no errors means the program itself accepted
    # the stack and only the pack refused it.
    assert code == 1, err
    assert "errors" not in doc, doc["errors"]
    mandatory = {v["policy"] for v in doc["violations"] if v["level"] == "mandatory"}
    assert mandatory == broken
    urns = {r["urn"] for r in doc["resources"]} | {PROD_STACK_URN}
    for v in doc["violations"]:
        assert set(v) == {"policy", "level", "message", "urn"}
        assert v["urn"] in urns, v


def test_text_plan_lists_violations_by_level(tmp_path: Path):
    argv = _argv({f"{NS}:nodes": nodes(*THREE[:2])}, None, tmp_path)
    code, out, _ = gatewayctl("plan", *argv)
    assert code == 1
    section = out[out.index("Policy violations") :]
    mandatory = section.index("[mandatory] ha-minimum-three-hosts: gateway cluster 'gateway' has two nodes")
    advisory = section.index("[advisory] ssh-host-keys-pinned:")
    assert mandatory < advisory, "mandatory violations first"
    assert "on urn:pulumi:prod::gateway-cluster::" in section


@pytest.mark.parametrize("stack", stackfile.committed_stacks(PROJECT))
def test_committed_stacks_pass(stack: str):
    code, doc, err = plan_json("--stack", stack)
    assert code == 0, err
    assert [v for v in doc["violations"] if v["level"] == "mandatory"] == []
    config = PROJECT / "policies" / "config" / f"{stack}.json"
    if config.exists():
        code, doc, err = plan_json("--stack", stack, "--policy-config", str(config))
        assert code == 0, err


def test_prod_policy_config_forbids_a_single_node_that_the_default_allows(tmp_path: Path):
    single = {f"{NS}:nodes": nodes(THREE[0]), f"{NS}:storage": "null"}
    code, doc, _ = plan_json(*_argv(single, None, tmp_path))
    assert code == 0
    assert "ha-minimum-three-hosts" not in {v["policy"] for v in doc["violations"]}
    code, _, _ = plan_json(*_argv(single, PROD_POLICY_CONFIG, tmp_path))
    assert code == 1


def test_policy_config_can_downgrade_a_rule(tmp_path: Path):
    argv = _argv({f"{NS}:nodes": nodes(*THREE[:2])}, {"ha-minimum-three-hosts": "advisory"}, tmp_path)
    code, doc, _ = plan_json(*argv)
    assert code == 0
    assert {v["level"] for v in doc["violations"] if v["policy"] == "ha-minimum-three-hosts"} == {"advisory"}
    argv = _argv({f"{NS}:nodes": nodes(*THREE[:2])}, {"all": "disabled"}, tmp_path)
    code, doc, _ = plan_json(*argv)
    assert (code, doc["violations"]) == (0, [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('{"node-size-minimum": {"minCpus": "eight"}}', "'eight' is not of type 'integer'", id="schema"),
        pytest.param('{"ha-minimum-three-hosts": "strict"}', "'strict' is not an enforcement level", id="level"),
        pytest.param("[1, 2]", "must be a JSON object", id="not-an-object"),
        pytest.param("{nope", "not valid JSON", id="not-json"),
    ],
)
def test_bad_policy_config_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str):
    path = tmp_path / "bad.json"
    path.write_text(content)

    def no_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the program ran although the policy config is bad")

    # Refused before the program runs, as the engine refuses it when it starts the analyzer.
    monkeypatch.setattr(harness, "run_program", no_run)
    code, out, err = gatewayctl("plan", "--stack", "prod", "--policy-config", str(path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_no_secret_reaches_a_violation(tmp_path: Path):
    raw = stack_raw("prod")
    raw[f"{NS}:nodes"] = json.loads(nodes(*THREE[:2]))
    run = run_stack("prod", raw=raw)
    violations = analyzer.evaluate(run, None)
    assert violations
    text = json.dumps([v.__dict__ for v in violations])
    for sentinel in SENTINELS.values():
        assert sentinel not in text


# -------------------------------------------------------------------------------- known at preview time


def test_judged_inputs_do_not_depend_on_resources_being_created():
    """What the mandatory policies judge is known during a real preview: config values and invoke results,
    never an output of a resource that does not exist yet."""
    run = run_stack("prod")
    judged = {
        gp.CLUSTER: set(cluster_inputs.JUDGED),
        gp.VM: {"name", "hostSystemId", "numCpus", "memory", "disks"},
        gp.RELEASE: {"name", "chart", "version", "values"},
    }
    custom = {r.urn for r in run.resources if r.custom}
    for resource in run.resources:
        for key in judged.get(resource.type, set()):
            deps = set(resource.property_dependencies.get(key, [])) & custom
            assert not deps, f"{resource.urn}: {key} depends on {deps}"
    assert {r.type for r in run.resources} >= set(judged), "every judged type is registered"


@pytest.mark.parametrize("stack", stackfile.committed_stacks(PROJECT))
def test_first_preview_of_committed_stacks(stack: str):
    """On a new stack's first preview (conservatively emulated), nothing mandatory fires and no mandatory
    policy has to give up on an unknown value."""
    violations = analyzer.evaluate_pack(analyzer.GATEWAY_PACK, run_stack(stack), None, new_stack=True)
    mandatory = {p.name for p in gp.POLICIES if p.enforcement_level and p.enforcement_level.value == "mandatory"}
    assert [v for v in violations if v.policy in mandatory] == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"nodes": json.loads(nodes(*THREE[:2]))}, {"ha-minimum-three-hosts"}, id="two-nodes"),
        pytest.param(
            {"nodes": json.loads(nodes(THREE[0], THREE[1], ("gw-3", "esx-1", "10.20.30.43")))},
            {"ha-minimum-three-hosts", "one-node-per-host"},
            id="shared-host",
        ),
        pytest.param({"nodeSize": {"cpus": 2}}, {"node-size-minimum"}, id="small"),
        # The storage release's outputs are unknown on a first preview: its config twin still judges the rule.
        pytest.param({"storage": None}, {"nfs-storage-configured"}, id="no-nfs"),
    ],
)
def test_first_preview_still_catches_broken_stacks(changes: dict[str, Any], expected: set[str]):
    raw = stack_raw("prod")
    raw.update({f"{NS}:{k}": v for k, v in changes.items()})
    violations = analyzer.evaluate_pack(analyzer.GATEWAY_PACK, run_stack("prod", raw=raw), None, new_stack=True)
    assert {v.policy for v in violations if v.level == "mandatory"} == expected


def test_new_stack_views_are_conservative():
    run = run_stack("prod")
    views = analyzer.new_stack_views(run)
    vm = run.by_type(gp.VM)[0]
    assert views.inputs[vm.urn]["clone"] == harness.UNKNOWN, "the library item's ID is not known yet"
    assert views.inputs[vm.urn]["hostSystemId"] == vm.inputs["hostSystemId"], "invoke results are known"
    assert views.outputs[vm.urn]["moid"] == harness.UNKNOWN, "provider-computed outputs are unknown"
    [storage] = [r for r in run.by_type(gp.RELEASE) if r.name == gp.STORAGE_RELEASE]
    assert views.outputs[storage.urn] == {}, "the Kubernetes provider's kubeconfig is unknown: no outputs"


# ------------------------------------------------------------------ rules the program's config checks too


BYPASS_MAIN = '''"""A program that skips the config's checks on hostnames and addresses, as a hand-written one could."""
import dataclasses
import runpy

from components import config

_load = config.load


def load(cfg=None):
    loaded = _load(cfg)
    nodes = list(loaded.settings.nodes)
    nodes[2] = dataclasses.replace(nodes[2], hostname="GW-Prod-3", ip=nodes[0].ip)
    settings = dataclasses.replace(loaded.settings, nodes=tuple(nodes))
    return dataclasses.replace(loaded, settings=settings)


config.load = load
runpy.run_path(PROGRAM, run_name="__main__")
'''


@pytest.mark.parametrize(
    ("third", "key"),
    [
        pytest.param(("GW-3", "esx-3", "10.20.30.43"), "nodes[2].hostname", id="hostname"),
        pytest.param(("gw-3", "esx-3", "10.20.30.41"), "nodes[2].ip", id="duplicate-ip"),
        pytest.param(("gw-1", "esx-3", "10.20.30.43"), "nodes[2].hostname", id="duplicate-hostname"),
    ],
)
def test_program_refuses_what_the_pack_also_guards(third: tuple[str, str, str], key: str):
    code, doc, _ = plan_json("--stack", "prod", "--config", f"{NS}:nodes={nodes(THREE[0], THREE[1], third)}")
    assert code == 2
    assert {e["key"] for e in doc["errors"]} == {f"{NS}:{key}"}


def test_pack_guards_a_program_that_bypasses_the_config_checks(tmp_path: Path):
    project = make_project(tmp_path, {"prod": stack_raw("prod")})
    (project / "__main__.py").unlink()
    program = BYPASS_MAIN.replace("PROGRAM", repr(str(PROJECT / "__main__.py")))
    (project / "__main__.py").write_text(program)
    # In a process of its own: the bypass patches the config module, which must not leak into other tests.
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    result = subprocess.run(
        [sys.executable, "-m", "gatewayctl", "plan", "--stack", "prod", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    messages = {v["policy"]: v["message"] for v in doc["violations"] if v["level"] == "mandatory"}
    assert set(messages) == {"unique-hostnames", "static-ips-same-subnet"}
    assert "'GW-Prod-3' is not a lowercase RFC 1123 label" in messages["unique-hostnames"]
    assert "10.20.30.41 is also used by node 'gw-prod-1'" in messages["static-ips-same-subnet"]
