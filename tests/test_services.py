"""The gateway services and registration under Pulumi's mock runtime: order, values, secrets, charts, config."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import config as cfg
from components import services
from gatewayctl import harness
from tests.support.stacks import PROJECT, SENTINELS, flat_config, gatewayctl, run_stack, stack_raw

NS = "gateway-cluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"
REGISTRATION = "pulumi-python:dynamic/gateway:Registration"
PROFILE = "pulumi-python:dynamic/gateway:ManagementProfile"
CLIENT_SENTINELS = {
    f"{NS}:registrationClientKey": "SENTINEL-client-key-3e9a71",
    f"{NS}:registrationClientSecret": "SENTINEL-client-secret-c02f5d",
}
ALL_SENTINELS = {**SENTINELS, **CLIENT_SENTINELS}
Raw = dict[str, Any]


def secrets(*, drop: tuple[str, ...] = (), add: Mapping[str, str] | None = None) -> dict[str, str]:
    values = {k: v for k, v in SENTINELS.items() if k.split(":", 1)[1] not in drop}
    values.update(add or {})
    return values


def platform_raw() -> Raw:
    raw = stack_raw("prod")
    raw[f"{NS}:registration"] = {"server": "acme.api.opsramp.com", "tenantId": "client_42", "profileName": "gw-prod"}
    return raw


PLATFORM_SECRETS = secrets(drop=("activationToken",), add=CLIENT_SENTINELS)


@pytest.fixture(scope="module")
def prod() -> harness.Run:
    return run_stack("prod")


@pytest.fixture(scope="module")
def platform() -> harness.Run:
    return run_stack("prod", raw=platform_raw(), secrets=PLATFORM_SECRETS)


@pytest.fixture(scope="module")
def skipped() -> harness.Run:
    return run_stack("prod", secrets=secrets(drop=("activationToken",)))


@pytest.fixture(scope="module")
def dev() -> harness.Run:
    return run_stack("dev")


@pytest.fixture(scope="module")
def runs(prod: harness.Run, platform: harness.Run, skipped: harness.Run, dev: harness.Run) -> dict[str, harness.Run]:
    return {"prod": prod, "platform": platform, "skipped": skipped, "dev": dev}


def one(run: harness.Run, type_: str, name: str | None = None) -> harness.Resource:
    found = [r for r in run.by_type(type_) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.urn for r in found]}"
    return found[0]


# ---------------------------------------------------------------------------------------------------- order

ORDER = [
    ("storage-after-addons", RELEASE, "gateway-persistent-storage", "command:remote:Command", "addons-enable"),
    ("storage-after-health-gate", RELEASE, "gateway-persistent-storage", "command:remote:Command", "health"),
    ("manager-after-storage", RELEASE, "gateway-manager", RELEASE, "gateway-persistent-storage"),
    ("registration-after-manager", REGISTRATION, None, RELEASE, "gateway-manager"),
    ("k8s-provider-after-health-gate", K8S_PROVIDER, None, "command:remote:Command", "health"),
]


@pytest.mark.parametrize("stack", ["prod", "platform"])
@pytest.mark.parametrize(
    ("first_type", "first", "then_type", "then"), [o[1:] for o in ORDER], ids=[o[0] for o in ORDER]
)
def test_order(
    runs: dict[str, harness.Run], stack: str, first_type: str, first: str | None, then_type: str, then: str
) -> None:
    run = runs[stack]
    resource = one(run, first_type, first)
    (before,) = [r for r in run.by_type(then_type) if r.name == then or r.name.endswith(f"-{then}")]
    assert run.waits_for(resource, before), f"{resource.urn} does not wait for {before.urn}"


def test_profile_is_made_after_the_manager_and_feeds_the_registration(platform: harness.Run) -> None:
    profile, registration = one(platform, PROFILE), one(platform, REGISTRATION)
    assert platform.waits_for(profile, one(platform, RELEASE, "gateway-manager")), profile.urn
    assert profile.urn in registration.property_dependencies.get("activation_token", []), registration.urn


# ------------------------------------------------------------------------------------------------- releases


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_releases_are_pinned_and_use_the_clusters_kubeconfig(runs: dict[str, harness.Run], stack: str) -> None:
    run = runs[stack]
    provider = one(run, K8S_PROVIDER)
    assert harness.is_secret(provider.inputs["kubeconfig"]), provider.urn
    for name, role in (("gateway-persistent-storage", "storage"), ("gateway-manager", "manager")):
        release = one(run, RELEASE, name)
        chart_name, version = cfg.DEFAULT_CHARTS[role]
        assert release.provider == provider.urn, release.urn
        assert release.input("name") == name, release.urn
        assert release.input("version") == version, release.urn
        assert release.input("chart") == f"{cfg.DEFAULT_CHART_REPOSITORY}/{chart_name}", release.urn


@pytest.mark.parametrize("name", ["gateway-persistent-storage", "gateway-manager"])
def test_a_failed_release_is_rolled_back_not_left_behind(prod: harness.Run, name: str) -> None:
    # Without atomic, a failed install stays as a failed release that the next `pulumi up` trips over.
    release = one(prod, RELEASE, name)
    assert release.input("atomic") is True, release.urn
    assert release.input("cleanupOnFail") is True, release.urn
    assert release.input("timeout") == 900, release.urn
    assert release.input("maxHistory") == 10, release.urn
    assert not release.inputs.get("skipAwait"), release.urn


def test_provider_is_replaced_only_for_another_cluster(prod: harness.Run) -> None:
    provider = one(prod, K8S_PROVIDER)
    identifier = provider.inputs["clusterIdentifier"]
    # Derived from the secret kubeconfig, so it stays wrapped; it is only a hash.
    assert harness.is_secret(identifier), provider.urn
    assert identifier["value"] == services.cluster_identity(""), provider.urn


def _kubeconfig(ca: str, *, server: str = "https://10.20.30.41:16443", user_cert: str = "Y2VydA==") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "microk8s",
            "clusters": [
                {"name": "other", "cluster": {"server": "https://x", "certificate-authority-data": "T1RIRVI="}},
                {"name": "microk8s-cluster", "cluster": {"server": server, "certificate-authority-data": ca}},
            ],
            "contexts": [{"name": "microk8s", "context": {"cluster": "microk8s-cluster", "user": "admin"}}],
            "users": [{"name": "admin", "user": {"client-certificate-data": user_cert}}],
        }
    )


IDENTITY_CASES: list[tuple[str, str, str, bool]] = [
    ("new-client-cert", _kubeconfig("Q0EtMQ=="), _kubeconfig("Q0EtMQ==", user_cert="bmV3"), True),
    ("new-server-address-text", _kubeconfig("Q0EtMQ=="), _kubeconfig("Q0EtMQ==", server="https://gw1:16443"), True),
    ("rebuilt-cluster-new-ca", _kubeconfig("Q0EtMQ=="), _kubeconfig("Q0EtMg=="), False),
    ("other-context-ca-ignored", _kubeconfig("Q0EtMQ=="), _kubeconfig("Q0EtMQ==").replace("T1RIRVI=", "WA=="), True),
    ("no-ca-any-change-counts", "not: [a kubeconfig", "not: [a kubeconfig ", False),
]


@pytest.mark.parametrize(("old", "new", "same"), [c[1:] for c in IDENTITY_CASES], ids=[c[0] for c in IDENTITY_CASES])
def test_cluster_identity(old: str, new: str, same: bool) -> None:
    first, second = services.cluster_identity(old), services.cluster_identity(new)
    assert (first == second) is same
    assert first.startswith("microk8s-") and "Q0Et" not in first


def _storage_without_nfs(raw: Raw) -> None:
    del raw[f"{NS}:storage"]


def _storage_on_dev(raw: Raw) -> None:
    raw[f"{NS}:storage"] = {"nfsServer": "nfs.lab.example.com", "nfsPath": "/exports/lab"}


NFS_CASES: list[tuple[str, str, Callable[[Raw], None] | None, Any, bool]] = [
    (
        "three-nodes-with-nfs",
        "prod",
        None,
        {"nfs": {"server": "nfs01.corp.example.com", "path": "/exports/gateway-prod"}},
        False,
    ),
    ("one-node", "dev", None, {}, False),
    ("one-node-storage-ignored", "dev", _storage_on_dev, {}, True),
    # Multi-node without NFS still builds; the policy pack reports it (not a syntax error).
    ("three-nodes-without-nfs", "prod", _storage_without_nfs, {}, False),
]


@pytest.mark.parametrize(
    ("stack", "change", "values", "warns"), [c[1:] for c in NFS_CASES], ids=[c[0] for c in NFS_CASES]
)
def test_nfs_values_on_multi_node_only(
    stack: str, change: Callable[[Raw], None] | None, values: Any, warns: bool
) -> None:
    raw = stack_raw(stack)
    if change is not None:
        change(raw)
    run = run_stack(stack, raw=raw)
    storage = one(run, RELEASE, "gateway-persistent-storage")
    assert storage.inputs.get("values") == values, storage.urn
    warned = any(level == "warning" and "storage is not used with a single node" in m for level, m in run.log)
    assert warned is warns


def test_manager_values_pin_the_floating_ip_and_hide_only_the_password(prod: harness.Run) -> None:
    manager = one(prod, RELEASE, "gateway-manager")
    values = manager.inputs["values"]
    password = values["secrets"]["defaultPassword"]
    assert harness.is_secret(password) and password["value"] == SENTINELS[f"{NS}:managerPassword"], manager.urn
    assert not harness.contains_secret(values["service"]), manager.urn
    assert values["service"] == {
        "type": "LoadBalancer",
        "port": 5480,
        "loadBalancerIP": "10.20.30.50",
        "annotations": {"metallb.universe.tf/loadBalancerIPs": "10.20.30.50"},
    }, manager.urn


# --------------------------------------------------------------------------------------------- registration


def test_token_registration_inputs(prod: harness.Run) -> None:
    registration = one(prod, REGISTRATION)
    assert prod.by_type(PROFILE) == []
    for key, sentinel in (("activation_token", "activationToken"), ("manager_password", "managerPassword")):
        value = registration.inputs[key]
        assert harness.is_secret(value) and value["value"] == SENTINELS[f"{NS}:{sentinel}"], registration.urn
    assert registration.input("manager_url") == "https://10.20.30.50:5480"
    assert registration.input("server") == "acme.api.opsramp.com"
    assert registration.input("manager_user") == "admin"
    assert set(registration.options["additionalSecretOutputs"]) >= {"activation_token", "manager_password"}
    assert harness.reveal(prod.outputs["registrationStatus"]) == "registered"


def test_registration_follows_the_cluster_it_registers(prod: harness.Run) -> None:
    """A rebuilt cluster runs a fresh manager: the registration's cluster input is the provider's cluster identity
    (another CA) and the primary's VM (a rebuilt single node, whose new clone has the old one's CA), so it changes
    with either and registers again; a new primary VM leaves the provider's identifier (and the releases) alone."""
    registration = one(prod, REGISTRATION)
    provider = prod.named("gateway-services-k8s")
    primary_vm = prod.named("gw-prod-1-vm").id
    assert harness.is_secret(registration.inputs["cluster"]), registration.urn
    assert registration.input("cluster") == f"{provider.input('clusterIdentifier')}@{primary_vm}", registration.urn
    rebuilt = run_stack("prod", generations={"gw-prod-1-vm": 1})
    assert one(rebuilt, REGISTRATION).input("cluster") != registration.input("cluster")
    assert rebuilt.named("gateway-services-k8s").input("clusterIdentifier") == provider.input("clusterIdentifier")
    other = run_stack("prod", generations={"gw-prod-2-vm": 1})
    assert one(other, REGISTRATION).input("cluster") == registration.input("cluster"), "a non-primary VM re-registers"


def test_platform_registration_inputs(platform: harness.Run) -> None:
    profile, registration = one(platform, PROFILE), one(platform, REGISTRATION)
    for key in ("client_key", "client_secret"):
        value = profile.inputs[key]
        assert harness.is_secret(value) and value["value"] == CLIENT_SENTINELS[f"{NS}:{_camel(key)}"], profile.urn
    assert profile.input("tenant_id") == "client_42" and profile.input("create_profile_name") == "gw-prod"
    assert "attach_profile_id" not in profile.inputs, profile.urn
    assert harness.is_secret(profile.state["activation_token"]), profile.urn
    assert harness.is_secret(registration.inputs["activation_token"]), registration.urn
    assert registration.input("activation_token") == harness.reveal(profile.state["activation_token"], mask=None)
    assert harness.reveal(platform.outputs["registrationStatus"]) == "registered"


def _camel(key: str) -> str:
    return {"client_key": "registrationClientKey", "client_secret": "registrationClientSecret"}[key]


@pytest.mark.parametrize("stack", ["skipped", "dev-without-token"])
def test_registration_skipped_without_token_or_credentials(runs: dict[str, harness.Run], stack: str) -> None:
    run = runs["skipped"] if stack == "skipped" else run_stack("dev", secrets=secrets(drop=("activationToken",)))
    assert run.by_type(REGISTRATION) == [] and run.by_type(PROFILE) == []
    assert harness.reveal(run.outputs["registrationStatus"]) == "skipped"
    (warning,) = [m for level, m in run.log if level == "warning" and "Registration skipped" in m]
    assert "Registering a new cluster" in warning  # the docs/operations.md section that says how to set them


def test_missing_pin_warns(prod: harness.Run) -> None:
    (warning,) = [message for _, message in prod.log if "registration.caCert is not set" in message]
    assert "docs/operations.md, section Pinning the appliance's certificate" in warning


def test_pinned_certificate_reaches_the_registration_without_warning() -> None:
    pem = _pem()
    raw = stack_raw("prod")
    raw[f"{NS}:registration"]["caCert"] = pem
    run = run_stack("prod", raw=raw)
    assert one(run, REGISTRATION).input("ca_cert") == pem
    assert not any("caCert is not set" in message for _, message in run.log)


def _pem() -> str:
    from tests.support.vendor_standin import self_signed

    return self_signed("gateway-appliance").cert_pem


# ------------------------------------------------------------------------------------------------- secrets


def _plain_strings(run: harness.Run) -> Iterator[tuple[str, str]]:
    for r in run.resources:
        for where, value in (("inputs", r.inputs), ("state", r.state), ("outputs", r.component_outputs or {})):
            for text, inside in harness.plain_strings(value):
                if not inside:
                    yield f"{r.urn} {where}", text
    for text, inside in harness.plain_strings(run.outputs):
        if not inside:
            yield "stack outputs", text


@pytest.mark.parametrize("stack", ["prod", "platform", "skipped", "dev"])
def test_no_secret_leaks(runs: dict[str, harness.Run], stack: str) -> None:
    run = runs[stack]
    forms = {
        form: key for key, value in ALL_SENTINELS.items() for form in (value, base64.b64encode(value.encode()).decode())
    }
    for where, text in _plain_strings(run):
        for form, key in forms.items():
            assert form not in text, f"{key} leaked in {where}"
    for _, message in run.log:
        for form, key in forms.items():
            assert form not in message, f"{key} leaked in the log"


#: Loads each pickled provider given on stdin (a JSON list of base64 blobs), one line per blob.
LOAD_PROVIDERS = """
import base64, json, sys, dill
for blob in json.load(sys.stdin):
    p = dill.loads(base64.b64decode(blob))
    print(type(p).__module__, type(p).__name__, len(vars(p)))
"""


@pytest.fixture(scope="module")
def loaded_providers(runs: dict[str, harness.Run]) -> tuple[subprocess.CompletedProcess[str], dict[str, list[str]]]:
    """prod's and platform's pickled providers, loaded by one process with the project on its path, as the dynamic
    provider process loads each resource's: the process, and what it said of each blob."""
    blobs = list(
        dict.fromkeys(
            r.inputs["__provider"]["value"]
            for stack in ("prod", "platform")
            for r in runs[stack].resources
            if r.type.startswith("pulumi-python:dynamic") and harness.is_secret(r.inputs.get("__provider"))
        )
    )
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_PROVIDERS],
        input=json.dumps(blobs),
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=False,
        timeout=60,
    )
    return loaded, dict(zip(blobs, (line.split() for line in loaded.stdout.splitlines()), strict=False))


@pytest.mark.parametrize("stack", ["prod", "platform"])
def test_pickled_providers_hold_no_secret_and_load_from_the_project(
    runs: dict[str, harness.Run],
    loaded_providers: tuple[subprocess.CompletedProcess[str], dict[str, list[str]]],
    stack: str,
) -> None:
    run = runs[stack]
    loaded, said = loaded_providers
    dynamic = [r for r in run.resources if r.type.startswith("pulumi-python:dynamic")]
    assert dynamic
    for resource in dynamic:
        wrapped = resource.inputs["__provider"]
        assert harness.is_secret(wrapped), resource.urn
        blob = base64.b64decode(wrapped["value"])
        for key, value in ALL_SENTINELS.items():
            assert value.encode() not in blob, f"{key} is captured in {resource.urn}'s pickled provider"
        # The dynamic provider process loads the blob with the project on its path, as here.
        assert loaded.returncode == 0, f"{resource.urn}: {loaded.stderr}"
        kind = resource.type.rsplit(":", 1)[1]
        assert said[wrapped["value"]] == ["components.registration", f"{kind}Provider", "0"], resource.urn


# ---------------------------------------------------------------------------------------------------- plan


def test_plan_shows_the_services() -> None:
    code, out, err = gatewayctl("plan", "--stack", "prod", "--json", "--no-policies")
    assert code == 0, err
    doc = json.loads(out)
    names = {(r["type"], r["name"]) for r in doc["resources"]}
    assert {
        (RELEASE, "gateway-persistent-storage"),
        (RELEASE, "gateway-manager"),
        (K8S_PROVIDER, "gateway-services-k8s"),
    } <= names
    manager = next(r for r in doc["resources"] if r["name"] == "gateway-manager")
    assert manager["inputs"]["values"]["secrets"]["defaultPassword"] == "[secret]"
    assert manager["inputs"]["values"]["service"]["loadBalancerIP"] == "10.20.30.50"
    # The committed stack has no activation token: the plan says registration is skipped.
    assert doc["outputs"]["registrationStatus"] == "skipped"
    code, text, err = gatewayctl("plan", "--stack", "prod", "--no-policies")
    assert code == 0, err
    assert "gateway-manager" in text and "gateway-persistent-storage" in text and "registrationStatus: skipped" in text


# ---------------------------------------------------------------------------------------------------- charts


def _export(folder: Path, chart: str, version: str) -> None:
    (folder / chart).mkdir(parents=True)
    (folder / chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {chart}\nversion: {version}\n")


def test_local_chart_directory_and_values_files(tmp_path: Path) -> None:
    _export(tmp_path, "gateway-persistent-storage", "2.1.0")
    _export(tmp_path, "gateway-manager", "2.1.3")
    cluster_yaml = tmp_path / "cluster.yaml"
    cluster_yaml.write_text("nfs:\n  mountOptions: [nfsvers=4.1]\n")
    raw = stack_raw("prod")
    raw[f"{NS}:charts"] = {
        "directory": str(tmp_path),
        "storage": {"version": "2.1.0", "valuesFile": str(cluster_yaml)},
        "manager": {"version": "2.1.3"},
    }
    run = run_stack("prod", raw=raw)
    storage, manager = one(run, RELEASE, "gateway-persistent-storage"), one(run, RELEASE, "gateway-manager")
    assert storage.input("chart") == f"{tmp_path}/gateway-persistent-storage" and storage.input("version") == "2.1.0"
    assert manager.input("chart") == f"{tmp_path}/gateway-manager" and manager.input("version") == "2.1.3"
    (asset,) = storage.inputs["valueYamlFiles"]
    assert asset["path"] == str(cluster_yaml), storage.urn
    assert "valueYamlFiles" not in manager.inputs, manager.urn
    # The config's NFS values still apply, over the vendor's file.
    assert storage.input("values", "nfs", "server") == "nfs01.corp.example.com"


def test_oci_mirror_with_pinned_versions() -> None:
    raw = stack_raw("prod")
    raw[f"{NS}:charts"] = {
        "repository": "oci://registry.corp.example.com/mirror/gateway",
        "manager": {"version": "3.0.1"},
    }
    run = run_stack("prod", raw=raw)
    manager = one(run, RELEASE, "gateway-manager")
    assert manager.input("chart") == "oci://registry.corp.example.com/mirror/gateway/gateway-manager"
    assert manager.input("version") == "3.0.1"
    assert one(run, RELEASE, "gateway-persistent-storage").input("version") == cfg.DEFAULT_CHARTS["storage"][1]


def _charts_dir(tmp: Path, storage_version: str, manager: bool = True) -> dict[str, Any]:
    _export(tmp, "gateway-persistent-storage", storage_version)
    if manager:
        _export(tmp, "gateway-manager", "1.0.0")
    return {"directory": str(tmp), "storage": {"version": "1.0.0"}, "manager": {"version": "1.0.0"}}


CHART_FILE_CASES: list[tuple[str, Callable[[Path], dict[str, Any]], str]] = [
    ("exported-version-differs", lambda t: _charts_dir(t, "0.9.0"), "charts.storage.version"),
    ("chart-not-exported", lambda t: _charts_dir(t, "1.0.0", manager=False), "charts.directory"),
    ("values-file-missing", lambda t: {"storage": {"valuesFile": str(t / "nope.yaml")}}, "charts.storage.valuesFile"),
]


@pytest.mark.parametrize(("charts", "key"), [c[1:] for c in CHART_FILE_CASES], ids=[c[0] for c in CHART_FILE_CASES])
def test_chart_file_problems_register_nothing(
    tmp_path: Path, charts: Callable[[Path], dict[str, Any]], key: str
) -> None:
    raw = stack_raw("prod")
    raw[f"{NS}:charts"] = charts(tmp_path)
    records: list[harness.Resource] = []
    with pytest.raises(cfg.ConfigError) as info:
        harness.run_program(PROJECT, "prod", flat_config(raw), secret_keys=sorted(SENTINELS), record_into=records)
    assert records == []
    assert [i.key for i in info.value.issues] == [f"{NS}:{key}"]


# ---------------------------------------------------------------------------------------------------- config


def _reg(**fields: Any) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        raw[f"{NS}:registration"] = {"server": "acme.api.opsramp.com", **fields}

    return apply


def _no_reg(raw: Raw) -> None:
    del raw[f"{NS}:registration"]


def _charts(value: Any) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        raw[f"{NS}:charts"] = value

    return apply


TOKEN = secrets()
CREDS = secrets(drop=("activationToken",), add=CLIENT_SENTINELS)
KEY_ONLY = secrets(drop=("activationToken",), add={f"{NS}:registrationClientKey": "SENTINEL-client-key-3e9a71"})
NO_TOKEN = secrets(drop=("activationToken",))

# (id, change to the prod stack, secrets, the key the error names, the value it shows (None: not checked))
MALFORMED: list[tuple[str, Callable[[Raw], None], dict[str, str], str, Any]] = [
    (
        "server-with-scheme",
        _reg(server="https://acme.api.opsramp.com"),
        TOKEN,
        "registration.server",
        "https://acme.api.opsramp.com",
    ),
    (
        "server-with-path",
        _reg(server="acme.api.opsramp.com/api"),
        TOKEN,
        "registration.server",
        "acme.api.opsramp.com/api",
    ),
    (
        "server-missing",
        lambda raw: raw.__setitem__(f"{NS}:registration", {"managerUser": "admin"}),
        TOKEN,
        "registration.server",
        None,
    ),
    (
        "client-secret-in-plain-map",
        _reg(clientSecret="SENTINEL-plain-secret-1"),
        TOKEN,
        "registration.clientSecret",
        "[secret]",
    ),
    ("key-without-secret", _reg(tenantId="t", profileName="p"), KEY_ONLY, "registrationClientSecret", None),
    ("credentials-without-tenant", _reg(profileName="p"), CREDS, "registration.tenantId", None),
    ("profile-id-and-name", _reg(tenantId="t", profileId="1", profileName="p"), CREDS, "registration", None),
    ("neither-profile-id-nor-name", _reg(tenantId="t"), CREDS, "registration", None),
    ("tenant-without-credentials", _reg(tenantId="t"), TOKEN, "registration.tenantId", "t"),
    ("token-and-credentials", _reg(tenantId="t", profileName="p"), {**CREDS, **TOKEN}, "activationToken", "[secret]"),
    ("token-without-registration", _no_reg, TOKEN, "registration", None),
    ("ca-cert-not-pem", _reg(caCert="not a certificate"), TOKEN, "registration.caCert", "not a certificate"),
    ("wait-not-positive", _reg(waitSeconds=0), TOKEN, "registration.waitSeconds", 0),
    ("registration-typo", _reg(managerUsr="admin"), TOKEN, "registration.managerUsr", "admin"),
    (
        "charts-not-oci",
        _charts({"repository": "https://charts.example.com"}),
        TOKEN,
        "charts.repository",
        "https://charts.example.com",
    ),
    ("charts-both-sources", _charts({"repository": "oci://r/x", "directory": "/srv/c"}), TOKEN, "charts", None),
    ("chart-version-range", _charts({"manager": {"version": "^1.2.0"}}), TOKEN, "charts.manager.version", "^1.2.0"),
    ("chart-version-latest", _charts({"storage": {"version": "latest"}}), TOKEN, "charts.storage.version", "latest"),
    ("charts-typo", _charts({"manger": {"version": "1.0.0"}}), TOKEN, "charts.manger", None),
]


@pytest.mark.parametrize(("change", "given", "key", "value"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_registration_and_charts(
    change: Callable[[Raw], None], given: dict[str, str], key: str, value: Any
) -> None:
    raw = stack_raw("prod")
    change(raw)
    records: list[harness.Resource] = []
    with pytest.raises(cfg.ConfigError) as info:
        harness.run_program(PROJECT, "prod", flat_config(raw, given), secret_keys=sorted(given), record_into=records)
    assert records == []
    issues = {i.key: i for i in info.value.issues}
    assert f"{NS}:{key}" in issues, f"no error names {NS}:{key}: {info.value}"
    if value is not None:
        assert issues[f"{NS}:{key}"].value == value
    assert len(issues[f"{NS}:{key}"].message) > 20
    message = str(info.value)
    for secret in (*ALL_SENTINELS.values(), "SENTINEL-plain-secret-1"):
        assert secret not in message


def test_server_error_suggests_the_bare_host() -> None:
    raw = stack_raw("prod")
    _reg(server="https://acme.api.opsramp.com/")(raw)
    with pytest.raises(cfg.ConfigError) as info:
        harness.run_program(PROJECT, "prod", flat_config(raw), secret_keys=sorted(SENTINELS))
    assert "'acme.api.opsramp.com'" in str(info.value)


@pytest.mark.parametrize(
    ("fields", "given", "method"),
    [
        ({}, TOKEN, "token"),
        ({}, NO_TOKEN, "skip"),
        ({"tenantId": "t", "profileName": "p"}, CREDS, "platform"),
        ({"tenantId": "t", "profileId": "mp-1"}, CREDS, "platform"),
    ],
    ids=["token", "skip", "platform-create", "platform-attach"],
)
def test_registration_method(fields: dict[str, Any], given: dict[str, str], method: str) -> None:
    raw = {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}
    raw["registration"] = {"server": "acme.api.opsramp.com", **fields}
    present = {k.split(":", 1)[1]: True for k in given}
    settings = cfg.parse(raw, secrets_present=present)
    assert settings.registration is not None and settings.registration.method == method
    assert settings.registration.manager_user == "admin" and settings.registration.wait_seconds == 900
