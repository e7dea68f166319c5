"""Cluster formation under the mock runtime: the steps the program registers, their order and their secrets.

What the steps *do* is tested for real in test_formation_ssh.py; here: which steps exist, what each one waits
for (the engine runs a step only after everything it depends on), what they would run where, and that no
secret shows outside a secret.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import scripts
from gatewayctl import harness
from tests.support.stacks import SENTINELS, run_stack, stack_raw

NS = "gateway-cluster"
COMMAND = "command:remote:Command"
TOKEN = "random:index/randomPassword:RandomPassword"
FORMATION = "gateway-cluster:index:ClusterFormation"
PROD = ["gw-prod-1", "gw-prod-2", "gw-prod-3"]
IPS = {"gw-prod-1": "10.20.30.41", "gw-prod-2": "10.20.30.42", "gw-prod-3": "10.20.30.43"}
ADDONS, KUBECONFIG, HEALTH = (
    "gateway-formation-addons-enable",
    "gateway-formation-kubeconfig",
    "gateway-formation-health",
)


@pytest.fixture(scope="module")
def prod() -> harness.Run:
    return run_stack("prod")


@pytest.fixture(scope="module")
def dev() -> harness.Run:
    return run_stack("dev")


def prod_raw(**changes: Any) -> dict[str, Any]:
    raw = stack_raw("prod")
    raw.update({f"{NS}:{k}": v for k, v in changes.items()})
    return raw


def argv(command: str) -> list[str]:
    """A rendered step's words: ``bash -c SCRIPT gateway-<step> ARGS...``."""
    words = shlex.split(command)
    assert words[:2] == ["bash", "-c"], command[:80]
    return words[3:]


def commands(run: harness.Run) -> dict[str, harness.Resource]:
    """The formation's remote steps, by name (later steps of the program are not this file's business)."""
    return {r.name: r for r in run.by_type(COMMAND) if descends_from(run, r, FORMATION)}


def descends_from(run: harness.Run, resource: harness.Resource, type_: str) -> bool:
    parent = resource.parent
    while parent:
        p = run.by_urn(parent)
        if p.type == type_:
            return True
        parent = p.parent
    return False


# ------------------------------------------------------------------------------------------- the steps


def test_steps_are_named_like_the_run_book(prod):
    names = set(commands(prod))
    expected = {f"{h}-{role}" for h in PROD for role in ("bootstrap", "hosts")}
    # The primary has its membership steps too (they do nothing): moving the primary then deletes none.
    expected |= {f"{h}-{role}" for h in PROD for role in ("add-node", "join")}
    expected |= {ADDONS, KUBECONFIG, HEALTH}
    assert names == expected
    assert {r.name for r in prod.by_type(TOKEN)} == {"gw-prod-2-join-token", "gw-prod-3-join-token"}
    for r in prod.by_type(TOKEN):
        assert descends_from(prod, r, FORMATION), f"{r.urn} is not part of the formation component"


def test_each_step_runs_its_script_on_the_right_node(prod):
    cmds = commands(prod)
    expected: dict[str, tuple[str, list[str]]] = {}
    for h in PROD:
        expected[f"{h}-bootstrap"] = (h, ["gateway-bootstrap", h, "600"])
        expected[f"{h}-hosts"] = (h, ["gateway-hosts", *(w for n in PROD for w in (IPS[n], n))])
    for h in PROD:
        # The primary's own add-node step runs on its deputy, the first other node: its delete (remove-node)
        # must run on a member that stays when the primary itself is removed.
        on = "gw-prod-1" if h != "gw-prod-1" else "gw-prod-2"
        expected[f"{h}-add-node"] = (on, ["gateway-add-node", h, "gw-prod-1", "1800", "600"])
        expected[f"{h}-join"] = (h, ["gateway-join", "10.20.30.41", "gw-prod-1", h, "8", "2", "600"])
    expected[ADDONS] = ("gw-prod-1", ["gateway-addons", "10.20.30.50-10.20.30.50", "600"])
    expected[KUBECONFIG] = ("gw-prod-1", ["gateway-kubeconfig", "10.20.30.41"])
    expected[HEALTH] = ("gw-prod-1", ["gateway-health", "300", *PROD])
    for name, (host, words) in expected.items():
        r = cmds[name]
        assert r.input("connection", "host") == IPS[host], r.urn
        assert r.input("connection", "user") == "gateway-admin", r.urn
        assert argv(r.input("create")) == words, r.urn
        step = words[0].removeprefix("gateway-")
        assert shlex.split(r.input("create"))[2] == scripts.script_text(step), r.urn
    # The delete steps name no primary: they run with the inputs of the last update, when the departing node may
    # still have been the primary.
    for h in PROD:
        assert argv(cmds[f"{h}-join"].input("delete")) == ["gateway-leave", h, "600"]
        assert argv(cmds[f"{h}-add-node"].input("delete")) == ["gateway-remove-node", h, "600"]


@pytest.mark.parametrize(
    ("nodes", "primary", "deputy"),
    [
        (("gw-prod-1", "gw-prod-2", "gw-prod-3"), None, "gw-prod-2"),
        (("gw-prod-1", "gw-prod-2", "gw-prod-3"), "gw-prod-2", "gw-prod-1"),
        (("gw-prod-1", "gw-prod-2", "gw-prod-3"), "gw-prod-3", "gw-prod-1"),
        (("gw-prod-2",), None, "gw-prod-2"),
    ],
    ids=["implicit-primary", "primary-second", "primary-last", "single-node-itself"],
)
def test_the_primary_membership_step_runs_on_its_deputy(nodes, primary, deputy):
    raw = stack_raw("prod")
    raw[f"{NS}:nodes"] = [n for n in raw[f"{NS}:nodes"] if n["hostname"] in nodes]
    if primary is not None:
        raw[f"{NS}:primary"] = primary
    cmds = commands(run_stack(raw=raw))
    chosen = primary or nodes[0]
    for h in nodes:
        on = deputy if h == chosen else chosen
        assert cmds[f"{h}-add-node"].input("connection", "host") == IPS[on], h


# ------------------------------------------------------------------------------------------- the order


def _order_cases() -> Iterator[Any]:
    setup = [f"{h}-{role}" for h in PROD for role in ("bootstrap", "hosts")]
    for s in setup:
        yield pytest.param("gw-prod-2-add-node", s, True, id=f"first token after {s}")
    yield pytest.param("gw-prod-2-join", "gw-prod-2-add-node", True, id="join after its token")
    yield pytest.param("gw-prod-3-add-node", "gw-prod-2-join", True, id="next token after previous join")
    yield pytest.param("gw-prod-3-join", "gw-prod-2-join", True, id="joins one at a time")
    yield pytest.param(ADDONS, "gw-prod-3-join", True, id="addons after the last join")
    yield pytest.param(KUBECONFIG, ADDONS, True, id="kubeconfig after addons")
    yield pytest.param("gw-prod-2-join", "gw-prod-3-add-node", False, id="no token for node 3 before node 2")
    for a in PROD:
        for b in PROD:
            if a != b:
                yield pytest.param(f"{a}-bootstrap", f"{b}-bootstrap", False, id=f"{a} bootstrap parallel to {b}")
    for h in PROD:
        yield pytest.param(f"{h}-bootstrap", f"{h}-hosts", False, id=f"{h} hosts apart from bootstrap")


@pytest.mark.parametrize(("later", "earlier", "waits"), list(_order_cases()))
def test_step_order(prod, later, earlier, waits):
    cmds = commands(prod)
    assert prod.waits_for(cmds[later], cmds[earlier]) is waits, cmds[later].urn


def test_health_gate_comes_last(prod):
    cmds = commands(prod)
    gate = cmds.pop(HEALTH)
    for r in cmds.values():
        assert prod.waits_for(gate, r), f"{gate.urn} does not wait for {r.urn}"
        assert not prod.waits_for(r, gate), r.urn


@pytest.mark.parametrize("hostname", PROD)
def test_steps_on_a_node_wait_for_its_vm(prod, hostname):
    vm = prod.named(f"{hostname}-vm")
    cmds = commands(prod)
    steps = [cmds[f"{hostname}-bootstrap"], cmds[f"{hostname}-hosts"]]
    if hostname != "gw-prod-1":
        steps += [cmds[f"{hostname}-add-node"], cmds[f"{hostname}-join"]]
    for r in steps:
        assert prod.waits_for(r, vm), r.urn
        # The VM's ID is a trigger: a rebuilt VM runs the step again (a replacement, delete steps first).
        assert r.input("triggers") == [vm.id], r.urn


def test_single_node_stack_has_no_join(dev):
    cmds = commands(dev)
    own = {"gw-dev-1-add-node", "gw-dev-1-join"}  # the primary's own membership steps: no-ops
    assert set(cmds) == {"gw-dev-1-bootstrap", "gw-dev-1-hosts", *own, ADDONS, KUBECONFIG, HEALTH}
    assert not dev.by_type(TOKEN)
    for name in own:  # no token: only the sudo password line
        assert cmds[name].input("stdin") == f"{SENTINELS[f'{NS}:sshPassword']}\n", cmds[name].urn
    for s in ("gw-dev-1-bootstrap", "gw-dev-1-hosts", *own):
        assert dev.waits_for(cmds[ADDONS], cmds[s]), s
    assert argv(cmds[HEALTH].input("create")) == ["gateway-health", "300", "gw-dev-1"]
    assert argv(cmds["gw-dev-1-hosts"].input("create")) == ["gateway-hosts", "192.168.56.11", "gw-dev-1"]


def test_another_primary_issues_the_tokens():
    run = run_stack(raw=prod_raw(primary="gw-prod-2"))
    cmds = commands(run)
    assert {n for n in cmds if n.endswith(("-add-node", "-join"))} == {
        f"{h}-{role}" for h in PROD for role in ("add-node", "join")
    }
    assert {r.name for r in run.by_type(TOKEN)} == {"gw-prod-1-join-token", "gw-prod-3-join-token"}
    for name in ("gw-prod-2-join", "gw-prod-2-add-node"):  # the primary's own: no token
        assert cmds[name].input("stdin") == f"{SENTINELS[f'{NS}:sshPassword']}\n", cmds[name].urn
    for name in ("gw-prod-1-add-node", "gw-prod-3-add-node", ADDONS, KUBECONFIG, HEALTH):
        assert cmds[name].input("connection", "host") == "10.20.30.42", name
    assert argv(cmds["gw-prod-3-join"].input("create"))[1:3] == ["10.20.30.42", "gw-prod-2"]
    assert argv(cmds[KUBECONFIG].input("create")) == ["gateway-kubeconfig", "10.20.30.42"]


def test_moving_the_primary_deletes_no_membership_step(prod):
    """A removed join step runs `microk8s leave`: moving the primary must only update them, never delete one."""
    moved = commands(run_stack(raw=prod_raw(primary="gw-prod-2")))
    before = {n: r.urn for n, r in commands(prod).items() if n.endswith(("-add-node", "-join"))}
    assert {n: moved[n].urn for n in before if n in moved} == before, "a membership step would be deleted"


def test_metallb_range_from_config():
    cmds = commands(run_stack(raw=prod_raw(metallbRange="10.20.30.50-10.20.30.59,10.20.30.64/28")))
    assert argv(cmds[ADDONS].input("create"))[1] == "10.20.30.50-10.20.30.59,10.20.30.64/28"


def test_pinned_host_key_reaches_the_nodes_connections():
    raw = prod_raw()
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHj4bN0WkGqPpYz2yTz2p1q9Q0l0b3h9mY0x1JqkzZ0a"
    raw[f"{NS}:nodes"][1]["sshHostKey"] = key
    run = run_stack(raw=raw)
    for r in commands(run).values():
        expected = key if r.input("connection", "host") == "10.20.30.42" else None
        assert r.input("connection").get("hostKey") == expected, r.urn


# ------------------------------------------------------------------------------------------- scale-in


def test_a_leaving_node_leaves_then_is_removed_before_its_vm_goes(prod):
    cmds = commands(prod)
    join, add_node, vm = cmds["gw-prod-3-join"], cmds["gw-prod-3-add-node"], prod.named("gw-prod-3-vm")
    assert argv(join.input("delete")) == ["gateway-leave", "gw-prod-3", "600"]
    assert join.input("connection", "host") == IPS["gw-prod-3"]
    assert argv(add_node.input("delete")) == ["gateway-remove-node", "gw-prod-3", "600"]
    assert add_node.input("connection", "host") == IPS["gw-prod-1"]
    # Pulumi deletes dependents first: the join (leave) before its add-node (remove-node), both before the VM.
    assert prod.waits_for(join, add_node)
    assert prod.waits_for(add_node, vm)
    assert join.options.get("deleteBeforeReplace") and add_node.options.get("deleteBeforeReplace")
    others = [r for r in cmds.values() if not r.name.endswith(("-join", "-add-node"))]
    assert all(not r.inputs.get("delete") for r in others), [r.name for r in others if r.inputs.get("delete")]


def test_removing_a_node_rewrites_hosts_but_never_reruns_bootstrap(prod):
    raw = prod_raw()
    raw[f"{NS}:nodes"] = raw[f"{NS}:nodes"][:2]
    before, after = commands(prod), commands(run_stack(raw=raw))
    assert not any(n.startswith("gw-prod-3") for n in after)
    for h in PROD[:2]:
        # An unchanged step is not run again by `pulumi up`: MicroK8s is not touched.
        b, a = before[f"{h}-bootstrap"], after[f"{h}-bootstrap"]
        assert a.inputs == b.inputs, a.urn
        assert argv(after[f"{h}-hosts"].input("create"))[1:] == ["10.20.30.41", "gw-prod-1", "10.20.30.42", "gw-prod-2"]
    assert after["gw-prod-2-join"].inputs == before["gw-prod-2-join"].inputs
    assert after["gw-prod-2-add-node"].inputs == before["gw-prod-2-add-node"].inputs
    assert argv(after[HEALTH].input("create")) == ["gateway-health", "300", "gw-prod-1", "gw-prod-2"]


# ------------------------------------------------------------------------------------------- secrets


def test_a_new_vm_under_the_same_name_gets_a_new_join_token(prod):
    """The token is kept by the VM's ID: a replaced VM joins with a fresh token, never an expired one again."""
    for token in prod.by_type(TOKEN):
        hostname = token.name.removesuffix("-join-token")
        assert token.input("keepers") == {"vm": prod.named(f"{hostname}-vm").id}, token.urn


def test_join_tokens_are_long_random_secrets(prod):
    for token in prod.by_type(TOKEN):
        assert token.input("length") >= 32, token.urn
        assert token.input("special") is False, token.urn
        assert harness.is_secret(token.state["result"]), token.urn


def test_tokens_travel_only_on_stdin(prod):
    cmds = commands(prod)
    for h in PROD[1:]:
        token = prod.named(f"{h}-join-token").state["result"]["value"]
        for name in (f"{h}-add-node", f"{h}-join"):
            r = cmds[name]
            assert harness.is_secret(r.inputs["stdin"]), r.urn
            # The sudo password line first (MicroK8s runs as root), then the token.
            assert r.input("stdin") == f"{SENTINELS[f'{NS}:sshPassword']}\n{token}\n", r.urn
            for phase in ("create", "delete"):
                assert token not in r.input().get(phase, ""), f"{r.urn}: the token is in its {phase} command"
            assert set(r.options["additionalSecretOutputs"]) >= {"stdout", "stderr"}, r.urn
    tokens = [t.state["result"]["value"] for t in prod.by_type(TOKEN)]
    for r in prod.resources:
        for where, value in (("inputs", r.inputs), ("outputs", r.state), ("component outputs", r.component_outputs)):
            for text, inside_secret in harness.plain_strings(value):
                assert inside_secret or not any(t in text for t in tokens), f"a join token in the {where} of {r.urn}"


def test_sudo_password_is_fed_on_stdin():
    password = SENTINELS[f"{NS}:sshPassword"]
    cmds = commands(run_stack())
    for name in ("gw-prod-1-bootstrap", "gw-prod-2-hosts", "gw-prod-1-join", ADDONS, KUBECONFIG, HEALTH):
        r = cmds[name]
        assert harness.is_secret(r.inputs["stdin"]), r.urn
        assert r.input("stdin") == f"{password}\n", r.urn
    for h in PROD:
        for name in (f"{h}-bootstrap", f"{h}-hosts"):
            r = cmds[name]
            assert harness.is_secret(r.inputs["stdin"]), r.urn
            assert r.input("stdin") == f"{password}\n", r.urn
    for r in cmds.values():
        assert harness.is_secret(r.inputs["connection"]), r.urn
        for phase in ("create", "delete"):
            assert password not in r.input().get(phase, ""), f"{r.urn}: the password is in its {phase} command"
        # A stock sshd refuses a session's environment but LANG and LC_* (AcceptEnv), which fails the step.
        assert "environment" not in r.inputs, r.urn
        # Nor may a step's old output (a kubeconfig) be sent along as PULUMI_COMMAND_STDOUT.
        assert r.input("addPreviousOutputInEnv") is False, r.urn


def test_without_a_password_sudo_gets_no_stdin():
    secrets = {k: v for k, v in SENTINELS.items() if k != f"{NS}:sshPassword"}
    cmds = commands(run_stack(secrets=secrets))
    for h in PROD:
        assert "stdin" not in cmds[f"{h}-bootstrap"].inputs
        assert "stdin" not in cmds[f"{h}-hosts"].inputs
        assert "password" not in cmds[f"{h}-bootstrap"].input("connection")
    for name in ("gw-prod-1-join", ADDONS, KUBECONFIG, HEALTH):
        assert "stdin" not in cmds[name].inputs, name
    # A joining node's steps still get the token, after an empty sudo line.
    assert cmds["gw-prod-2-join"].input("stdin").startswith("\n"), cmds["gw-prod-2-join"].urn


@pytest.mark.parametrize(
    ("name", "logging", "secret_outputs"),
    [
        pytest.param(KUBECONFIG, "none", {"stdout", "stderr"}, id="kubeconfig"),
        pytest.param("gw-prod-2-add-node", "none", {"stdout", "stderr"}, id="add-node"),
        pytest.param("gw-prod-2-join", "stderr", {"stdout", "stderr"}, id="join"),
        pytest.param("gw-prod-1-bootstrap", "stderr", {"stdout", "stderr"}, id="bootstrap"),
        pytest.param("gw-prod-1-hosts", "stderr", {"stdout", "stderr"}, id="hosts"),
        pytest.param(ADDONS, "stderr", {"stdout", "stderr"}, id="addons"),
        pytest.param(HEALTH, "stderr", {"stdout", "stderr"}, id="health"),
    ],
)
def test_logging_is_off_where_stdout_could_hold_a_secret(prod, name, logging, secret_outputs):
    r = commands(prod)[name]
    assert r.input("logging") == logging, r.urn
    # pulumi-command itself adds the connection.
    assert set(r.options.get("additionalSecretOutputs", [])) == {"connection", *secret_outputs}, r.urn


def test_kubeconfig_is_a_secret_export(prod):
    assert harness.is_secret(prod.outputs["kubeconfig"])
    cluster = prod.named("gateway")
    assert harness.is_secret(cluster.component_outputs["kubeconfig"]), cluster.urn
    formation = prod.named("gateway-formation")
    assert harness.is_secret(formation.component_outputs["kubeconfig"]), formation.urn
    assert harness.is_secret(commands(prod)[KUBECONFIG].state["stdout"])


# ------------------------------------------------------------------------------------------- scripts


def _shellcheck() -> str:
    local = Path(sys.executable).parent / "shellcheck"
    return str(local) if local.exists() else "shellcheck"


@pytest.fixture(scope="module")
def shellcheck_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """shellcheck's findings for every step script as committed (``add-node.sh``) and as rendered, lib.sh inlined,
    as it runs on a node (``add-node.sh rendered``), and for ``lib.sh``: one shellcheck process for them all."""
    rendered = tmp_path_factory.mktemp("rendered")
    labels = {str(scripts.SCRIPTS_DIR / "lib.sh"): "lib.sh"}
    for step in scripts.STEPS:
        labels[str(scripts.SCRIPTS_DIR / f"{step}.sh")] = f"{step}.sh"
        (rendered / f"{step}.sh").write_text(scripts.script_text(step))
        labels[str(rendered / f"{step}.sh")] = f"{step}.sh rendered"
    result = subprocess.run(
        [_shellcheck(), "-s", "bash", "-f", "json1", *labels], capture_output=True, text=True, check=False
    )
    assert result.returncode in (0, 1) and result.stdout, result.stderr  # 1: there are findings, reported per file
    findings: dict[str, list[str]] = {label: [] for label in labels.values()}
    for c in json.loads(result.stdout)["comments"]:
        where = f"{c['file']}:{c['line']}:{c['column']}"
        findings[labels[c["file"]]].append(f"{where}: SC{c['code']} ({c['level']}) {c['message']}")
    return findings


@pytest.mark.parametrize("step", scripts.STEPS)
def test_step_script_is_strict_and_shellcheck_clean(step: str, shellcheck_findings: dict[str, list[str]]):
    text = (scripts.SCRIPTS_DIR / f"{step}.sh").read_text()
    assert "\nset -euo pipefail\n" in text
    for label in (f"{step}.sh", f"{step}.sh rendered"):
        assert shellcheck_findings[label] == [], "\n".join(shellcheck_findings[label])


def test_lib_is_shellcheck_clean(shellcheck_findings: dict[str, list[str]]):
    assert shellcheck_findings["lib.sh"] == [], "\n".join(shellcheck_findings["lib.sh"])


def test_arguments_are_quoted():
    nasty = ["gw 1", "$(touch /tmp/pwned)", "a'b", "x;y", "*"]
    command = scripts.render("health", "300", *nasty)
    assert shlex.split(command)[3:] == ["gateway-health", "300", *nasty]
    # And a shell, not only shlex, reads it back so: a script gets its arguments intact, nothing is run.
    echo = scripts.command_line('printf "%s\\n" "$0" "$@"', "gateway-echo", *nasty)
    out = subprocess.run(["sh", "-c", echo], capture_output=True, text=True, check=True, cwd="/").stdout
    assert out.splitlines() == ["gateway-echo", *nasty]
    assert not Path("/tmp/pwned").exists()


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step"):
        scripts.script_text("reboot")
