"""Images in use: `ova` for new and rebuilt nodes, `ova.retain` for older images nodes still run; each kept
image's library item, each node's `image` output, and the policy retained-images-in-use."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.node import image_version
from gatewayctl import harness
from policies import gateway_policies as gp
from policies.gateway_policies.rules.retained_images_in_use import image_findings
from tests.support.policy_fixtures import FACTS, check_stack, record
from tests.support.stacks import gatewayctl, run_stack, stack_raw

NS = "gateway-cluster"
ITEM = "vsphere:index/contentLibraryItem:ContentLibraryItem"
OLD = {"version": "17.0.0", "url": "https://downloads.example.com/opsramp/gateway-17.0.0.ova"}
NEW = {"version": "18.0.0", "url": "https://downloads.example.com/opsramp/gateway-18.0.0.ova"}


def upgraded(deploy: str = "library", retain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """prod with 18.0.0 as `ova` and 17.0.0 (prod's image) retained, unless ``retain`` says otherwise."""
    raw = copy.deepcopy(stack_raw("prod"))
    raw[f"{NS}:ova"] = {**NEW, "deploy": deploy, "retain": [OLD] if retain is None else retain}
    return raw


def items_by_version(run: harness.Run) -> dict[str, harness.Resource]:
    return {r.inputs["name"].split("-")[1]: r for r in run.by_type(ITEM)}


# ------------------------------------------------------------------------------------------------- config


RETAIN_ERRORS = [
    pytest.param([{"version": "16.4.0"}], "ova.retain[0]", "not neither", id="no-source"),
    pytest.param(
        [{"version": "16.4.0", "url": "https://a.example.com/a.ova", "path": "/srv/a.ova"}],
        "ova.retain[0]",
        "not both",
        id="both-sources",
    ),
    pytest.param(
        [{**OLD, "version": "18.0.0"}],
        "ova.retain[0].version",
        "duplicates gateway-cluster:ova.version",
        id="current-version",
    ),
    pytest.param(
        [OLD, {**OLD, "url": "https://b.example.com/b.ova"}],
        "ova.retain[1].version",
        "retain[0].version",
        id="version-twice",
    ),
    pytest.param(
        [{**OLD, "url": NEW["url"]}], "ova.retain[0].url", "the same file cannot be two versions", id="current-source"
    ),
    pytest.param(
        [{"version": "16.4.0", "url": "ftp://a.example.com/a.ova"}], "ova.retain[0].url", "http", id="not-http"
    ),
    pytest.param([{"version": "16.4.0", "path": "/srv/a.img"}], "ova.retain[0].path", ".ova or .ovf", id="not-an-ova"),
    pytest.param({"version": "16.4.0"}, "ova.retain", "list", id="not-a-list"),
]


@pytest.mark.parametrize(("retain", "key", "message"), RETAIN_ERRORS)
def test_bad_retained_image_exits_2_naming_the_entry(retain: Any, key: str, message: str):
    ova = {**NEW, "deploy": "library", "retain": retain}
    code, out, err = gatewayctl("plan", "--json", "--stack", "prod", "--config", f"{NS}:ova={json.dumps(ova)}")
    assert code == 2, err
    errors = json.loads(out)["errors"]
    mine = [e for e in errors if e["key"] == f"{NS}:{key}"]
    assert mine, f"no error on {key}: {errors}"
    assert message in mine[0]["message"], mine[0]
    assert "Traceback" not in err


# -------------------------------------------------------------------------------------------- library items


def test_each_kept_image_has_its_library_item():
    run = run_stack(raw=upgraded())
    items = items_by_version(run)
    assert set(items) == {"17.0.0", "18.0.0"}
    assert items["17.0.0"].inputs["fileUrl"] == OLD["url"]
    assert items["18.0.0"].inputs["fileUrl"] == NEW["url"]
    [library] = run.by_type("vsphere:index/contentLibrary:ContentLibrary")
    for item in items.values():
        assert item.parent == library.parent, item.urn
    # New and rebuilt nodes clone from the current image's item.
    for vm in run.by_type(gp.VM):
        assert vm.inputs["clone"]["templateUuid"] == items["18.0.0"].id, vm.urn


def test_an_image_moved_to_retain_keeps_its_item():
    """The item's URN (and so its ID, which the nodes not yet rebuilt were cloned from) does not change when its
    version moves from `ova` to `ova.retain`; dropping it from `ova.retain` deletes it."""
    before = items_by_version(run_stack("prod"))
    during = items_by_version(run_stack(raw=upgraded()))
    after = items_by_version(run_stack(raw=upgraded(retain=[])))
    assert during["17.0.0"].urn == before["17.0.0"].urn
    assert during["17.0.0"].inputs == before["17.0.0"].inputs
    assert set(after) == {"18.0.0"} and after["18.0.0"].urn == during["18.0.0"].urn


def test_ovf_mode_keeps_no_library():
    run = run_stack(raw=upgraded(deploy="ovf"))
    assert run.by_type(ITEM) == []


# ------------------------------------------------------------------------------------------ nodes[i].image


IMAGE_CASES = [
    pytest.param("item-18", {"item-18": "18.0.0", "item-17": "17.0.0"}, "18.0.0", id="current"),
    pytest.param("item-17", {"item-18": "18.0.0", "item-17": "17.0.0"}, "17.0.0", id="retained"),
    pytest.param("item-16", {"item-18": "18.0.0", "item-17": "17.0.0"}, None, id="dropped-from-retain"),
    pytest.param(None, {"item-18": "18.0.0"}, None, id="no-source"),
    pytest.param("", {"": "18.0.0"}, None, id="empty-source"),
]


@pytest.mark.parametrize(("source", "versions", "expected"), IMAGE_CASES)
def test_image_version(source: str | None, versions: dict[str, str], expected: str | None):
    assert image_version(source, versions) == expected


@pytest.mark.parametrize("deploy", ["library", "ovf"])
def test_nodes_output_names_each_nodes_image(deploy: str):
    """On a new stack every node is made from `ova`; on an existing one the VM's state says (the pure function
    above decides between the kept images)."""
    run = run_stack(raw=upgraded(deploy=deploy))
    nodes = run.outputs["nodes"]
    assert [n["image"] for n in nodes] == ["18.0.0"] * 3, nodes
    for node in (r for r in run.resources if r.type == "gateway-cluster:index:GatewayNode"):
        assert node.component_outputs and node.component_outputs["image"] == "18.0.0", node.urn


# ------------------------------------------------------------------------------- retained-images-in-use


FINDINGS = [
    pytest.param([("gw-1", "18"), ("gw-2", "17"), ("gw-3", "17")], ["17"], [], id="mid-upgrade"),
    pytest.param([("gw-1", "18"), ("gw-2", "18"), ("gw-3", "18")], ["17"], ["retained image 17"], id="done"),
    pytest.param([("gw-1", "18"), ("gw-2", None)], [], ["node 'gw-2' runs an image"], id="image-not-kept"),
    pytest.param([("gw-1", "18")], ["17", "16"], ["retained image 17", "retained image 16"], id="two-unused"),
    pytest.param([], ["17"], ["retained image 17"], id="no-nodes"),
]


@pytest.mark.parametrize(("nodes", "retained", "expected"), FINDINGS)
def test_image_findings(nodes: list[tuple[str, str | None]], retained: list[str], expected: list[str]):
    findings = image_findings(nodes, retained)
    assert len(findings) == len(expected), findings
    for finding, start in zip(findings, expected, strict=True):
        assert start in finding
        assert "gateway-cluster:" in finding, "names the config key to change"


def cluster_with(images: list[Any], retained: Any) -> list[harness.Resource]:
    nodes = [{"hostname": f"gw-{i}", "image": image} for i, image in enumerate(images, start=1)]
    return [record(gp.CLUSTER, "gateway", FACTS, custom=False, outputs={"nodes": nodes, "retainedImages": retained})]


STACK_CASES = [
    pytest.param(["18", "17", "17"], ["17"], 0, id="in-use"),
    pytest.param(["18", "18", "18"], ["17"], 1, id="unused"),
    pytest.param(["18", {harness.SIG_KEY: harness.OUTPUT_SIG}, "18"], ["17"], 0, id="unknown-image-not-judged"),
    pytest.param(["18"], {harness.SIG_KEY: harness.OUTPUT_SIG}, 0, id="unknown-retain-not-judged"),
]


@pytest.mark.parametrize(("images", "retained", "reports"), STACK_CASES)
def test_retained_images_in_use_validator(images: list[Any], retained: Any, reports: int):
    resources = cluster_with(images, retained)
    found = check_stack(gp.retained_images_in_use_validator, resources)
    assert len(found) == reports, found
    assert all(where == resources[0].urn for _, where in found)


def test_plan_of_a_finished_upgrade_advises_releasing_the_old_image():
    code, out, err = gatewayctl(
        "plan", "--json", "--stack", "prod", "--config", f"{NS}:ova={json.dumps({**NEW, 'retain': [OLD]})}"
    )
    assert code == 0, err
    advice = [v for v in json.loads(out)["violations"] if v["policy"] == "retained-images-in-use"]
    assert [v["level"] for v in advice] == ["advisory"]
    assert "retained image 17.0.0" in advice[0]["message"]


# ---------------------------------------------------------------------------- preflight: nodes.images


def placement(images: dict[str, str | None]) -> Any:
    from gatewayctl.commands.preflight.vcenter_checks import Placement

    return Placement(own_vms=set(images), own_images=dict(images))


PREFLIGHT_IMAGES = [
    pytest.param({}, [], None, id="new-stack-no-row"),
    pytest.param({"gw-prod-1": "17.0.0", "gw-prod-2": "17.0.0", "gw-prod-3": "17.0.0"}, [], "pass", id="all-on-ova"),
    pytest.param({"gw-prod-1": "16.4.0", "gw-prod-2": "17.0.0", "gw-prod-3": "17.0.0"}, [], "warn", id="stray-image"),
    pytest.param(
        {"gw-prod-1": "16.4.0", "gw-prod-2": "17.0.0", "gw-prod-3": "17.0.0"},
        [{"version": "16.4.0", "url": "https://a.example.com/a.ova"}],
        "pass",
        id="mid-upgrade-retained",
    ),
    pytest.param(
        {"gw-prod-1": "17.0.0", "gw-prod-2": "17.0.0", "gw-prod-3": "17.0.0"},
        [{"version": "16.4.0", "url": "https://a.example.com/a.ova"}],
        "warn",
        id="retained-unused",
    ),
    pytest.param(
        {"gw-prod-1": None, "gw-prod-2": "17.0.0", "gw-prod-3": "17.0.0"},
        [{"version": "16.4.0", "url": "https://a.example.com/a.ova"}],
        "pass",
        id="unknown-image-not-judged-unused",
    ),
]


@pytest.mark.parametrize(("images", "retain", "status"), PREFLIGHT_IMAGES)
def test_preflight_reports_the_nodes_images(images: dict[str, str | None], retain: list[Any], status: str | None):
    from gatewayctl import stackfile
    from gatewayctl.commands.preflight.vcenter_checks import check_node_images
    from tests.support.stacks import PROJECT

    ova = json.dumps({**stack_raw("prod")[f"{NS}:ova"], "retain": retain})
    settings, _ = stackfile.load_settings(PROJECT, "prod", {f"{NS}:ova": ova})
    rows = check_node_images(settings, placement(images))
    if status is None:
        assert rows == []
        return
    [row] = rows
    assert (row.id, row.status) == ("nodes.images", status), row
    for hostname, version in images.items():
        assert f"{hostname} {version or 'unknown'}" in row.message
    if status == "warn":
        assert row.fix and "gateway-cluster:" in row.fix
