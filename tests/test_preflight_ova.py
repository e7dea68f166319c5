"""`preflight`'s OVA checks (gatewayctl/commands/preflight/ova_checks.py): ``ova.source``, ``ova.hardware`` and
``ova.descriptor``.

OVAs come from tests/support/ova_builder.py, served from threads on 127.0.0.1 (HTTP, or HTTPS with a self-signed
certificate) or written to files. The check functions are called directly; one test runs `gatewayctl preflight
--json` end to end. All traffic stays on 127.0.0.1; no test asserts on timing.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import config as cfg
from gatewayctl.checks import Check
from gatewayctl.commands.preflight import ova_checks
from tests.support.ova_builder import (
    OvaServer,
    OvaSpec,
    Route,
    build_ova,
    descriptor,
    disk_bytes,
    endless_ova,
    member,
    ova_members,
    self_signed,
    tar_bytes,
    write_ova,
)
from tests.support.stacks import gatewayctl, make_project, stack_raw

#: Generous: the loopback server answers at once. Only the cases that must time out use SHORT.
TIMEOUT = 10.0
SHORT = 0.5
OVA = build_ova()
NAME = "/gateway-17.0.0.ova"
SIZE = ova_checks.human_size(len(OVA))


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """No proxy or extra CA from the caller's environment: requests go straight to 127.0.0.1."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def server() -> Iterator[OvaServer]:
    with OvaServer() as srv:
        yield srv


@pytest.fixture
def other() -> Iterator[OvaServer]:
    """A second server (another port: another host as far as redirects go)."""
    with OvaServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def settings(**changes: Any) -> cfg.OvaSettings:
    return dataclasses.replace(cfg.OvaSettings(version="17.0.0", url="http://unused.invalid/x.ova"), **changes)


def only(rows: list[Check], id_: str, target: str | None = None) -> Check:
    found = [r for r in rows if r.id == id_ and (target is None or r.target == target)]
    assert len(found) == 1, rows
    return found[0]


# ------------------------------------------------------------------------------------------ ova.source: URL

# (routes on `server`; "{other}" in a location is the second server), the path asked for, status, message parts
SOURCE_CASES = [
    ({NAME: Route(OVA)}, NAME, "pass", [f"reachable, {ova_checks.human_size(len(OVA))}"]),
    ({NAME: Route(OVA, head_status=405)}, NAME, "pass", ["HEAD refused with 405", SIZE]),
    ({NAME: Route(OVA, head_status=501)}, NAME, "pass", ["HEAD refused with 501", SIZE]),
    ({NAME: Route(OVA, head_status=403)}, NAME, "pass", ["HEAD refused with 403", SIZE]),
    ({NAME: Route(OVA, head_status=405, ranges=False)}, NAME, "pass", [SIZE]),
    ({NAME: Route(OVA, status=403)}, NAME, "fail", ["HTTP 403"]),
    (
        {
            "/start.ova": Route(location="{other}/moved.ova"),
            "/later.ova": Route(OVA),
        },
        "/start.ova",
        "pass",
        [f"reachable, {SIZE}", "302 to {other}/moved.ova", "301 to {server}/later.ova"],
    ),
    (
        {f"/r{i}.ova": Route(location=f"/r{i + 1}.ova", status=307) for i in range(7)},
        "/r0.ova",
        "fail",
        ["more than 5 redirects", "307 to {server}/r6.ova"],
    ),
    ({}, NAME, "fail", ["HTTP 404"]),
]
SOURCE_IDS = [
    "head-ok",
    "head-405-ranged-get",
    "head-501-ranged-get",
    "head-403-ranged-get",
    "range-ignored",
    "forbidden",
    "redirect-chain-cross-host",
    "too-many-redirects",
    "not-found",
]


@pytest.mark.parametrize(("routes", "path", "status", "parts"), SOURCE_CASES, ids=SOURCE_IDS)
def test_source_url(server, other, routes, path, status, parts):
    for path_, route in routes.items():
        location = route.location and route.location.format(other=other.base)
        server.routes[path_] = dataclasses.replace(route, location=location)
    # the chain case: other:/moved.ova goes back to server:/later.ova
    other.routes["/moved.ova"] = Route(location=server.url("/later.ova"), status=301)
    rows = ova_checks.check_source(settings(url=server.url(path)), TIMEOUT)
    row = only(rows, "ova.source", server.url(path))
    assert row.status == status, row
    for part in parts:
        assert part.format(other=other.base, server=server.base) in row.message, row
    assert (row.fix is None) == (status == "pass")


def test_refused_head_asks_for_one_byte(server):
    server.routes[NAME] = Route(OVA, head_status=405)
    ova_checks.check_source(settings(url=server.url(NAME)), TIMEOUT)
    assert server.requests == [("HEAD", NAME, None), ("GET", NAME, "bytes=0-0")]
    assert server.sent[NAME] <= 1  # (counted by the server after the write: the check may be back before)


def test_refused_connection():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}{NAME}"
    row = only(ova_checks.check_source(settings(url=url), TIMEOUT), "ova.source")
    assert row.status == "fail" and "connection refused" in row.message
    assert "proxy" in (row.fix or "") and "ova.path" in (row.fix or "")


def test_silent_server_is_bounded_by_the_timeout():
    # Listening, never accepting: the connection is made (the kernel's backlog) and the request never answered.
    with socket.create_server(("127.0.0.1", 0)) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}{NAME}"
        row = only(ova_checks.check_source(settings(url=url), SHORT), "ova.source")
    assert row.status == "fail"
    assert f"no complete answer within {SHORT:g} s" in row.message
    assert "--probe-timeout" in (row.fix or "")


def test_untrusted_certificate(cert):
    with OvaServer({NAME: Route(OVA)}, tls=cert) as srv:
        row = only(ova_checks.check_source(settings(url=srv.url(NAME)), TIMEOUT), "ova.source")
    assert row.status == "fail" and "TLS failed" in row.message, row
    assert "certificate verify failed" in row.message or "self-signed" in row.message, row
    assert "verifies TLS" in (row.fix or "") and "trust store" in (row.fix or "")


def test_certificate_trusted_through_ssl_cert_file(cert, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with OvaServer({NAME: Route(OVA)}, tls=cert) as srv:
        row = only(ova_checks.check_source(settings(url=srv.url(NAME)), TIMEOUT), "ova.source")
    assert row.status == "pass", row


def test_password_in_url_goes_as_basic_auth_and_is_never_shown(server):
    server.routes[NAME] = Route(OVA)
    url = server.url(NAME).replace("://", "://svc:s3cret-word@")
    row = only(ova_checks.check_source(settings(url=url), TIMEOUT), "ova.source")
    assert row.status == "pass"
    assert "s3cret-word" not in row.target + row.message and "svc:***@" in row.target
    assert server.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"svc:s3cret-word").decode()


def test_bare_ovf_in_library_mode_only_warns(server):
    row = only(ova_checks.check_source(settings(url=server.url("/gateway.ovf")), TIMEOUT), "ova.source")
    assert row.status == "warn" and "vCenter fetches a bare .ovf itself" in row.message


# ----------------------------------------------------------------------------------------- ova.source: path


def _broken_link(tmp: Path) -> Path:
    link = tmp / "gateway.ova"
    link.symlink_to(tmp / "gone.ova")
    return link


PATH_CASES = [
    (lambda tmp: write_ova(tmp / "gateway.ova"), "pass", f"readable, {SIZE}"),
    (lambda tmp: tmp / "missing.ova", "fail", "no such file"),
    (_broken_link, "fail", "a broken symbolic link"),
    # As root, chmod 000 would not stop the read: a directory is the unreadable OVA here.
    (lambda tmp: (tmp / "dir.ova").mkdir() or tmp / "dir.ova", "fail", "is a directory"),
]


@pytest.mark.parametrize(("make", "status", "part"), PATH_CASES, ids=["ok", "missing", "broken-link", "directory"])
def test_source_path(tmp_path, make, status, part):
    path = make(tmp_path)
    row = only(ova_checks.check_source(settings(url=None, path=str(path)), TIMEOUT), "ova.source", str(path))
    assert row.status == status and part in row.message, row


def test_relative_path_is_the_project_directorys(tmp_path):
    write_ova(tmp_path / "gateway.ova")
    row = only(ova_checks.check_source(settings(url=None, path="gateway.ova"), TIMEOUT, tmp_path), "ova.source")
    assert row.status == "pass" and row.target == "gateway.ova"


# ---------------------------------------------------------------------------------------- the descriptor

# the OVA, the config's changes, {(id, target): status}, expected parts of the failing/warning rows' text
ALL_PASS = {
    ("ova.hardware", "firmware"): "pass",
    ("ova.hardware", "scsiType"): "pass",
    ("ova.hardware", "nicType"): "pass",
    ("ova.descriptor", "properties"): "pass",
    ("ova.descriptor", "ovfNetwork"): "pass",
    ("ova.descriptor", "disks"): "pass",
    ("ova.descriptor", "transport"): "pass",
}
HARDWARE_CASES = [
    (OvaSpec(), {}, {}, []),
    (
        OvaSpec(firmware="efi", scsi="lsilogicsas", nic="E1000E"),
        {"firmware": "efi", "scsi_type": "lsilogic-sas", "nic_type": "e1000e"},
        {},
        [],
    ),
    (OvaSpec(scsi="lsilogic", nic="VMXNET3"), {"scsi_type": "lsilogic"}, {}, []),
    (
        OvaSpec(firmware="efi"),
        {},
        {("ova.hardware", "firmware"): "fail"},
        ["gateway-cluster:ova.firmware is bios", "says efi", "Set gateway-cluster:ova.firmware: efi"],
    ),
    (
        OvaSpec(),
        {"firmware": "efi"},
        {("ova.hardware", "firmware"): "fail"},
        ["Set gateway-cluster:ova.firmware: bios"],
    ),
    (
        OvaSpec(scsi="lsilogic"),
        {},
        {("ova.hardware", "scsiType"): "fail"},
        ["ova.scsiType is pvscsi", "Set gateway-cluster:ova.scsiType: lsilogic"],
    ),
    (
        OvaSpec(nic="E1000"),
        {},
        {("ova.hardware", "nicType"): "fail"},
        ["ova.nicType is vmxnet3", "Set gateway-cluster:ova.nicType: e1000"],
    ),
    (OvaSpec(scsi="buslogic"), {}, {("ova.hardware", "scsiType"): "warn"}, ["buslogic", "cannot set"]),
    (OvaSpec(nic="PCNet32"), {}, {("ova.hardware", "nicType"): "warn"}, ["PCNet32"]),
    (
        OvaSpec(scsi=None, nic=None),
        {},
        {("ova.hardware", "scsiType"): "warn", ("ova.hardware", "nicType"): "warn"},
        ["has no SCSI controller", "has no NIC"],
    ),
    (
        OvaSpec(properties=("guestinfo.hostname", "guestinfo.ipaddress", "guestinfo.netmask", "guestinfo.gateway")),
        {},
        {("ova.descriptor", "properties"): "fail"},
        ["ova.properties.dns is guestinfo.dns: the OVA defines no such property", "user-configurable key"],
    ),
    (
        OvaSpec(
            properties=("guestinfo.hostname", "guestinfo.ipaddress", "guestinfo.netmask", "guestinfo.gateway"),
            fixed_properties=("guestinfo.dns",),
        ),
        {},
        {("ova.descriptor", "properties"): "fail"},
        ["ova.properties.dns is guestinfo.dns: not user-configurable"],
    ),
    (OvaSpec(product_class="vami", product_instance="gateway"), {}, {}, []),
    (
        OvaSpec(product_class="vami", product_instance="gateway"),
        {"properties": {**cfg.DEFAULT_OVA_PROPERTIES, "ip": "vami.guestinfo.ipaddress.gateway"}},
        {("ova.descriptor", "properties"): "fail"},
        ["the OVA's key is 'guestinfo.ipaddress', without the class"],
    ),
    (
        OvaSpec(networks=("Gateway Network", "Backup")),
        {},
        {("ova.descriptor", "ovfNetwork"): "fail"},
        [
            "no network 'VM Network'",
            "it has 'Gateway Network', 'Backup'",
            "Set gateway-cluster:ova.ovfNetwork: Gateway Network",
        ],
    ),
    (OvaSpec(networks=("Gateway Network",)), {"ovf_network": "Gateway Network"}, {}, []),
    (OvaSpec(disks=(20,)), {}, {}, []),
    (
        OvaSpec(disks=(60,)),
        {},
        {("ova.descriptor", "disks"): "fail"},
        ["nodeSize.diskGb is 40, but the OVA's disk is 60 GB", "Set gateway-cluster:nodeSize.diskGb: 60"],
    ),
    (
        OvaSpec(disks=(20, 100)),
        {},
        {("ova.descriptor", "disks"): "fail"},
        ["the OVA has 2 disks", "detaches every other disk"],
    ),
    (
        OvaSpec(transport="iso"),
        {},
        {("ova.descriptor", "transport"): "fail"},
        ["only by iso", "removes the CD-ROM"],
    ),
    (OvaSpec(transport="iso com.vmware.guestInfo"), {}, {}, []),
    (OvaSpec(transport=None), {}, {("ova.descriptor", "transport"): "warn"}, ["names no vApp transport"]),
]
HARDWARE_IDS = [
    "defaults-match",
    "efi-lsilogicsas-e1000e-match",
    "lsilogic-case-insensitive-nic-match",
    "firmware-efi-vs-bios",
    "firmware-bios-vs-efi",
    "scsi-mismatch",
    "nic-mismatch",
    "scsi-unsupported",
    "nic-unsupported",
    "no-controller-no-nic",
    "property-missing",
    "property-not-configurable",
    "class-and-instance-bare-key-matches",
    "class-qualified-key-does-not",
    "network-missing",
    "network-renamed-in-config",
    "disk-smaller-than-node-size",
    "disk-larger-than-node-size",
    "two-disks",
    "iso-transport-only",
    "iso-and-guestinfo-transports",
    "no-transport",
]


def _assert_rows(rows: list[Check], expected: dict[tuple[str, str], str], parts: list[str]) -> None:
    assert {(r.id, r.target): r.status for r in rows} == {**ALL_PASS, **expected}, rows
    text = " | ".join(f"{r.message} / {r.fix}" for r in rows if r.status != "pass")
    for part in parts:
        assert part in text


@pytest.mark.parametrize(("spec", "changes", "expected", "parts"), HARDWARE_CASES, ids=HARDWARE_IDS)
def test_descriptor_from_a_file(tmp_path, spec, changes, expected, parts):
    path = write_ova(tmp_path / "gateway.ova", spec)
    _assert_rows(ova_checks.check_hardware(settings(url=None, path=str(path), **changes), TIMEOUT), expected, parts)


@pytest.mark.parametrize(
    ("spec", "changes", "expected", "parts"), [HARDWARE_CASES[0], HARDWARE_CASES[3]], ids=["match", "mismatch"]
)
def test_descriptor_over_http(server, spec, changes, expected, parts):
    server.routes[NAME] = Route(build_ova(spec))
    _assert_rows(ova_checks.check_hardware(settings(url=server.url(NAME), **changes), TIMEOUT), expected, parts)
    assert [r[0] for r in server.requests] == ["GET"]


def test_bare_ovf_descriptor(tmp_path):
    path = tmp_path / "gateway.ovf"
    path.write_bytes(descriptor(OvaSpec(firmware="efi")))
    rows = ova_checks.check_hardware(settings(url=None, path=str(path), firmware="efi"), TIMEOUT)
    _assert_rows(rows, {}, [])


DOCTYPE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Envelope>&a;</Envelope>'
# an archive's members, or its raw bytes; the one ova.hardware row's status and message part
STRUCTURE_CASES = [
    (list(reversed(ova_members())), "warn", "first member is 'gateway-disk1.vmdk', not the OVF descriptor"),
    ([m for m in ova_members() if not m[0].endswith(".ovf")], "warn", "not the OVF descriptor"),
    ([], "fail", "empty tar archive"),
    (b"<html><body>Please log in</body></html>\n" * 30, "fail", "not an OVA: no tar archive"),
    ([("gateway.ovf", DOCTYPE)], "warn", "declares a DOCTYPE"),
    ([("gateway.ovf", b"<Envelope><unclosed></Envelope>")], "fail", "not valid XML"),
    ([("gateway.ovf", b"<Other/>")], "fail", "not an OVF descriptor"),
]


@pytest.mark.parametrize(
    ("content", "status", "part"),
    STRUCTURE_CASES,
    ids=["descriptor-not-first", "no-descriptor", "empty-archive", "html-page", "doctype", "bad-xml", "not-ovf"],
)
def test_archive_structure(tmp_path, content, status, part):
    path = tmp_path / "gateway.ova"
    path.write_bytes(content if isinstance(content, bytes) else tar_bytes(content))
    rows = ova_checks.check_hardware(settings(url=None, path=str(path)), TIMEOUT)
    assert [(r.id, r.target, r.status) for r in rows] == [("ova.hardware", str(path), status)], rows
    assert part in rows[0].message and rows[0].fix


def test_endless_disk_is_never_read(server):
    """The disk never ends: the check returns because it stops at the descriptor and hangs up."""
    server.routes[NAME] = Route(lambda: endless_ova(OvaSpec()))
    rows = ova_checks.check_hardware(settings(url=server.url(NAME)), TIMEOUT)
    _assert_rows(rows, {}, [])
    assert server.aborted.wait(TIMEOUT), "the server should see the client hang up mid-disk"
    # What the kernel buffers took before the hang-up, far below what reading the disk for the timeout would be.
    assert server.sent[NAME] < 32 * 1024**2


def test_disk_missing_from_a_file_is_not_noticed(tmp_path):
    """Proof for files: the disk's header promises 1 TiB and the file ends there; the check never looks."""
    spec = OvaSpec()
    path = tmp_path / "gateway.ova"
    path.write_bytes(member("gateway.ovf", descriptor(spec)) + member("gateway-disk1.vmdk", disk_bytes(spec), 1 << 40))
    _assert_rows(ova_checks.check_hardware(settings(url=None, path=str(path)), TIMEOUT), {}, [])


def test_get_refused_after_head_passed(server):
    server.routes[NAME] = Route(OVA, status=404, head_status=200)
    rows = ova_checks.check_ova(settings(url=server.url(NAME)), TIMEOUT)
    assert [(r.id, r.status) for r in rows] == [("ova.source", "pass"), ("ova.hardware", "fail")]
    assert "GET answered 404" in rows[1].message


def test_unreachable_source_is_one_failure(server):
    rows = ova_checks.check_ova(settings(url=server.url(NAME)), TIMEOUT)
    assert [(r.id, r.status) for r in rows] == [("ova.source", "fail"), ("ova.hardware", "warn")]
    assert rows[1].message == "not checked: source unreachable, see ova.source"


# ------------------------------------------------------------------------------------------ end to end


@pytest.mark.parametrize(
    ("spec", "firmware"), [(OvaSpec(), "pass"), (OvaSpec(firmware="efi"), "fail")], ids=["good", "efi"]
)
def test_preflight_cli_shows_the_ova_rows(tmp_path, server, spec, firmware, monkeypatch):
    """`gatewayctl preflight --json` on the dev stack, its OVA on the loopback server. No vCenter is configured
    (that row fails) and the node addresses are loopback ones: only the ova rows are asserted on."""
    server.routes[NAME] = Route(build_ova(spec))
    raw = stack_raw("dev")
    for key in ("vsphere:vsphereServer", "vsphere:user"):
        raw.pop(key, None)
    raw["gateway-cluster:ova"]["url"] = server.url(NAME)
    raw["gateway-cluster:network"] = {"cidr": "127.0.0.0/24", "gateway": "127.0.0.1", "dns": ["127.0.0.1"]}
    raw["gateway-cluster:floatingIp"] = "127.0.0.20"
    raw["gateway-cluster:nodes"][0]["ip"] = "127.0.0.11"
    project = make_project(tmp_path, {"lab": raw})
    for key in [k for k in os.environ if k.startswith("VSPHERE_") or "proxy" in k.lower()]:
        monkeypatch.delenv(key)
    code, out, err = gatewayctl("preflight", "--stack", "lab", "--json", "--probe-timeout", "10", cwd=project)
    assert code == 1, err  # the vcenter row fails at least
    rows = {(c["id"], c["target"]): c for c in json.loads(out)["checks"] if c["id"].startswith("ova.")}
    assert rows[("ova.source", server.url(NAME))]["status"] == "pass"
    assert (
        rows[("ova.source", server.url(NAME))]["message"] == f"reachable, {ova_checks.human_size(len(build_ova(spec)))}"
    )
    assert {k: c["status"] for k, c in rows.items() if k[0] != "ova.source"} == {
        **ALL_PASS,
        ("ova.hardware", "firmware"): firmware,
    }
    assert "checking the OVA at" in err
