"""The policy pack as the Pulumi CLI runs it: `policies/` started the way the CLI's Python policy launcher starts
it (`python -m pulumi.policy <engine> <pack dir>`), driven over its gRPC analyzer interface on loopback with the
requests the engine sends. Its verdicts must equal `gatewayctl plan`'s (the offline analyzer,
``gatewayctl.harness.analyzer``) on the same runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from gatewayctl import harness
from gatewayctl.harness import analyzer as offline
from policies import gateway_policies as gp
from tests.support.stacks import PROJECT, run_stack, stack_raw

NS = "gateway-cluster"
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {number: name for name, number in LEVELS.items()}

Verdict = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # The engine address is not used by a pack that only analyses; nothing listens there.
    process = subprocess.Popen(
        # As the CLI starts a Python pack: in the pack's folder, with "." as the program.
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:9", "."],
        cwd=PROJECT / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the pack did not start: {port!r} {process.stderr.read() if process.stderr else ''}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _struct(wire: Mapping[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(offline.engine_wire(dict(wire)), struct_pb2.Struct())


def configure(analyzer: analyzer_pb2_grpc.AnalyzerStub, user_config: Mapping[str, Any] | None) -> None:
    """What the engine sends after reconciling the pack's info with the user's config file."""
    reconciled = offline.reconcile_config(offline.GATEWAY_PACK, user_config)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, cfg in reconciled.items():
        entry = request.policyConfig[name]
        entry.enforcementLevel = LEVELS[cfg.level]
        entry.properties.CopyFrom(json_format.ParseDict(cfg.properties, struct_pb2.Struct()))
    analyzer.Configure(request)


def pack_verdicts(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, run: harness.Run, user_config: Mapping[str, Any] | None
) -> list[Verdict]:
    """Analyze on every resource's inputs, then AnalyzeStack on every resource's outputs, as the engine calls them."""
    configure(analyzer, user_config)
    views = offline.recorded_views(run)
    stack = offline._stack_resource(run)
    records = [stack, *run.resources]
    verdicts: list[Verdict] = []

    def add(diagnostic: Any, urn: str) -> None:
        # The pack sends "<description>\n<message>"; the engine shows both.
        message = diagnostic.message.split("\n", 1)[1] if "\n" in diagnostic.message else diagnostic.message
        verdicts.append((diagnostic.policyName, LEVEL_NAMES[diagnostic.enforcementLevel], message, urn))

    for r in records:
        response = analyzer.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=r.type,
                properties=_struct(views.inputs[r.urn]),
                urn=r.urn,
                name=r.name,
                options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""),
            )
        )
        for diagnostic in response.diagnostics:
            add(diagnostic, r.urn)
    resources = [
        analyzer_pb2.AnalyzerResource(
            type=r.type,
            properties=_struct(views.outputs[r.urn]),
            urn=r.urn,
            name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""),
            parent=r.parent or "",
            dependencies=r.dependencies,
        )
        for r in records
    ]
    in_stack = {r.urn for r in records}
    for diagnostic in analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics:
        add(diagnostic, diagnostic.urn if diagnostic.urn in in_stack else stack.urn)
    return sorted(verdicts)


def plan_verdicts(run: harness.Run, user_config: Mapping[str, Any] | None) -> list[Verdict]:
    return sorted((v.policy, v.level, v.message, v.urn or "") for v in offline.evaluate(run, user_config))


def _prod(**changes: Any) -> harness.Run:
    raw = stack_raw("prod")
    raw.update({f"{NS}:{key}": value for key, value in changes.items()})
    return run_stack("prod", raw=raw)


TWO_ON_ONE_HOST = [
    {"hostname": "gw-1", "esxiHost": "esx-1", "ip": "10.20.30.41"},
    {"hostname": "gw-2", "esxiHost": "esx-1", "ip": "10.20.30.150"},
]

CASES = [
    pytest.param(lambda: run_stack("prod"), None, id="prod"),
    pytest.param(lambda: run_stack("dev"), {"ha-minimum-three-hosts": {"allowSingleNode": False}}, id="dev-as-prod"),
    pytest.param(lambda: _prod(nodes=TWO_ON_ONE_HOST, storage=None), None, id="broken"),
    pytest.param(
        lambda: _prod(nodeSize={"cpus": 2, "memoryMb": 4096}), {"node-size-minimum": {"minCpus": 1}}, id="size"
    ),
    pytest.param(
        lambda: _prod(nodes=TWO_ON_ONE_HOST), {"all": "advisory", "one-node-per-host": "disabled"}, id="levels"
    ),
]


@pytest.mark.parametrize(("make_run", "user_config"), CASES)
def test_pack_process_and_plan_agree(analyzer, make_run, user_config):
    run = make_run()
    from_pack = pack_verdicts(analyzer, run, user_config)
    assert from_pack == plan_verdicts(run, user_config)
    assert from_pack, "every case has at least the advisory on unpinned host keys"


def test_broken_stack_fails_in_the_pack_process(analyzer):
    verdicts = pack_verdicts(analyzer, _prod(nodes=TWO_ON_ONE_HOST, storage=None), None)
    mandatory = {policy for policy, level, _, _ in verdicts if level == "mandatory"}
    assert mandatory == {
        "ha-minimum-three-hosts",
        "one-node-per-host",
        "ips-outside-dhcp",
        "nfs-storage-for-multi-node",
        "nfs-storage-configured",
    }


def test_analyzer_info_matches_what_plan_evaluates(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == gp.PACK_NAME
    assert info.supportsConfig
    assert dict(info.initialConfig) == {}
    served = {
        p.name: (LEVEL_NAMES[p.enforcementLevel], json_format.MessageToDict(p.configSchema)) for p in info.policies
    }
    expected = {
        p.name: (
            (p.enforcement_level or gp.PACK_ENFORCEMENT_LEVEL).value,
            {"properties": p.config_schema.properties} if p.config_schema else {},
        )
        for p in gp.POLICIES
    }
    assert served == expected


# ------------------------------------------------------------------------------------------- pack files


def test_pulumi_policy_yaml():
    doc = yaml.safe_load((PROJECT / "policies" / "PulumiPolicy.yaml").read_text())
    assert set(doc) <= {"runtime", "version", "main", "description", "author", "website", "license"}
    assert doc["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert str(doc["version"]).count(".") == 2


def test_pack_requirements_pin_the_projects_versions():
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==") for line in lines if "==" in line)

    pack = pins(PROJECT / "policies" / "requirements.txt")
    project = pins(PROJECT / "requirements.txt")
    assert set(pack) == {"pulumi", "pulumi-policy"}
    assert {name: project[name] for name in pack} == pack


@pytest.mark.parametrize("path", sorted((PROJECT / "policies" / "config").glob("*.json")), ids=lambda p: p.name)
def test_committed_policy_configs_are_valid(path: Path):
    stack = path.stem
    assert (PROJECT / f"Pulumi.{stack}.yaml").is_file(), f"{path.name} names no committed stack"
    offline.reconcile_config(offline.GATEWAY_PACK, json.loads(path.read_text()))
