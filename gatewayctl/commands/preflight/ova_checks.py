"""Preflight's OVA checks: this machine can fetch the OVA, and the OVA is what the stack's config says it is.

The vSphere provider itself downloads an OVA named by ``ova.url`` (the descriptor, then each disk, TLS verified)
and pushes it to vCenter, in both deploy modes, or reads the file named by ``ova.path``; after the deploy it sets
the VM's firmware, SCSI controller and NIC type from its own inputs. So, from the machine that runs ``pulumi up``:

- ``ova.source``: a HEAD on the URL (a GET of the first byte where HEAD is refused), redirects followed and shown,
  TLS verified against the system's CAs, all within one deadline; or the file exists and can be read.
- ``ova.hardware`` (firmware, scsiType, nicType) and ``ova.descriptor`` (properties, ovfNetwork): the OVF
  descriptor, read from the head of the OVA's tar stream (the OVF standard puts it first) and never past it.
"""

from __future__ import annotations

import base64
import http.client
import math
import os
import re
import ssl
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar, cast
from xml.parsers import expat

from components import config as cfg
from gatewayctl.checks import Check, config_key, failed, ok, warned

T = TypeVar("T")
MAX_REDIRECTS = 5
MAX_DESCRIPTOR = 16 * 1024**2
#: Answers to HEAD that mean "not HEAD" rather than "not here": a GET of the first byte follows.
HEAD_REFUSED = (403, 405, 501)
REDIRECTS = (301, 302, 303, 307, 308)
OVF = "http://schemas.dmtf.org/ovf/envelope/1"
NS = {
    "ovf": OVF,
    "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
    "vmw": "http://www.vmware.com/schema/ovf",
}
#: Per rasd:ResourceType (6 SCSI controller, 10 NIC), rasd:ResourceSubType (lowercased) to the config's value.
SUBTYPES: Mapping[str, Mapping[str, str]] = {
    "6": {"virtualscsi": "pvscsi", "lsilogic": "lsilogic", "lsilogicsas": "lsilogic-sas"},
    "10": {"vmxnet3": "vmxnet3", "e1000": "e1000", "e1000e": "e1000e"},
}
HARDWARE = (("scsiType", "6", "SCSI controller"), ("nicType", "10", "NIC"))
FIX_OVA = "Point ova.url or ova.path at the vendor's OVA itself (a tar archive, its .ovf descriptor first)"


class SourceError(Exception):
    """The OVA could not be fetched, or is broken: a failing row."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


class NotCheckedError(Exception):
    """The descriptor was not compared, for a reason that is not the OVA's fault: a warning."""


def shown(source: str) -> str:
    """A URL without its password and query string (a signed redirect's token), for messages."""
    parts = urllib.parse.urlsplit(source)
    if not parts.scheme or not parts.netloc:
        return source
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:***@{host}" if ":" in user else parts.netloc
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


# ----------------------------------------------------------------------------------------------- HTTP


def _within(seconds: float, work: Callable[[], T]) -> T:
    """``work()``, abandoned on a daemon thread when it has not finished within ``seconds`` (name look-ups have
    no timeout, and a socket timeout bounds each read, not a redirect chain or a server trickling bytes)."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="ova-fetch", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError(f"no complete answer within {seconds:g} s")
    done, value = outcome[0]
    if not done:
        raise value
    return cast(T, value)


class _AsIs(urllib.request.HTTPErrorProcessor):
    """Every answer comes back as it is: :class:`_Fetch` follows the redirects itself, to show them."""

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        return response

    https_response = http_response


class _Fetch:
    """Requests to the URL and on along its redirects (at most MAX_REDIRECTS in all). TLS is verified with the
    system's CAs (or SSL_CERT_FILE's) and proxies come from HTTPS_PROXY / NO_PROXY, as for the provider."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.auth = None
        if parts.username is not None:  # user:password@ goes as basic auth, to the first request only
            pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.auth = "Basic " + base64.b64encode(pair.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url, self.timeout, self.hops = urllib.parse.urlunsplit(parts), timeout, list[str]()
        tls = urllib.request.HTTPSHandler(context=ssl.create_default_context())
        self.opener = urllib.request.build_opener(tls, _AsIs())

    def open(self, method: str, headers: Mapping[str, str] | None = None) -> http.client.HTTPResponse:
        while True:
            request = urllib.request.Request(self.url, method=method, headers=dict(headers or {}))
            if self.auth and not self.hops:
                request.add_header("Authorization", self.auth)
            response: http.client.HTTPResponse = self.opener.open(request, timeout=self.timeout)
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                return response
            response.close()
            target = urllib.parse.urljoin(self.url, location)
            self.hops.append(f"{response.status} to {shown(target)}")
            if len(self.hops) > MAX_REDIRECTS:
                raise SourceError(f"more than {MAX_REDIRECTS} redirects ({self.trail()})", _fix_url())
            if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
                raise SourceError(f"redirected off http(s) ({self.trail()})", _fix_url())
            self.url = target

    def trail(self) -> str:
        return f"redirected: {', '.join(self.hops)}" if self.hops else ""

    def explain(self, exc: BaseException) -> SourceError:
        """A failed request as a row's message and fix."""
        if isinstance(exc, SourceError):
            return exc
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
            exc = exc.reason
        where, trail = shown(self.url), f" ({self.trail()})" if self.hops else ""
        if isinstance(exc, ssl.SSLError):
            detail = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else exc.reason
            return SourceError(
                f"{where}: TLS failed, the server's certificate is not trusted here ({detail or exc}){trail}",
                "The vSphere provider verifies TLS when it downloads the OVA's disks: add the CA of the server's "
                "certificate to the system trust store of the machine that runs `pulumi up` (update-ca-certificates)"
                f", or serve the OVA with a trusted certificate, or download it and set {config_key('ova.path')}",
            )
        if isinstance(exc, TimeoutError):
            return SourceError(f"{where}: no complete answer within {self.timeout:g} s{trail}", _fix_url(slow=True))
        detail = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc) or type(exc).__name__
        return SourceError(f"{where}: {detail}{trail}", _fix_url())


def _fix_url(slow: bool = False) -> str:
    return (
        f"Check {config_key('ova.url')}, and the proxy (HTTPS_PROXY, NO_PROXY) and firewall between here and the "
        "server: the vSphere provider downloads the OVA on the machine that runs `pulumi up`, so run preflight there"
        f"{' (raise --probe-timeout for a slow server)' if slow else ''}; or download the OVA and set "
        f"{config_key('ova.path')}"
    )


def _probe_url(fetch: _Fetch) -> str:
    """A HEAD (or a GET of the first byte) on the URL: its size and the way there."""
    notes = []
    response = fetch.open("HEAD")
    if response.status in HEAD_REFUSED:
        response.close()
        notes.append(f"HEAD refused with {response.status}, so a GET of the first byte")
        response = fetch.open("GET", {"Range": "bytes=0-0"})
    with response:  # closed unread: a server that ignores the range sends the whole OVA
        if response.status not in (200, 206):
            raise SourceError(f"{shown(fetch.url)}: HTTP {response.status} {response.reason}", _fix_url())
        total = (response.headers.get("Content-Range") or "").rpartition("/")[2].strip()
        length = (response.headers.get("Content-Length") or "").strip()
    size = total if total.isdigit() else length if response.status == 200 and length.isdigit() else ""
    details = "; ".join(n for n in [*notes, fetch.trail()] if n)
    return f"reachable, {human_size(int(size)) if size else 'size not given'}" + (f" ({details})" if details else "")


# --------------------------------------------------------------------------------------------- checks


def _open_file(ova: cfg.OvaSettings, base: Path | None) -> IO[bytes]:
    path = Path(ova.path or "")
    path = path if path.is_absolute() or base is None else base / path  # pulumi runs in the project directory
    fix = f"Put the OVA at {path} on the machine that runs `pulumi up` (the provider reads it there), or fix "
    fix += config_key("ova.path")
    if not path.exists():
        raise SourceError(f"no such file: {path}{' (a broken symbolic link)' if path.is_symlink() else ''}", fix)
    if not path.is_file():
        raise SourceError(f"{path} is {'a directory' if path.is_dir() else 'not a regular file'}, not an OVA", fix)
    try:
        return path.open("rb")
    except OSError as exc:
        raise SourceError(f"{path} cannot be read ({exc.strerror or exc})", fix) from exc


def check_source(ova: cfg.OvaSettings, timeout: float, base: Path | None = None) -> list[Check]:
    """``ova.source``: the OVA can be fetched (URL) or read (file) from here; the message gives its size."""
    target = shown(ova.source)
    try:
        if ova.url is None:
            with _open_file(ova, base) as stream:
                stream.read(1)
                return [ok("ova.source", target, f"readable, {human_size(os.fstat(stream.fileno()).st_size)}")]
        fetch = _Fetch(ova.url, timeout)
        try:
            return [ok("ova.source", target, _within(timeout, lambda: _probe_url(fetch)))]
        except Exception as exc:
            raise fetch.explain(exc) from exc
    except SourceError as exc:
        if ova.url is not None and ova.url.endswith(".ovf") and ova.deploy == "library":
            # vCenter itself fetches a bare descriptor into a library: this machine's view is only a hint.
            return [warned("ova.source", target, f"{exc.message} (vCenter fetches a bare .ovf itself)", exc.fix)]
        return [failed("ova.source", target, exc.message, exc.fix)]


def _descriptor_of(stream: IO[bytes], name: str) -> bytes:
    """The descriptor at the head of an OVA stream (or a whole .ovf), reading nothing after it."""
    if name.endswith(".ovf"):
        data = stream.read(MAX_DESCRIPTOR + 1)
    else:
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                member = tar.next()
                if member is None:
                    raise SourceError("the OVA is an empty tar archive, without an OVF descriptor", FIX_OVA)
                if not member.isfile() or not member.name.lower().endswith(".ovf"):
                    raise NotCheckedError(
                        f"the OVA's first member is {member.name!r}, not the OVF descriptor (the OVF standard puts "
                        "it first), and the check does not read on into the disks"
                    )
                if member.size > MAX_DESCRIPTOR:
                    raise NotCheckedError(f"the descriptor is over {human_size(MAX_DESCRIPTOR)}")
                extracted = tar.extractfile(member)
                data = extracted.read() if extracted is not None else b""
        except tarfile.TarError as exc:
            raise SourceError(f"not an OVA: no tar archive ({exc})", FIX_OVA) from exc
    if len(data) > MAX_DESCRIPTOR:
        raise NotCheckedError(f"the descriptor is over {human_size(MAX_DESCRIPTOR)}")
    return data


def _read_descriptor(ova: cfg.OvaSettings, timeout: float, base: Path | None) -> bytes:
    if ova.url is None:
        with _open_file(ova, base) as stream:
            return _descriptor_of(stream, ova.path or "")
    fetch = _Fetch(ova.url, timeout)

    def get() -> bytes:
        with fetch.open("GET") as response:  # leaving the block closes the connection, the disks unread
            if response.status != 200:
                raise SourceError(f"{shown(fetch.url)}: GET answered {response.status} {response.reason}", _fix_url())
            return _descriptor_of(response, ova.url or "")

    try:
        return _within(timeout, get)
    except NotCheckedError:
        raise
    except Exception as exc:
        raise fetch.explain(exc) from exc


def _parse(data: bytes) -> ET.Element:
    """The descriptor's XML. A first pass refuses a DOCTYPE (entities: the way to an expansion bomb or a file
    read) before ElementTree builds the tree."""
    scan = expat.ParserCreate()

    def refuse(*_: object) -> None:
        raise NotCheckedError("the descriptor declares a DOCTYPE, so it is not parsed (an OVF needs none)")

    scan.StartDoctypeDeclHandler = refuse
    try:
        scan.Parse(data, True)
        root = ET.fromstring(data)
    except (expat.ExpatError, ET.ParseError) as exc:
        raise SourceError(f"the OVF descriptor is not valid XML ({exc})", FIX_OVA) from exc
    if root.tag != f"{{{OVF}}}Envelope":
        raise SourceError(f"not an OVF descriptor: its root element is {root.tag}", FIX_OVA)
    return root


def _ovf(element: ET.Element, name: str) -> str:
    return element.get(f"{{{OVF}}}{name}") or ""


def _compare(key: str, configured: str, found: Sequence[str]) -> Check:
    values = list(dict.fromkeys(found))
    if values == [configured]:
        return ok("ova.hardware", key, f"{configured}, as in the OVA")
    message = f"{config_key(f'ova.{key}')} is {configured}, but the OVA's descriptor says {' and '.join(values)}: the "
    message += f"vSphere provider would set {configured} on every VM, over the OVA's own"
    return failed("ova.hardware", key, message, f"Set {config_key(f'ova.{key}')}: {values[0]}")


def _hardware(root: ET.Element, ova: cfg.OvaSettings) -> list[Check]:
    sections = root.findall(".//ovf:VirtualHardwareSection", NS)
    vmw = "{" + NS["vmw"] + "}"
    config = {c.get(f"{vmw}key"): c.get(f"{vmw}value", "") for s in sections for c in s.findall("vmw:Config", NS)}
    rows = [_compare("firmware", ova.firmware, ["efi" if config.get("firmware", "").lower() == "efi" else "bios"])]
    items = [
        (i.findtext("rasd:ResourceType", "", NS).strip(), i.findtext("rasd:ResourceSubType", "", NS).strip())
        for s in sections
        for i in s.findall("ovf:Item", NS)
    ]
    for key, kind, noun in HARDWARE:
        want = ova.scsi_type if key == "scsiType" else ova.nic_type
        subtypes = list(dict.fromkeys(sub for t, sub in items if t == kind))
        unsupported = [s for s in subtypes if s.lower() not in SUBTYPES[kind]]
        fix = f"Ask the vendor which {noun} type the appliance needs, and set {config_key(f'ova.{key}')} to it"
        if not subtypes:
            rows.append(warned("ova.hardware", key, f"not compared: the OVA's descriptor has no {noun}", fix))
        elif unsupported:
            message = f"the OVA's {noun} is {', '.join(unsupported)}, a type the vSphere provider cannot set"
            rows.append(warned("ova.hardware", key, f"{message}: the VM gets a {want} {noun} instead", fix))
        else:
            rows.append(_compare(key, want, [SUBTYPES[kind][s.lower()] for s in subtypes]))
    return rows


def _descriptor(root: ET.Element, ova: cfg.OvaSettings) -> list[Check]:
    defined: dict[str, tuple[str, bool]] = {}  # ovf:key: (class.key.instance, user-configurable)
    for section in root.iter(f"{{{OVF}}}ProductSection"):
        for prop in section.iter(f"{{{OVF}}}Property"):
            full = ".".join(p for p in (_ovf(section, "class"), _ovf(prop, "key"), _ovf(section, "instance")) if p)
            defined[_ovf(prop, "key")] = (full, _ovf(prop, "userConfigurable").lower() == "true")
    by_full = {full: key for key, (full, _) in defined.items() if full != key}
    problems = []
    for name, key in ova.properties.items():
        if key in by_full:  # vSphere keeps class and instance apart; the provider matches the key alone
            problems.append(f"ova.properties.{name} is {key}: the OVA's key is {by_full[key]!r}, without the class")
        elif key not in defined:
            problems.append(f"ova.properties.{name} is {key}: the OVA defines no such property")
        elif not defined[key][1]:
            problems.append(f"ova.properties.{name} is {key}: not user-configurable, the provider refuses to set it")
    keys = ", ".join(sorted(defined)[:20]) or "none"
    fix = f"Map each field in {config_key('ova.properties')} to a user-configurable key the OVA defines: the provider "
    fix += "can set no other"
    mapped = f"the OVA defines every mapped key: {', '.join(ova.properties.values())}"
    problem = "; ".join(problems) + f" (the OVA's keys: {keys})"
    rows = [
        failed("ova.descriptor", "properties", problem, fix) if problems else ok("ova.descriptor", "properties", mapped)
    ]
    networks = [_ovf(n, "name") for s in root.iter(f"{{{OVF}}}NetworkSection") for n in s.findall("ovf:Network", NS)]
    if ova.ovf_network in networks:
        rows.append(ok("ova.descriptor", "ovfNetwork", f"the OVA has network {ova.ovf_network!r}"))
    else:
        message = f"the OVA has no network {ova.ovf_network!r}; it has {', '.join(map(repr, networks)) or 'none'}"
        fix = (
            f"Set {config_key('ova.ovfNetwork')}: {networks[0]}" if networks else "Use an OVA that defines its network"
        )
        rows.append(failed("ova.descriptor", "ovfNetwork", message, fix))
    return rows


#: ``ovf:capacityAllocationUnits`` as "byte * 2^N" (the form VMware writes): N.
_UNITS = re.compile(r"^\s*byte\s*\*\s*2\s*\^\s*(\d+)\s*$")


def _capacity_gb(disk: ET.Element) -> float | None:
    try:
        capacity = int(_ovf(disk, "capacity"))
    except ValueError:
        return None  # a ${property} reference, or nothing: not judged
    units = _ovf(disk, "capacityAllocationUnits") or "byte"
    match = _UNITS.match(units)
    power = int(match[1]) if match else 0 if units.strip() == "byte" else None
    return None if power is None else capacity * 2**power / 2**30


def _disks(root: ET.Element, disk_gb: int) -> Check:
    """The program declares one disk: a library clone turns template disks without a disk block into
    `orphaned_disk_N` and detaches them on the next update, and it cannot shrink one (the provider's post-deploy
    reconfigure fails and deletes the VM). docs/upstream-facts.md V11, V23."""
    disks = [d for s in root.iter(f"{{{OVF}}}DiskSection") for d in s.findall("ovf:Disk", NS)]
    if len(disks) != 1:
        message = f"the OVA has {len(disks)} disks; the program gives each VM exactly one disk block, and the "
        message += "vSphere provider detaches every other disk of a clone on its next update"
        return failed("ova.descriptor", "disks", message, "Use the vendor's single-disk OVA, or ask the vendor")
    size = _capacity_gb(disks[0])
    if size is None:
        return warned(
            "ova.descriptor",
            "disks",
            "one disk, of a capacity not given in bytes: not compared with nodeSize.diskGb",
            f"Make sure {config_key('nodeSize.diskGb')} is at least the OVA's disk size",
        )
    if size > disk_gb:
        message = f"{config_key('nodeSize.diskGb')} is {disk_gb}, but the OVA's disk is {size:g} GB: vSphere cannot "
        message += "shrink a disk, and the provider deletes a clone whose disk it cannot resize"
        return failed("ova.descriptor", "disks", message, f"Set {config_key('nodeSize.diskGb')}: {math.ceil(size)}")
    return ok("ova.descriptor", "disks", f"one disk of {size:g} GB, grown to {disk_gb} GB")


def _transport(root: ET.Element) -> Check:
    """The program hands the vApp properties over VMware Tools (`com.vmware.guestInfo`): the provider removes
    undeclared CD-ROMs after a clone, so an ISO-only transport fails ("requires a client CDROM device")."""
    sections = root.findall(".//ovf:VirtualHardwareSection", NS)
    transports = {t for s in sections for t in _ovf(s, "transport").split()}
    if "com.vmware.guestInfo" in transports:
        return ok("ova.descriptor", "transport", "vApp properties reach the guest through VMware Tools (guestInfo)")
    if transports:
        message = f"the OVA delivers its vApp properties only by {', '.join(sorted(transports))}: the provider "
        message += "removes the CD-ROM such a transport needs, and the deploy fails"
        return failed("ova.descriptor", "transport", message, "Use an OVA with the com.vmware.guestInfo transport")
    message = "the OVA names no vApp transport: the appliance may never see its hostname and address"
    return warned("ova.descriptor", "transport", message, "Check with the vendor how the appliance reads them")


def check_hardware(
    ova: cfg.OvaSettings, timeout: float, base: Path | None = None, disk_gb: int = cfg.NodeSize().disk_gb
) -> list[Check]:
    """``ova.hardware`` and ``ova.descriptor``: the OVF descriptor against the config."""
    target = shown(ova.source)
    try:
        root = _parse(_read_descriptor(ova, timeout, base))
    except SourceError as exc:
        return [failed("ova.hardware", target, exc.message, exc.fix)]
    except NotCheckedError as exc:
        fix = "Compare the OVA's .ovf with ova.firmware, ova.scsiType, ova.nicType and ova.properties yourself"
        return [warned("ova.hardware", target, f"not checked: {exc}", fix)]
    return [*_hardware(root, ova), *_descriptor(root, ova), _disks(root, disk_gb), _transport(root)]


def check_ova(
    ova: cfg.OvaSettings, timeout: float, base: Path | None = None, disk_gb: int = cfg.NodeSize().disk_gb
) -> list[Check]:
    """Both checks; the descriptor only when the source passed (one failure, not two)."""
    rows = check_source(ova, timeout, base)
    if any(r.status != "pass" for r in rows):
        why = "not checked: source unreachable, see ova.source"
        return [*rows, warned("ova.hardware", shown(ova.source), why, "Fix ova.source first")]
    return rows + check_hardware(ova, timeout, base, disk_gb)
