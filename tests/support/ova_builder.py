"""A small gateway OVA for tests, and a loopback HTTP(S) server to serve it.

- :func:`build_ova` makes the bytes of an OVA: a tar whose first member is an OVF descriptor of our making
  (:class:`OvaSpec`: firmware, SCSI and NIC subtypes, vApp properties, network names), then a manifest and one
  small disk. :func:`tar_bytes` packs members in any order (a descriptor not first, none at all);
  :func:`endless_ova` streams a descriptor and then a disk that never ends.
- :class:`OvaServer` serves such bodies over HTTP, or HTTPS with :func:`self_signed`'s certificate, on
  127.0.0.1 only (an ephemeral port): ranges, a refused HEAD, redirects and error statuses per path; it counts
  the body bytes it sent and records every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
import ssl
import tarfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from components.config import DEFAULT_OVA_PROPERTIES

BLOCK = 512
CHUNK = 64 * 1024


@dataclass(frozen=True)
class OvaSpec:
    """What the descriptor says. The defaults match the config's defaults (bios, pvscsi, vmxnet3, the
    guestinfo.* keys, "VM Network"), so a default OVA passes every check of a default config."""

    name: str = "gateway"
    firmware: str | None = None
    """Written as ``vmw:Config vmw:key="firmware"``; None leaves it out (which means bios)."""
    scsi: str | None = "VirtualSCSI"
    """The SCSI controller's rasd:ResourceSubType; None: no controller."""
    nic: str | None = "VmxNet3"
    """The NIC's rasd:ResourceSubType; None: no NIC."""
    properties: tuple[str, ...] = tuple(DEFAULT_OVA_PROPERTIES.values())
    fixed_properties: tuple[str, ...] = ()
    """Property keys defined with ``ovf:userConfigurable="false"``."""
    product_class: str = ""
    product_instance: str = ""
    networks: tuple[str, ...] = ("VM Network",)
    disk_size: int = 16 * 1024
    disks: tuple[int, ...] = (40,)
    """Each disk's capacity in GiB, as the DiskSection gives it (the file is the one small disk)."""
    transport: str | None = "com.vmware.guestInfo"
    """The VirtualHardwareSection's ``ovf:transport`` for the vApp properties; None leaves it out."""


def descriptor(spec: OvaSpec) -> bytes:
    """The OVF descriptor, shaped like a VMware export."""
    disk = f"{spec.name}-disk1.vmdk"
    items: list[tuple[str, str, str, str | None, str]] = [
        ("1", "Virtual CPUs", "3", None, "<rasd:VirtualQuantity>4</rasd:VirtualQuantity>"),
        ("2", "Memory", "4", None, "<rasd:VirtualQuantity>8192</rasd:VirtualQuantity>"),
    ]
    if spec.scsi is not None:
        items.append(("3", "SCSI Controller 0", "6", spec.scsi, "<rasd:Address>0</rasd:Address>"))
        items.append(("4", "Hard Disk 1", "17", None, "<rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>"))
    if spec.nic is not None:
        connection = f"<rasd:Connection>{escape(spec.networks[0] if spec.networks else 'none')}</rasd:Connection>"
        items.append(("5", "Network adapter 1", "10", spec.nic, connection))
    item_xml = "".join(
        f"<Item><rasd:ElementName>{name}</rasd:ElementName><rasd:InstanceID>{iid}</rasd:InstanceID>"
        f"<rasd:ResourceType>{kind}</rasd:ResourceType>"
        + (f"<rasd:ResourceSubType>{sub}</rasd:ResourceSubType>" if sub else "")
        + f"{extra}</Item>\n"
        for iid, name, kind, sub, extra in items
    )
    if spec.firmware is not None:
        item_xml += f'<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="{spec.firmware}"/>\n'
    networks = "".join(
        f"<Network ovf:name={quoteattr(n)}><Description>{escape(n)}</Description></Network>" for n in spec.networks
    )
    product = "".join(
        f" ovf:{a}={quoteattr(v)}" for a, v in (("class", spec.product_class), ("instance", spec.product_instance)) if v
    )
    props = "".join(
        f'<Property ovf:key={quoteattr(key)} ovf:type="string" ovf:userConfigurable="{str(configurable).lower()}">'
        f"<Label>{escape(key)}</Label></Property>\n"
        for keys, configurable in ((spec.properties, True), (spec.fixed_properties, False))
        for key in keys
    )
    disks = "".join(
        f'<Disk ovf:capacity="{gb}" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk{i}" '
        'ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>\n'
        for i, gb in enumerate(spec.disks, start=1)
    )
    transport = f" ovf:transport={quoteattr(spec.transport)}" if spec.transport is not None else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf">
<References><File ovf:href="{disk}" ovf:id="file1" ovf:size="{spec.disk_size}"/></References>
<DiskSection><Info>Virtual disk information</Info>
{disks}</DiskSection>
<NetworkSection><Info>The list of logical networks</Info>{networks}</NetworkSection>
<VirtualSystem ovf:id="{spec.name}"><Info>A virtual machine</Info><Name>{spec.name}</Name>
<OperatingSystemSection ovf:id="101" vmw:osType="ubuntu64Guest"><Info>The guest OS</Info></OperatingSystemSection>
<VirtualHardwareSection{transport}><Info>Virtual hardware requirements</Info>
<System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
<vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
{item_xml}</VirtualHardwareSection>
<ProductSection{product}><Info>Information about the installed software</Info><Product>Gateway</Product>
{props}</ProductSection>
</VirtualSystem>
</Envelope>
""".encode()


def disk_bytes(spec: OvaSpec) -> bytes:
    """The "disk": a recognisable pattern, not zeros (a reader that got into it would show)."""
    unit = b"DISK-" + spec.name.encode() + b"-"
    return (unit * (spec.disk_size // len(unit) + 1))[: spec.disk_size]


def member(name: str, data: bytes, size: int | None = None) -> bytes:
    """One tar member: its header (declaring ``size``, by default the data's) and the data, padded."""
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    info.mode = 0o644
    return info.tobuf(tarfile.GNU_FORMAT) + data + bytes(-len(data) % BLOCK)


def tar_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A whole tar archive of the members, in the order given."""
    return b"".join(member(name, data) for name, data in members) + bytes(2 * BLOCK)


def ova_members(spec: OvaSpec = OvaSpec()) -> list[tuple[str, bytes]]:
    """Descriptor, manifest, disk: the order the OVF standard asks for."""
    ovf, disk = descriptor(spec), disk_bytes(spec)
    files = [(f"{spec.name}.ovf", ovf), (f"{spec.name}-disk1.vmdk", disk)]
    manifest = "".join(f"SHA256({name})= {hashlib.sha256(data).hexdigest()}\n" for name, data in files)
    return [files[0], (f"{spec.name}.mf", manifest.encode()), files[1]]


def build_ova(spec: OvaSpec = OvaSpec()) -> bytes:
    return tar_bytes(ova_members(spec))


def write_ova(path: Path, spec: OvaSpec = OvaSpec()) -> Path:
    path.write_bytes(build_ova(spec))
    return path


def endless_ova(spec: OvaSpec = OvaSpec()) -> Iterator[bytes]:
    """An OVA stream whose disk (declared 1 TiB) never ends: only a reader that stops at the descriptor ends."""
    yield member(f"{spec.name}.ovf", descriptor(spec))
    yield member(f"{spec.name}-disk1.vmdk", b"", size=1 << 40)[:BLOCK]
    zeros = bytes(CHUNK)
    while True:
        yield zeros


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (an IP SAN) and its key, as PEM files: (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ova-test {host}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ova-server.crt", directory / "ova-server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


# ----------------------------------------------------------------------------------------------- server

Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Route:
    """How the server answers one path."""

    body: Body = b""
    """The bytes (ranges honoured), or a function giving the chunks of a stream (no length, no ranges)."""
    status: int = 200
    location: str | None = None
    """Redirect there, with ``status`` (302 if it is 200)."""
    head_status: int | None = None
    """Answer HEAD with this status and no body (405: HEAD refused)."""
    ranges: bool = True
    """False: ignore Range and send the whole body."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path
        owner.requests.append((self.command, path, self.headers.get("Range")))
        owner.headers.append(dict(self.headers))
        route = owner.routes.get(path)
        if route is None or (route.status >= 400 and not (head and route.head_status)):
            self.send_error(404 if route is None else route.status)
            return
        status, headers = 200, {}
        if head and route.head_status is not None:
            status, body = route.head_status, b""
        elif route.location is not None:
            status, body, headers = route.status if route.status != 200 else 302, b"", {"Location": route.location}
        elif callable(route.body):
            self.send_response(200)
            self.end_headers()
            if not head:
                self._send(path, route.body())
            return
        else:
            body, size = route.body, len(route.body)
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if route.ranges and wanted and int(wanted[1]) < size:
                first, last = int(wanted[1]), min(int(wanted[2] or size - 1), size - 1)
                status, body = 206, body[first : last + 1]
                headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self._send(path, (body[i : i + CHUNK] for i in range(0, len(body), CHUNK)))

    def _send(self, path: str, chunks: Iterable[bytes]) -> None:
        owner = self.server.owner
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                owner.sent[path] += len(chunk)
        except OSError:  # the client closed the connection before the body ended
            owner.aborted.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: OvaServer, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner, self.tls = owner, tls

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner.errors += 1  # a client that refused our certificate, say: not the test's concern here


@dataclass
class OvaServer:
    """HTTP (or HTTPS with ``tls=(cert, key)``) on 127.0.0.1, answering each path as its :class:`Route` says."""

    routes: dict[str, Route] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None
    sent: Counter[str] = field(default_factory=Counter)
    """Body bytes sent per path (what the kernel took, not what the client read)."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header) of every request."""
    headers: list[dict[str, str]] = field(default_factory=list)
    """Every request's headers."""
    aborted: threading.Event = field(default_factory=threading.Event)
    """Set when a client closed a connection before its body was sent."""
    errors: int = 0
    _server: _Server | None = None

    def start(self) -> OvaServer:
        context = None
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
        self._server = _Server(self, context)
        # A short poll interval: stop()'s shutdown() waits for the loop's next poll, at the end of every test.
        threading.Thread(target=self._server.serve_forever, args=(0.005,), name="ova-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> OvaServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "start the server first"
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


@contextlib.contextmanager
def serving(routes: dict[str, Route], tls: tuple[Path, Path] | None = None) -> Iterator[OvaServer]:
    with OvaServer(routes, tls) as server:
        yield server
