"""`gatewayctl upgrade` against a stand-in `pulumi` CLI (tests/support/standins/pulumi.py) driven by Pulumi's
own Automation API: the orchestration (order, one node at a time, the primary last, health between updates,
stopping and resuming) is real; the engine is not, and the stand-in's `up` only models the outputs.

The cluster's health probe is replaced by a recording fake here (it would reach the nodes' real addresses);
tests/test_health.py runs the real one against SSH test hosts and an HTTPS stand-in on loopback.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatewayctl import checks, health
from tests.support.stacks import gatewayctl, make_project, stack_raw
from tests.support.standins import pulumi as standin

NS = "gateway-cluster"
NEW_URL = "https://downloads.example.com/opsramp/gateway-18.0.0.ova"
TO = ["--to", "18.0.0", "--ova-url", NEW_URL]
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nstand-in\n-----END OPENSSH PRIVATE KEY-----"


@dataclass
class World:
    project: Path
    state_file: Path
    probes: list[health.Reach] = field(default_factory=list)
    unhealthy: bool = False

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    def patch_state(self, **changes: Any) -> None:
        self.state_file.write_text(json.dumps({**self.state, **changes}))

    @property
    def config(self) -> dict[str, Any]:
        return dict(yaml.safe_load((self.project / "Pulumi.prod.yaml").read_text())["config"])

    def upgrade(self, *argv: str) -> tuple[int, str, str]:
        return gatewayctl("upgrade", "--stack", "prod", *argv, cwd=self.project)


def outputs_of(raw: dict[str, Any], image: str | None = "17.0.0") -> dict[str, Any]:
    nodes = [{"hostname": n["hostname"], "ip": n["ip"], "image": image} for n in raw[f"{NS}:nodes"]]
    return {"nodes": nodes, "managerUrl": "https://10.20.30.50:5480", "kubeconfig": "apiVersion: v1"}


@pytest.fixture(scope="module")
def standin_server() -> Iterator[standin.Server]:
    """The stand-in CLI, serving this module's `pulumi` calls from inside the test process (see standin.LAUNCHER)."""
    server = standin.Server()
    try:
        yield server
    finally:
        server.close()


def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: dict[str, Any], server: standin.Server) -> World:
    (tmp_path / "project").mkdir()
    project = make_project(tmp_path / "project", {"prod": raw})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "pulumi"
    launcher.write_text(server.launcher())
    launcher.chmod(0o755)
    state_file = tmp_path / "pulumi-state.json"
    state = {
        "stacks": {"prod": {"outputs": outputs_of(raw), "secretOutputs": ["kubeconfig"], "history": []}},
        "secrets": {f"{NS}:sshPrivateKey": KEY, f"{NS}:managerPassword": "stand-in"},
    }
    state_file.write_text(json.dumps(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_STANDIN_STATE", str(state_file))
    world = World(project, state_file)

    def probe(settings: Any, reach: health.Reach) -> list[checks.Check]:
        world.probes.append(reach)
        if world.unhealthy:
            return [checks.failed("node.ready", "gw-prod-1", "gw-prod-3 is NotReady", "look at it")]
        return [checks.ok("node.ready", "gw-prod-1", "all Ready")]

    monkeypatch.setattr(health, "cluster_health", probe)
    return world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin_server: standin.Server) -> World:
    return make_world(tmp_path, monkeypatch, copy.deepcopy(stack_raw("prod")), standin_server)


def single_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: standin.Server) -> World:
    raw = copy.deepcopy(stack_raw("prod"))
    raw[f"{NS}:nodes"] = raw[f"{NS}:nodes"][:1]
    raw.pop(f"{NS}:storage", None)
    return make_world(tmp_path, monkeypatch, raw, server)


def actions(doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(s["action"], s["node"]) for s in doc["steps"]]


THREE_NODE_PLAN = [
    ("retain-image", None),
    ("set-image", None),
    ("rebuild", "gw-prod-2"),
    ("rebuild", "gw-prod-3"),
    ("move-primary", "gw-prod-2"),
    ("rebuild", "gw-prod-1"),
    ("clear-rebuild", None),
    ("release-image", None),
]


def test_dry_run_prints_the_steps_and_changes_nothing(world: World):
    before = (world.project / "Pulumi.prod.yaml").read_text()
    code, out, err = world.upgrade(*TO, "--dry-run", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["stack"], doc["from"], doc["to"]) == ("prod", ["17.0.0"], "18.0.0")
    assert actions(doc) == THREE_NODE_PLAN
    steps = doc["steps"]
    assert steps[0]["config"] == {
        f"{NS}:ova.retain[0].version": "17.0.0",
        f"{NS}:ova.retain[0].url": "https://downloads.example.com/opsramp/gateway-17.0.0.ova",
    }
    assert steps[1]["config"] == {f"{NS}:ova.version": "18.0.0", f"{NS}:ova.url": NEW_URL, f"{NS}:ova.path": None}
    assert steps[2]["config"] == {f"{NS}:rebuild": ["gw-prod-2"]}
    assert steps[4]["config"] == {f"{NS}:primary": "gw-prod-2", f"{NS}:rebuild": None}
    assert steps[-1]["config"] == {f"{NS}:ova.retain": None}
    assert (world.project / "Pulumi.prod.yaml").read_text() == before
    assert "ups" not in world.state and world.probes == []


def test_the_roll_rebuilds_one_node_per_update_primary_last(world: World):
    code, out, err = world.upgrade(*TO, "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["done"] == len(THREE_NODE_PLAN)
    ups = world.state["ups"]
    # One update per rebuild and one for the primary's move; the last one applies the clean-up.
    assert [u["rebuild"] for u in ups] == [["gw-prod-2"], ["gw-prod-3"], [], ["gw-prod-1"], []]
    assert [u["primary"] for u in ups] == [None, None, "gw-prod-2", "gw-prod-2", "gw-prod-2"]
    for u in ups[:-1]:
        assert (u["ova"], u["retain"]) == ("18.0.0", ["17.0.0"]), "the old image is kept while nodes run it"
    assert (ups[-1]["ova"], ups[-1]["retain"]) == ("18.0.0", []), "released at the end"
    for u in ups:
        assert u["primary"] not in u["rebuild"] and (u["primary"] or "gw-prod-1") not in u["rebuild"]
    assert len(world.probes) == 4, "the cluster's health after each rebuild and after the primary's move"
    assert world.probes[0].credentials.private_key == KEY, "the SSH key comes from the stack's secrets"
    config = world.config
    assert config[f"{NS}:ova"]["version"] == "18.0.0" and config[f"{NS}:ova"]["url"] == NEW_URL
    assert "retain" not in config[f"{NS}:ova"] and f"{NS}:rebuild" not in config
    assert config[f"{NS}:primary"] == "gw-prod-2"
    assert {n["image"] for n in world.state["stacks"]["prod"]["outputs"]["nodes"]} == {"18.0.0"}
    assert "Commit Pulumi.prod.yaml" in err
    # The rewritten stack file is one the program accepts, and nothing is left to do.
    code, _, err = gatewayctl("plan", "--stack", "prod", "--no-policies", cwd=world.project)
    assert code == 0, err
    code, out, _ = world.upgrade(*TO, "--yes", "--json")
    assert (code, json.loads(out)["steps"]) == (0, [])
    assert len(world.state["ups"]) == len(ups), "nothing to do runs no update"


def test_a_failed_update_stops_and_a_second_run_resumes(world: World):
    world.patch_state(failUp="gw-prod-3")
    code, out, err = world.upgrade(*TO, "--yes")
    assert code == 1
    assert "step 4 (rebuild gw-prod-3) failed" in err and "run the same `gatewayctl upgrade` again" in err
    assert "rebuilding gw-prod-3" in err, "the update's own error is shown"
    assert world.config[f"{NS}:rebuild"] == ["gw-prod-3"], "the config says what the failed update was doing"
    assert world.config[f"{NS}:ova"]["retain"][0]["version"] == "17.0.0", "the old image is still kept"
    code, out, err = world.upgrade(*TO, "--yes", "--json")
    assert code == 0, err
    assert actions(json.loads(out)) == [
        ("rebuild", "gw-prod-3"),
        ("move-primary", "gw-prod-2"),
        ("rebuild", "gw-prod-1"),
        ("clear-rebuild", None),
        ("release-image", None),
    ]
    rebuilt = [u["rebuild"] for u in world.state["ups"]]
    assert rebuilt.count(["gw-prod-2"]) == 1, "a node already upgraded is not rebuilt again"


def test_an_unhealthy_cluster_stops_the_roll(world: World):
    world.unhealthy = True
    code, _, err = world.upgrade(*TO, "--yes", "--health-timeout", "0")
    assert code == 1
    assert "step 3 (rebuild gw-prod-2) failed" in err and "gw-prod-3 is NotReady" in err
    assert [u["rebuild"] for u in world.state["ups"]] == [["gw-prod-2"]], "no second node goes down"


def test_single_node_stack_rebuilds_its_only_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin_server: standin.Server
):
    world = single_node(tmp_path, monkeypatch, standin_server)
    code, out, err = world.upgrade(*TO, "--yes", "--json")
    assert code == 0, err
    assert actions(json.loads(out)) == [
        ("retain-image", None),
        ("set-image", None),
        ("rebuild", "gw-prod-1"),
        ("clear-rebuild", None),
        ("release-image", None),
    ]
    assert [u["rebuild"] for u in world.state["ups"]] == [["gw-prod-1"], []]


USAGE = [
    pytest.param(["--to", "18.0.0", "--yes"], "exactly one of --ova-url and --ova-path", id="no-source"),
    pytest.param([*TO, "--ova-path", "/srv/gw.ova", "--yes"], "exactly one of", id="both-sources"),
    pytest.param(TO, "no terminal to confirm on", id="no-terminal-no-yes"),
    pytest.param(
        ["--to", "17.0.0", "--ova-url", NEW_URL, "--yes"], "one version is one image", id="same-version-new-source"
    ),
]


@pytest.mark.parametrize(("argv", "message"), USAGE)
def test_usage_errors_exit_2_and_change_nothing(world: World, argv: list[str], message: str):
    before = (world.project / "Pulumi.prod.yaml").read_text()
    code, out, err = world.upgrade(*argv)
    assert code == 2, err
    assert message in err and "Traceback" not in err + out
    assert (world.project / "Pulumi.prod.yaml").read_text() == before
    assert "ups" not in world.state


def test_outputs_file_plans_without_the_cli(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    outputs = outputs_of(stack_raw("prod"))
    outputs["nodes"][1]["image"] = "18.0.0"
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    code, out, err = world.upgrade(*TO, "--dry-run", "--json", "--outputs", str(path))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["from"] == ["17.0.0", "18.0.0"]
    assert ("rebuild", "gw-prod-2") not in actions(doc)
    assert ("move-primary", "gw-prod-2") in actions(doc), "the primary moves to a node already upgraded"


def test_no_cli_exits_3(world: World, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, _, err = world.upgrade(*TO, "--yes")
    assert code == 3
    assert "the Pulumi CLI is not usable" in err


def test_unknown_stack_in_the_backend_exits_3(world: World):
    world.patch_state(stacks={})
    code, _, err = world.upgrade(*TO, "--yes")
    assert code == 3
    assert "has no stack 'prod'" in err


def pin_all(raw: dict[str, Any]) -> dict[str, str]:
    keys = {}
    for node in raw[f"{NS}:nodes"]:
        node["sshHostKey"] = keys[node["hostname"]] = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIold{node['hostname']}"
    return keys


def test_pinned_host_keys_stop_each_rebuild_until_the_new_key_is_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin_server: standin.Server
):
    """A rebuilt VM's new host key is refused by the pinned one; the roll stops, says how to read the new key
    on the console and pin it, and resumes with that node once it is pinned. It never unpins a key."""
    raw = copy.deepcopy(stack_raw("prod"))
    keys = pin_all(raw)
    world = make_world(tmp_path, monkeypatch, raw, standin_server)
    state = world.state
    state["stacks"]["prod"]["vmKeys"] = keys
    world.state_file.write_text(json.dumps(state))
    code, out, err = world.upgrade(*TO, "--dry-run")
    assert code == 0 and out.count("has a pinned sshHostKey") == 3, out

    stops = []
    for _ in range(5):
        code, _, err = world.upgrade(*TO, "--yes")
        if code == 0:
            break
        assert code == 1, err
        [advice] = [line for line in err.splitlines() if "was rebuilt: its new VM has a new SSH host key" in line]
        node = next(n for n in world.config[f"{NS}:nodes"] if n["hostname"] in advice.split(":")[1])
        stops.append(node["hostname"])
        i = world.config[f"{NS}:nodes"].index(node)
        assert f"gateway-cluster:nodes[{i}].sshHostKey" in advice and "cat /etc/ssh/ssh_host_ed25519_key.pub" in advice
        # Every key is still pinned: the roll never falls back to accepting any key.
        assert all(n.get("sshHostKey") for n in world.config[f"{NS}:nodes"])
        # The operator reads the new key on the console (here: the stand-in's record of the new VM) and pins it.
        config = world.config
        config[f"{NS}:nodes"][i]["sshHostKey"] = world.state["stacks"]["prod"]["vmKeys"][node["hostname"]]
        (world.project / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    assert code == 0, err
    assert stops == ["gw-prod-2", "gw-prod-3", "gw-prod-1"], "each node stops once, the primary last"
    rebuilt = [tuple(u["rebuild"]) for u in world.state["ups"] if u["rebuild"]]
    assert rebuilt == [("gw-prod-2",), ("gw-prod-2",), ("gw-prod-3",), ("gw-prod-3",), ("gw-prod-1",), ("gw-prod-1",)]
    assert {n["image"] for n in world.state["stacks"]["prod"]["outputs"]["nodes"]} == {"18.0.0"}
