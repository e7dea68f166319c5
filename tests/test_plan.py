"""`gatewayctl plan`: the offline preview's documents, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatewayctl import harness, stackfile
from tests.support.stacks import PROJECT, gatewayctl, make_project, run_stack, stack_raw

NS = "gateway-cluster"
VM = "vsphere:index/virtualMachine:VirtualMachine"


@pytest.fixture(scope="module")
def prod_doc() -> dict[str, Any]:
    code, out, err = gatewayctl("plan", "--stack", "prod", "--json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_json_document_shape(prod_doc):
    assert set(prod_doc) == {"stack", "resources", "outputs", "secretsNeeded", "violations"}
    assert prod_doc["stack"] == "prod"
    urns = {r["urn"] for r in prod_doc["resources"]}
    for r in prod_doc["resources"]:
        assert set(r) == {"urn", "type", "name", "parent", "provider", "dependencies", "inputs", "options"}, r["urn"]
        assert set(r["options"]) == OPTION_KEYS, r["urn"]
        assert r["urn"].endswith(f"{r['type']}::{r['name']}"), r["urn"]
        for dep in r["dependencies"]:
            assert dep in urns, f"{r['urn']} depends on an unknown {dep}"
        assert r["provider"] is None or r["provider"] in urns, r["urn"]
    stack_urn = "urn:pulumi:prod::gateway-cluster::pulumi:pulumi:Stack::gateway-cluster-prod"
    assert {r["parent"] for r in prod_doc["resources"]} <= urns | {stack_urn}


OPTION_KEYS = {"ignoreChanges", "replaceOnChanges", "deleteBeforeReplace", "protect", "retainOnDelete"}


def test_json_options_show_what_an_update_may_touch(prod_doc):
    """Every resource carries all five options, defaults included, as the program registered them."""
    run = run_stack("prod")
    by_urn = {r.urn: r for r in run.resources}
    seen_true = set()
    for r in prod_doc["resources"]:
        opts, registered = r["options"], by_urn[r["urn"]].options
        assert isinstance(opts["ignoreChanges"], list) and isinstance(opts["replaceOnChanges"], list), r["urn"]
        assert opts["ignoreChanges"] == registered.get("ignoreChanges", []), r["urn"]
        for flag in ("deleteBeforeReplace", "protect", "retainOnDelete"):
            assert opts[flag] is bool(registered.get(flag)), r["urn"]
            if opts[flag]:
                seen_true.add(flag)
    vms = [r for r in prod_doc["resources"] if r["type"] == VM]
    assert all("firmware" in vm["options"]["ignoreChanges"] for vm in vms)
    # The join steps are replaced delete-before-replace; defaults (False) show for everything else.
    assert "deleteBeforeReplace" in seen_true
    assert any(not r["options"]["deleteBeforeReplace"] for r in prod_doc["resources"])


def test_plan_marks_the_vm_a_rebuild_replaces(tmp_path: Path):
    """Text: a suffix on the rebuilt VM's line only; JSON: its options say delete-before-replace, image inputs
    no longer ignored."""
    raw = stack_raw("prod")
    raw[f"{NS}:rebuild"] = ["gw-prod-2"]
    project = make_project(tmp_path, {"rebuild": raw})
    code, out, err = gatewayctl("plan", "--stack", "rebuild", cwd=project)
    assert code == 0, err
    marked = [line for line in out.splitlines() if "[rebuild: replaced, delete-before-replace]" in line]
    assert len(marked) == 1 and VM in marked[0] and "name=gw-prod-2" in marked[0], marked
    code, out, err = gatewayctl("plan", "--stack", "rebuild", "--json", cwd=project)
    assert code == 0, err
    vms = {r["inputs"]["name"]: r["options"] for r in json.loads(out)["resources"] if r["type"] == VM}
    assert vms["gw-prod-2"]["deleteBeforeReplace"] is True and "clone" not in vms["gw-prod-2"]["ignoreChanges"]
    assert all(
        not vms[n]["deleteBeforeReplace"] and "clone" in vms[n]["ignoreChanges"] for n in ("gw-prod-1", "gw-prod-3")
    )


def test_prod_acceptance(prod_doc):
    vms = [r for r in prod_doc["resources"] if r["type"] == VM]
    assert len(vms) == 3
    assert len({vm["inputs"]["hostSystemId"] for vm in vms}) == 3
    for vm in vms:
        inputs = vm["inputs"]
        assert inputs["numCpus"] >= 4 and inputs["memory"] >= 8192 and inputs["disks"][0]["size"] >= 40, vm["urn"]
        assert isinstance(inputs["numCpus"], int), "numbers are shown as the program wrote them"
    node_ips = {n["hostname"]: n["ip"] for n in stack_raw("prod")[f"{NS}:nodes"]}
    for vm in vms:
        props = vm["inputs"]["vapp"]["properties"]
        assert props["guestinfo.hostname"] == vm["inputs"]["name"]
        assert props["guestinfo.ipaddress"] == node_ips[vm["inputs"]["name"]]
    fetching = [r for r in prod_doc["resources"] if "fileUrl" in r["inputs"] or "ovfDeploy" in r["inputs"]]
    assert len(fetching) == 1


def test_secrets_needed_lists_what_pulumi_up_must_be_given(prod_doc):
    assert prod_doc["secretsNeeded"] == [
        "gateway-cluster:managerPassword",
        "gateway-cluster:sshPrivateKey",
        "vsphere:password",
    ]


@pytest.mark.parametrize("count", [1, 7], ids=["one-node", "seven-nodes"])
def test_small_and_large_clusters_plan(tmp_path: Path, count: int):
    raw = stack_raw("prod")
    raw[f"{NS}:nodes"] = [
        {"hostname": f"gw-{i}", "esxiHost": f"esx-{i}.corp.example.com", "ip": f"10.20.30.{60 + i}"}
        for i in range(count)
    ]
    project = make_project(tmp_path, {"sized": raw})
    code, out, err = gatewayctl("plan", "--stack", "sized", "--json", "--no-policies", cwd=project)
    assert code == 0, err
    vms = [r for r in json.loads(out)["resources"] if r["type"] == VM]
    assert sorted(vm["inputs"]["name"] for vm in vms) == sorted(f"gw-{i}" for i in range(count))


def test_secure_values_are_stood_in_and_listed(tmp_path: Path):
    raw = stack_raw("dev")
    raw[f"{NS}:sshPassword"] = {"secure": "v1:AAAABBBB"}
    raw[f"{NS}:managerPassword"] = {"secure": "v1:CCCCDDDD"}
    raw["vsphere:password"] = {"secure": "v1:EEEEFFFF"}
    project = make_project(tmp_path, {"enc": raw})
    code, out, err = gatewayctl("plan", "--stack", "enc", "--json", "--no-policies", cwd=project)
    assert code == 0, err
    assert json.loads(out)["secretsNeeded"] == [
        "gateway-cluster:managerPassword",
        "gateway-cluster:sshPassword",
        "vsphere:password",
    ]
    assert "v1:" not in out


def test_prepare_treats_plaintext_secret_keys_as_secrets():
    raw = stack_raw("dev")
    raw[f"{NS}:managerPassword"] = "hunter2-but-plain"
    prepared = stackfile.prepare(raw, "dev")
    assert f"{NS}:managerPassword" in prepared.secret_keys
    assert any("plaintext" in w and f"{NS}:managerPassword" in w for w in prepared.warnings)
    assert f"{NS}:managerPassword" not in prepared.secrets_needed


def test_text_plan_shows_the_tree_outputs_and_secrets():
    code, out, err = gatewayctl("plan", "--stack", "prod")
    assert code == 0, err
    lines = out.splitlines()
    vm_lines = [line for line in lines if VM in line]
    assert len(vm_lines) == 3
    assert "host=esx-01.corp.example.com (host-" in vm_lines[0] and "cpus=4" in vm_lines[0]
    assert any(line.strip().startswith("managerUrl: https://10.20.30.50:5480") for line in lines)
    assert "gateway-cluster:managerPassword" in out
    # Tree order: each resource comes after its parent.
    names = [line.split("+ ", 1)[1].split("  ")[1] for line in lines if "+ " in line and "  " in line.split("+ ", 1)[1]]
    assert names.index("gw-prod-1") < names.index("gw-prod-1-vm") < names.index("gw-prod-2")


def test_unknown_stack_exits_3():
    code, out, err = gatewayctl("plan", "--stack", "nope")
    assert code == 3 and out == ""
    assert "Pulumi.nope.yaml" in err and "dev, prod" in err and "Traceback" not in err


def test_missing_esxi_host_in_inventory_exits_3_naming_it(monkeypatch):
    real = harness.DeclaredInventory(missing=frozenset({("host", "esx-02.corp.example.com")}))
    monkeypatch.setattr(harness, "DeclaredInventory", lambda: real)
    code, _, err = gatewayctl("plan", "--stack", "prod", "--no-policies")
    assert code == 3
    assert "host 'esx-02.corp.example.com' not found" in err and "Traceback" not in err


def test_bad_override_and_policy_config_file_exit_2(tmp_path: Path):
    """Usage: 2, as for a command line argparse rejects (no project or stack file: 3)."""
    code, _, err = gatewayctl("plan", "--stack", "prod", "--config", "primary")
    assert code == 2 and "namespace:key=value" in err
    bad = tmp_path / "policy.json"
    bad.write_text("{not json")
    code, _, err = gatewayctl("plan", "--stack", "prod", "--policy-config", str(bad))
    assert code == 2 and "not valid JSON" in err
    code, _, err = gatewayctl("plan", "--stack", "prod", cwd=tmp_path)
    assert code == 3 and "no Pulumi.yaml" in err and "Run gatewayctl from the project root" in err


def test_whole_process_plan_exits_cleanly():
    """And imports neither pyVmomi nor asyncssh, which only the commands that reach vCenter or the nodes use (each
    costs a tenth of a second at every start)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gatewayctl", "plan", "--stack", "dev", "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stack"] == "dev"
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "pulumi" in imported, "-X importtime lists what was imported"
    assert not {"pyVmomi", "asyncssh"} & imported


STACK_FILES = [
    ("top-level-list", b"- config\n", "must be a map with 'config:'"),
    ("config-list", b"config: [1, 2]\n", "must be a map with 'config:'"),
    ("not-utf8", b"config:\n  gateway-cluster:sshUser: \xff\xfe\n", "is not UTF-8"),
    ("bad-yaml", b"config: {\n", "is not valid YAML"),
]


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in STACK_FILES], ids=[c[0] for c in STACK_FILES])
def test_unusable_stack_file_exits_3_naming_it(tmp_path: Path, content: bytes, message: str):
    project = make_project(tmp_path, {})
    (project / "Pulumi.odd.yaml").write_bytes(content)
    for argv in (["--json"], []):
        code, out, err = gatewayctl("plan", "--stack", "odd", *argv, cwd=project)
        assert (code, out) == (3, ""), err
        assert "Pulumi.odd.yaml" in err and message in err and "internal error" not in err


def test_stack_file_scalars_read_as_the_pulumi_cli_reads_them(tmp_path: Path):
    """Pulumi's YAML 1.2 reader keeps 2024-05-01 and `yes` as text; PyYAML's 1.1 rules would make a date (not even
    JSON) and a boolean."""
    project = make_project(tmp_path, {})
    text = (PROJECT / "Pulumi.dev.yaml").read_text()
    text = text.replace("version: 17.0.0", "version: 2024-05-01").replace("sshUser: gateway-admin", "sshUser: yes")
    (project / "Pulumi.lit.yaml").write_text(text)
    code, out, err = gatewayctl("plan", "--stack", "lit", "--json", "--no-policies", cwd=project)
    assert code == 0, err
    resources = json.loads(out)["resources"]
    (gateway,) = [r for r in resources if r["type"] == "gateway-cluster:index:GatewayCluster"]
    assert gateway["inputs"]["ova"]["version"] == "2024-05-01"
    assert stackfile.read_stack(project, "lit")[f"{NS}:sshUser"] == "yes"


YAML_12_SCALARS = """config:
  a: 2024-05-01
  b: [yes, no, on, off, y, n, true, False, TRUE]
  c: {d: 0x1F, e: 017, f: 1_000, g: .5, h: ~, i: null, j: "2024-05-01", k: 1e3, l: .inf}
"""


@pytest.mark.parametrize(
    "text",
    [YAML_12_SCALARS, *(p.read_text() for p in sorted(PROJECT.glob("Pulumi.*.yaml")))],
    ids=["scalars", *(p.name for p in sorted(PROJECT.glob("Pulumi.*.yaml")))],
)
def test_libyaml_reads_stack_files_as_the_python_parser_does(text: str):
    """Stack files are read with libyaml's parser for speed; PyYAML's own parser, with the same YAML 1.2 scalar
    rules, reads the same values."""
    fast = yaml.load(text, Loader=stackfile._FastPulumiYamlLoader)
    assert fast == yaml.load(text, Loader=stackfile._PulumiYamlLoader)
    assert fast is not None and not any(isinstance(v, bool) for v in fast["config"].get("b", [])[:6])


def test_a_yaml_error_shows_the_line_it_is_on(tmp_path: Path):
    project = make_project(tmp_path, {})
    (project / "Pulumi.odd.yaml").write_text("config:\n  gateway-cluster:nodes:\n    - hostname: a\n   bad: [\n")
    code, out, err = gatewayctl("plan", "--stack", "odd", cwd=project)
    assert (code, out) == (3, "")
    assert "line 4, column 4:\n       bad: [\n       ^" in err, err


def test_warnings_reach_stderr_even_when_the_config_is_invalid(tmp_path: Path):
    """An encrypted value inside a map is left out offline; the warning explains the error that follows."""
    raw = stack_raw("prod")
    raw[f"{NS}:storage"] = {"nfsServer": "nfs01", "nfsPath": {"secure": "v1:AAAA"}}
    raw[f"{NS}:floatingIp"] = "not-an-ip"
    project = make_project(tmp_path, {"enc": raw})
    code, out, err = gatewayctl("plan", "--stack", "enc", "--json", cwd=project)
    assert code == 2
    assert json.loads(out)["error"]["key"] == f"{NS}:floatingIp"
    assert f"warning: {NS}:storage holds an encrypted value inside a map" in err
