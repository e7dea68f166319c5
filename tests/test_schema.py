"""The stack file's JSON Schema: committed and current, the committed stacks valid, and one corpus of stack files
run through both the schema and the parser, which must agree wherever both can judge."""

from __future__ import annotations

import contextvars
import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import yaml
from pulumi.runtime import config as runtime_config

from components import config as cfg
from components.config.schema import COMMAND, render_schema

PROJECT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = PROJECT / "schema" / "stack.schema.json"
NS = "gateway-cluster"
MODELINE = "# yaml-language-server: $schema=./schema/stack.schema.json"

Doc = dict[str, Any]
Mutation = Callable[[Doc], None]
Verdict = Literal["ok", "both", "parser", "schema"]
"""``ok``: both accept; ``both``: both reject; ``parser``: only the parser rejects (a rule across keys, or what
no pattern can say); ``schema``: only the schema rejects (what the program never reads)."""


def committed(stack: str) -> Doc:
    """A committed stack file, as a document (a deep copy: change it freely)."""
    return copy.deepcopy(_committed(stack))


@functools.cache
def _committed(stack: str) -> Doc:
    # Read once: the corpus starts from the same file a hundred times, and reading YAML costs ~15 ms a file.
    doc: Doc = yaml.safe_load((PROJECT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(cfg.stack_file_schema())


def test_committed_schema_is_current():
    if SCHEMA_FILE.read_text(encoding="utf-8") != render_schema():
        pytest.fail(f"schema/stack.schema.json is stale: regenerate it with `{COMMAND}`")


def test_schema_is_draft_2020_12():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_committed_stacks_validate_and_name_the_schema(stack: str, validator: jsonschema.Draft202012Validator):
    path = PROJECT / f"Pulumi.{stack}.yaml"
    assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE
    assert [e.message for e in validator.iter_errors(committed(stack))] == []


def test_every_key_has_a_description():
    schema = cfg.stack_file_schema()
    described = [schema["properties"]["config"]["properties"], *(d["properties"] for d in _objects(schema["$defs"]))]
    missing = [name for props in described for name, prop in props.items() if "description" not in prop]
    assert missing == []


def _objects(defs: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in defs.values() if d.get("type") == "object" and "properties" in d and d is not defs.get("secure")]


# ------------------------------------------------------------------------------------------------ corpus


def parser_problems(doc: Doc) -> list[cfg.ConfigIssue]:
    """The parser's verdict on a stack file, reached as `gatewayctl plan` reaches it: each value as the CLI hands
    it to the program (text; maps and lists as JSON), a ``secure:`` secret and a missing required secret stood
    in for, a ``secure:`` value of any other key left out (it cannot be read offline)."""
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        name = key.removeprefix(f"{NS}:")
        if isinstance(value, dict) and set(value) == {"secure"}:
            if key.startswith(f"{NS}:") and name in cfg.SECRET_KEYS:
                values[key] = f"stand-in-{name}"
                secret_keys.append(key)
            continue
        values[key] = value if isinstance(value, str) else json.dumps(value)
        if key.startswith(f"{NS}:") and name in cfg.SECRET_KEYS:
            secret_keys.append(key)
    needed = [*cfg.REQUIRED_SECRETS]
    if not any(f"{NS}:{k}" in values for k in cfg.ONE_OF_SECRETS):
        needed.append(cfg.ONE_OF_SECRETS[0])
    for name in needed:
        values.setdefault(f"{NS}:{name}", f"stand-in-{name}")
        secret_keys.append(f"{NS}:{name}")

    def read() -> list[cfg.ConfigIssue]:
        runtime_config.set_all_config(values, secret_keys)
        try:
            cfg.read_settings()
        except cfg.ConfigError as error:
            return list(error.issues)
        return []

    # The runtime's config is a context variable: a copied context keeps this test's config to itself.
    return contextvars.copy_context().run(read)


def _set(key: str, value: Any) -> Mutation:
    return lambda doc: doc["config"].__setitem__(f"{NS}:{key}" if ":" not in key else key, value)


def _drop(key: str) -> Mutation:
    return lambda doc: doc["config"].pop(f"{NS}:{key}")


def _in(key: str, **changes: Any) -> Mutation:
    """Sets (or, with None as the value ``...``, removes) fields of a map key."""

    def apply(doc: Doc) -> None:
        target = doc["config"][f"{NS}:{key}"]
        for name, value in changes.items():
            if value is ...:
                target.pop(name, None)
            else:
                target[name] = value

    return apply


def _node(i: int, **changes: Any) -> Mutation:
    def apply(doc: Doc) -> None:
        doc["config"][f"{NS}:nodes"][i].update(changes)

    return apply


def _top(key: str, value: Any) -> Mutation:
    return lambda doc: doc.__setitem__(key, value)


def _all(*mutations: Mutation) -> Mutation:
    def apply(doc: Doc) -> None:
        for m in mutations:
            m(doc)

    return apply


_SINGLE_IPV6 = _all(
    _set("network", {"cidr": "fd00:20:30::/64", "gateway": "fd00:20:30::1", "dns": "fd00:20::53"}),
    _set("floatingIp", "fd00:20:30::50"),
    _set("nodes", [{"hostname": "gw-v6-1", "esxiHost": "esx-01.corp.example.com", "ip": "fd00:20:30::41"}]),
)

# (id, change to the prod stack file, verdict)
CORPUS: list[tuple[str, Mutation, Verdict]] = [
    ("prod", _all(), "ok"),
    # What both accept beyond the committed stacks: the overlap the schema must not narrow.
    ("quoted-whole-numbers", _set("nodeSize", {"cpus": "4", "memoryMb": "8192", "diskGb": " 80 "}), "ok"),
    ("whole-float", _in("nodeSize", memoryMb=16384.0), "ok"),
    ("version-a-number", _in("ova", version=17), "ok"),
    ("version-quoted", _in("ova", version="17.10"), "ok"),
    ("choices-with-spaces", _in("ova", firmware=" efi ", scsiType="lsilogic-sas", nicType="e1000e"), "ok"),
    ("deploy-ovf", _in("ova", deploy="ovf"), "ok"),
    (
        "ova-retain",
        _in("ova", retain=[{"version": "16.4.0", "url": "https://h/gw-16.ova"}, {"version": 16, "path": "/srv/a.ovf"}]),
        "ok",
    ),
    ("ova-path", _in("ova", url=..., path="/srv/images/gateway-17.0.0.ovf"), "ok"),
    ("ova-url-null-path-set", _in("ova", url=None, path="/srv/gw.ova"), "ok"),
    ("ova-url-upper-scheme", _in("ova", url="HTTPS://downloads.example.com/gw.ova"), "ok"),
    ("ova-properties", _in("ova", properties={"hostname": "vami.hostname", "dns": "vami.DNS"}), "ok"),
    ("ova-properties-all", _in("ova", properties={k: f"vami.{k}" for k in cfg.DEFAULT_OVA_PROPERTIES}), "ok"),
    ("vsphere-placement", _in("vsphere", resourcePool="compute-01/Resources/gw", folder="gw/prod"), "ok"),
    ("optional-nulls", _all(_in("vsphere", cluster=None), _in("nodeSize", cpus=None)), "ok"),
    ("dns-one-address", _in("network", dns="10.20.0.53"), "ok"),
    ("ipv6-single-node", _SINGLE_IPV6, "ok"),
    ("ipv6-compressed-forms", _in("network", dns=["::1", "fd00::10.20.0.53", "fe80::1%eth0"]), "ok"),
    ("metallb-ranges-and-cidr", _set("metallbRange", "10.20.30.50-10.20.30.59, 10.20.31.0/24"), "ok"),
    ("metallb-cidr", _set("metallbRange", "10.20.30.48/29"), "ok"),
    ("primary-second-node", _set("primary", "gw-prod-2"), "ok"),
    ("rebuild-one-node", _set("rebuild", ["gw-prod-2"]), "ok"),
    ("rebuild-one-hostname", _set("rebuild", "gw-prod-3"), "ok"),
    ("ssh-user-a-number", _set("sshUser", 5), "ok"),
    ("host-key", _node(0, sshHostKey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"), "ok"),
    ("hostname-digits", _node(2, hostname="123"), "ok"),
    ("chart-prerelease", _set("charts", {"manager": {"version": "v1.2.3-rc.1+build.5"}}), "ok"),
    ("chart-mirror", _set("charts", {"repository": "oci://registry.example.com/mirror"}), "ok"),
    ("registration-port", _in("registration", server="acme.api.opsramp.com:8443"), "ok"),
    ("registration-ipv6", _in("registration", server="[fd00::1]:8443"), "ok"),
    ("secret-plaintext", _set("managerPassword", "plain"), "ok"),
    ("secret-secure", _set("sshPassword", {"secure": "v1:abc"}), "ok"),
    ("other-namespace", _set("vsphere:anything", {"deep": [1, 2]}), "ok"),
    ("stack-file-keys", _all(_top("secretsprovider", "passphrase"), _top("encryptionsalt", "v1:x")), "ok"),
    ("esc-environment", _top("environment", ["acme/gateway-prod"]), "ok"),
    # What both reject.
    ("unknown-key", _set("nodesize", {"cpus": 8}), "both"),
    ("unknown-nested-key", _in("vsphere", datastor="x"), "both"),
    ("snake-case-key", _in("vsphere", resource_pool="x"), "both"),
    ("vsphere-not-a-map", _set("vsphere", "dc-east"), "both"),
    ("vsphere-missing", _drop("vsphere"), "both"),
    ("datacenter-missing", _in("vsphere", datacenter=...), "both"),
    ("datacenter-blank", _in("vsphere", datacenter=" "), "both"),
    ("floating-missing", _drop("floatingIp"), "both"),
    ("floating-bad", _set("floatingIp", "10.20.30.500"), "both"),
    ("ssh-user-missing", _drop("sshUser"), "both"),
    ("nodes-missing", _drop("nodes"), "both"),
    ("nodes-empty", _set("nodes", []), "both"),
    ("nodes-text", _set("nodes", "gw-1,gw-2"), "both"),
    ("node-not-a-map", _set("nodes", ["gw-1"]), "both"),
    ("hostname-uppercase", _node(1, hostname="GW-Prod-2"), "both"),
    ("hostname-underscore", _node(1, hostname="gw_prod_2"), "both"),
    ("hostname-too-long", _node(0, hostname="g" * 64), "both"),
    ("hostname-trailing-dash", _node(0, hostname="gw-"), "both"),
    ("esxi-host-missing", _node(0, esxiHost=None), "both"),
    ("ip-short", _node(2, ip="10.20.30"), "both"),
    ("ip-leading-zero", _node(2, ip="10.20.30.043"), "both"),
    ("ip-a-number", _node(2, ip=10), "both"),
    ("host-key-bad", _node(0, sshHostKey="not-a-key"), "both"),
    ("cidr-garbage", _in("network", cidr="10.20.30/24x"), "both"),
    ("gateway-bad", _in("network", gateway="router"), "both"),
    ("dns-empty", _in("network", dns=[]), "both"),
    ("dhcp-not-a-range", _in("network", dhcpRanges=["10.20.30.100"]), "both"),
    ("ova-both", _in("ova", path="/srv/gw.ova"), "both"),
    ("ova-neither", _in("ova", url=...), "both"),
    ("ova-neither-nulls", _in("ova", url=None, path=None), "both"),
    ("ova-url-ftp", _in("ova", url="ftp://h/gw.ova"), "both"),
    ("ova-url-query", _in("ova", url="https://h/gw.ova?sig=abc"), "both"),
    ("ova-path-iso", _in("ova", url=..., path="/srv/gw.iso"), "both"),
    ("ova-path-uppercase", _in("ova", url=..., path="/srv/GW.OVA"), "both"),
    ("retain-both", _in("ova", retain=[{"version": "16", "url": "https://h/a.ova", "path": "/a.ova"}]), "both"),
    ("retain-neither", _in("ova", retain=[{"version": "16"}]), "both"),
    ("retain-no-version", _in("ova", retain=[{"url": "https://h/a.ova"}]), "both"),
    ("retain-not-a-list", _in("ova", retain={"version": "16", "url": "https://h/a.ova"}), "both"),
    ("retain-unknown-key", _in("ova", retain=[{"version": "16", "url": "https://h/a.ova", "sha": "x"}]), "both"),
    ("deploy-bad", _in("ova", deploy="clone"), "both"),
    ("deploy-padded", _in("ova", deploy=" ovf"), "both"),
    ("firmware-bad", _in("ova", firmware="uefi"), "both"),
    ("firmware-bool", _in("ova", firmware=True), "both"),
    ("scsi-uppercase", _in("ova", scsiType="PVSCSI"), "both"),
    ("nic-sriov", _in("ova", nicType="sriov"), "both"),
    ("version-float", _in("ova", version=17.1), "both"),
    ("version-missing", _in("ova", version=...), "both"),
    ("property-unknown", _in("ova", properties={"hostnme": "x"}), "both"),
    ("cpus-text", _in("nodeSize", cpus="four"), "both"),
    ("cpus-bool", _in("nodeSize", cpus=True), "both"),
    ("cpus-zero", _in("nodeSize", cpus=0), "both"),
    ("cpus-quoted-zero", _in("nodeSize", cpus="0"), "both"),
    ("cpus-negative", _in("nodeSize", cpus=-1), "both"),
    ("cpus-fraction", _in("nodeSize", cpus=2.5), "both"),
    ("disk-infinite", _in("nodeSize", diskGb=float("inf")), "both"),
    ("memory-not-4", _in("nodeSize", memoryMb=8190), "both"),
    ("memory-quoted-not-4", _in("nodeSize", memoryMb="8190"), "both"),
    ("nfs-path-relative", _in("storage", nfsPath="exports"), "both"),
    ("nfs-server-missing", _in("storage", nfsServer=...), "both"),
    ("metallb-garbage", _set("metallbRange", "ten-twenty"), "both"),
    ("metallb-trailing-comma", _set("metallbRange", "10.20.30.50-10.20.30.59,"), "both"),
    ("chart-range", _set("charts", {"manager": {"version": "^1.2.0"}}), "both"),
    ("chart-latest", _set("charts", {"storage": {"version": "latest"}}), "both"),
    ("chart-version-a-number", _set("charts", {"storage": {"version": 1}}), "both"),
    ("charts-not-oci", _set("charts", {"repository": "https://charts.example.com"}), "both"),
    ("charts-both-sources", _set("charts", {"repository": "oci://r/x", "directory": "/srv/c"}), "both"),
    ("charts-typo", _set("charts", {"manger": {"version": "1.0.0"}}), "both"),
    ("server-with-scheme", _in("registration", server="https://acme.api.opsramp.com"), "both"),
    ("server-with-path", _in("registration", server="acme.api.opsramp.com/api"), "both"),
    ("server-with-user", _in("registration", server="me@acme.api.opsramp.com"), "both"),
    ("client-secret-in-map", _in("registration", clientSecret="s3cret"), "both"),
    ("registration-text", _set("registration", "acme.api.opsramp.com"), "both"),
    ("ca-cert-not-pem", _in("registration", caCert="not a certificate"), "both"),
    ("wait-zero", _in("registration", waitSeconds=0), "both"),
    ("non-secret-encrypted", _set("floatingIp", {"secure": "v1:abc"}), "both"),
    # What only the parser can judge: rules across keys, and what no pattern says.
    ("hostname-duplicate", _node(2, hostname="gw-prod-1"), "parser"),
    ("ip-duplicate", _node(2, ip="10.20.30.41"), "parser"),
    ("floating-is-a-node", _set("floatingIp", "10.20.30.42"), "parser"),
    (
        "ipv6-multi-node",
        _all(
            _SINGLE_IPV6,
            _set(
                "nodes",
                [
                    {"hostname": "gw-v6-1", "esxiHost": "esx-01", "ip": "fd00:20:30::41"},
                    {"hostname": "gw-v6-2", "esxiHost": "esx-02", "ip": "fd00:20:30::42"},
                ],
            ),
        ),
        "parser",
    ),
    ("primary-not-a-node", _set("primary", "gw-prod-9"), "parser"),
    ("rebuild-not-a-node", _set("rebuild", ["gw-prod-9"]), "parser"),
    ("rebuild-the-primary", _set("rebuild", ["gw-prod-1"]), "parser"),
    ("rebuild-duplicate", _set("rebuild", ["gw-prod-2", "gw-prod-2"]), "parser"),
    ("rebuild-not-a-hostname", _set("rebuild", ["GW-Prod-2"]), "both"),
    ("metallb-without-floating", _set("metallbRange", "10.20.30.60-10.20.30.69"), "parser"),
    ("metallb-reversed", _set("metallbRange", "10.20.30.59-10.20.30.50"), "parser"),
    ("metallb-host-bits", _set("metallbRange", "10.20.30.49/29"), "parser"),
    ("cidr-host-bits", _in("network", cidr="10.20.30.5/24"), "parser"),
    ("dhcp-reversed", _in("network", dhcpRanges=["10.20.30.199-10.20.30.100"]), "parser"),
    ("dhcp-mixed-versions", _in("network", dhcpRanges=["10.20.30.1-fd00::1"]), "parser"),
    ("server-port-out-of-range", _in("registration", server="acme.api.opsramp.com:99999"), "parser"),
    (
        "ca-cert-broken-pem",
        _in("registration", caCert="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"),
        "parser",
    ),
    ("token-without-registration", _all(_drop("registration"), _set("activationToken", {"secure": "v1:t"})), "parser"),
    ("tenant-without-credentials", _in("registration", tenantId="t"), "parser"),
    ("values-file-missing", _set("charts", {"storage": {"valuesFile": "/nonexistent/cluster.yaml"}}), "parser"),
    # What only the schema judges: what the program never reads.
    ("secret-a-map", _set("managerPassword", {"value": "x"}), "schema"),
    ("unknown-stack-file-key", _top("backend", "s3://x"), "schema"),
]


@pytest.mark.parametrize(("mutate", "verdict"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_schema_and_parser_agree(mutate: Mutation, verdict: Verdict, validator: jsonschema.Draft202012Validator):
    doc = committed("prod")
    doc = copy.deepcopy(doc)
    mutate(doc)
    schema_errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}" for e in validator.iter_errors(doc)]
    problems = [str(p) for p in parser_problems(doc)]
    expected = {"ok": (False, False), "both": (True, True), "parser": (False, True), "schema": (True, False)}
    assert (bool(schema_errors), bool(problems)) == expected[verdict], f"schema: {schema_errors}\nparser: {problems}"


def test_corpus_covers_every_key():
    """Every key the schema types is changed by at least one case, so no key's schema goes unchecked."""
    changed: set[str] = set()
    base = committed("prod")
    for _, mutate, _ in CORPUS:
        doc = copy.deepcopy(base)
        mutate(doc)
        changed |= _changed_paths(_config(base), _config(doc))
    declared = {f"{top}.{sub}" if sub else top for top, sub in _declared_paths()}
    assert declared - changed <= _UNCHANGED_ON_PURPOSE, sorted(declared - changed - _UNCHANGED_ON_PURPOSE)


# Keys whose kinds other cases already exercise (the same text, choice or address kind under another name).
_UNCHANGED_ON_PURPOSE = {
    "vsphere.network",
    "vsphere.datastore",
    "vsphere.folder",
    "ova.ovfNetwork",
    "registration.managerUser",
    "registration.profileId",
    "registration.profileName",
    "registration.platformCaCert",
    "charts.directory",
    "charts.storage.chart",
    "charts.manager.chart",
    "charts.manager.valuesFile",
    "registrationClientKey",
    "registrationClientSecret",
    "sshPrivateKey",
    "storage",
}


def _declared_paths() -> list[tuple[str, str]]:
    schema = cfg.stack_file_schema()
    top = schema["properties"]["config"]["properties"]
    paths: list[tuple[str, str]] = []
    for key, prop in top.items():
        name = key.removeprefix(f"{NS}:")
        paths.append((name, ""))
        for sub in _sub_paths(schema, prop):
            paths.append((name, sub))
    return paths


def _sub_paths(schema: dict[str, Any], prop: dict[str, Any], prefix: str = "") -> list[str]:
    ref = prop.get("$ref") or next((s["$ref"] for s in prop.get("anyOf", []) if "$ref" in s), None)
    if ref is None and "items" in prop:
        ref = prop["items"].get("$ref")
    if ref is None or ref.endswith("/secure"):
        return []
    target = schema["$defs"][ref.rsplit("/", 1)[1]]
    paths = []
    for name, sub in target.get("properties", {}).items():
        paths.append(f"{prefix}{name}")
        paths.extend(_sub_paths(schema, sub, f"{prefix}{name}."))
    return paths


def _changed_paths(base: Any, doc: Any, prefix: str = "") -> set[str]:
    """The key paths (``nodes.ip``, list items folded) where ``doc`` differs from ``base``."""
    if isinstance(doc, dict):
        before = base if isinstance(base, dict) else {}
        changed: set[str] = set()
        for key in doc.keys() | before.keys():
            if before.get(key) != doc.get(key):
                changed |= {prefix + key} | _changed_paths(before.get(key), doc.get(key), f"{prefix}{key}.")
        return changed
    if isinstance(doc, list):
        before_items = base if isinstance(base, list) else []
        return {
            path
            for i, item in enumerate(doc)
            for path in _changed_paths(before_items[i] if i < len(before_items) else None, item, prefix)
        }
    return set()


def _config(doc: Doc) -> dict[str, Any]:
    return {k.removeprefix(f"{NS}:"): v for k, v in (doc.get("config") or {}).items()}
