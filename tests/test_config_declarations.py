"""The declarations: the public key tables the rest of the program reads, what every key declares, and what
the one-declaration parser does that the hand-written one did not (a null is an unset key; no crash)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest

from components import config as cfg
from components.config.declare import Decl
from components.config.kinds import TEXT
from components.config.settings import SECRET_DECLS, TOP_KEYS
from tests.support.stacks import stack_raw

NS = "gateway-cluster"
PRESENT = {"managerPassword": True, "sshPrivateKey": True}


def prod() -> dict[str, Any]:
    return {k.split(":", 1)[1]: v for k, v in stack_raw("prod").items() if k.startswith(f"{NS}:")}


def test_key_tables_are_those_the_program_always_had():
    assert cfg.OBJECT_KEYS == (
        "vsphere",
        "ova",
        "network",
        "nodes",
        "nodeSize",
        "storage",
        "charts",
        "registration",
        "rebuild",
    )
    assert cfg.STRING_KEYS == ("floatingIp", "primary", "sshUser", "metallbRange")
    assert set(cfg.SECRET_KEYS) == {
        "sshPrivateKey",
        "sshPassword",
        "managerPassword",
        "activationToken",
        "registrationClientKey",
        "registrationClientSecret",
    }
    assert cfg.REQUIRED_SECRETS == ("managerPassword",)
    assert cfg.ONE_OF_SECRETS == ("sshPrivateKey", "sshPassword")
    assert (*cfg.OBJECT_KEYS, *cfg.STRING_KEYS, *cfg.SECRET_KEYS) == cfg.KNOWN_KEYS


def _all_keys() -> list[tuple[str, Decl]]:
    def walk(path: str, decl: Decl) -> list[tuple[str, Decl]]:
        found = [(path, decl)]
        for child in decl.children():
            found += walk(f"{path}.{child.name}", child)
        if decl.item is not None:
            for child in decl.item.children():
                found += walk(f"{path}[].{child.name}", child)
        return found

    return [pair for decl in TOP_KEYS for pair in walk(decl.name, decl)]


@pytest.mark.parametrize(("path", "decl"), _all_keys(), ids=[p for p, _ in _all_keys()])
def test_every_key_is_described_and_text_has_an_example(path: str, decl: Decl):
    assert decl.key is not None and decl.key.description.endswith("."), path
    if decl.kind is TEXT:
        # A message about a bad value shows the example (or the default): "e.g. None" would help nobody.
        assert decl.example is not None, path


def test_every_secret_is_described():
    assert all(d.key is not None and d.key.description for d in SECRET_DECLS)


def test_settings_stay_plain_frozen_dataclasses():
    settings = cfg.parse(prod(), secrets_present=PRESENT)
    assert type(settings.nodes[0]) is cfg.NodeSettings and dataclasses.is_dataclass(settings.nodes[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.nodes[0].hostname = "x"  # type: ignore[misc]
    # dataclasses.replace does not validate: a program may build what the config would refuse (the pack guards).
    bypass = dataclasses.replace(settings.nodes[0], hostname="GW-1")
    assert bypass.hostname == "GW-1"
    assert cfg.ChartSettings(*cfg.DEFAULT_CHARTS["storage"]).chart == "gateway-persistent-storage"
    assert cfg.NodeSize().disk_gb == 40


def test_registration_method_follows_the_secrets_and_is_not_a_key():
    raw = prod()
    settings = cfg.parse(raw, secrets_present={**PRESENT, "activationToken": True})
    assert settings.registration is not None and settings.registration.method == "token"
    raw["registration"]["method"] = "platform"
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(raw, secrets_present=PRESENT)
    (issue,) = info.value.issues
    assert issue.key == f"{NS}:registration.method" and issue.message.startswith("unknown key; known keys: server,")


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda r: r["ova"].__setitem__("deploy", None), lambda s: s.ova.deploy == "library"),
        (
            lambda r: r["ova"].__setitem__("properties", {"hostname": None}),
            lambda s: s.ova.properties == cfg.DEFAULT_OVA_PROPERTIES,
        ),
        (lambda r: r["ova"].update(url=None, path="/srv/gw.ova"), lambda s: s.ova.source == "/srv/gw.ova"),
        (lambda r: r["nodeSize"].__setitem__("cpus", None), lambda s: s.node_size.cpus == 4),
    ],
    ids=["deploy", "property", "ova-url", "cpus"],
)
def test_a_null_is_an_unset_key(change: Any, check: Any):
    raw = prod()
    change(raw)
    assert check(cfg.parse(raw, secrets_present=PRESENT))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r["network"].__setitem__("dns", [None]), "network.dns[0]"),
        (lambda r: r["registration"].__setitem__("server", "http://[x/a"), "registration.server"),
        (lambda r: r["ova"].__setitem__("url", "https://[x/gw.ova"), "ova.url"),
    ],
    ids=["dns-null-item", "server-bad-ipv6", "url-bad-ipv6"],
)
def test_what_crashed_the_hand_written_parser_is_a_config_error(change: Any, key: str):
    raw = prod()
    change(raw)
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(raw, secrets_present=PRESENT)
    assert [i.key for i in info.value.issues] == [f"{NS}:{key}"]


def test_unknown_nested_keys_get_a_did_you_mean_from_the_declarations():
    raw = prod()
    raw["nodes"][0]["esxHost"] = raw["nodes"][0].pop("esxiHost")
    raw["charts"] = {"manger": {}}
    raw["ova"]["properties"] = {"hostnme": "x"}
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse(raw, secrets_present=PRESENT)
    messages = {i.key: i.message for i in info.value.issues}
    assert messages[f"{NS}:nodes[0].esxHost"] == "unknown key; did you mean 'esxiHost'?"
    assert messages[f"{NS}:nodes[0].esxiHost"].startswith("is required: add it under gateway-cluster:nodes[0], e.g.")
    assert messages[f"{NS}:charts.manger"] == "unknown key; did you mean 'manager'?"
    assert messages[f"{NS}:ova.properties.hostnme"] == "unknown key; did you mean 'hostname'?"


def test_kinds_annotate_every_key():
    """A key without a kind would fall back to pydantic's own messages, which name no fix."""
    missing = [path for path, decl in _all_keys() if decl.kind is None and decl.shape is None and decl.item is None]
    assert missing == []
    assert all(typing.get_origin(d.annotation) is typing.Annotated for d in TOP_KEYS)
