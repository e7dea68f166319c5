"""HTTPS stand-ins for the vendor's appliance and platform APIs, with real TLS, on 127.0.0.1 only.

They follow the documented endpoints, headers and payloads (the vendor's public API docs, summarised in the
docs/cluster.md, "Gateway services and registration"), record every call, and can be told to misbehave: reject
credentials (401), call tokens expired (407), or not answer at all. Certificates are made here with
``cryptography``. The pytest fixtures that start and stop them are in ``tests/support/registration_fixtures.py``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


# ------------------------------------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate and its key, in PEM."""

    cert_pem: str
    key_pem: str

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        cert, key = folder / f"{stem}.crt", folder / f"{stem}.key"
        cert.write_text(self.cert_pem)
        key.write_text(self.key_pem)
        key.chmod(0o600)
        return cert, key


def self_signed(common_name: str, *, ips: tuple[str, ...] = (), dns: tuple[str, ...] = ()) -> Certificate:
    """A self-signed end-entity certificate (``CA:FALSE``), as an appliance makes for itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return Certificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


# ------------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Request:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any


@dataclass(frozen=True)
class Call(Request):
    """One request as the stand-in received it, and the status it answered with."""

    status: int


# ---------------------------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not traffic
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        form = dict(urllib.parse.parse_qsl(raw.decode())) if ctype == "application/x-www-form-urlencoded" else None
        body: Any = None
        if ctype == "application/json" and raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = raw.decode(errors="replace")
        request = Request(self.command, urllib.parse.urlsplit(self.path).path, dict(self.headers.items()), form, body)
        status, answer = self.server.api.answer(request)
        with self.server.api.lock:
            self.server.api.calls.append(Call(**vars(request), status=status))
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        if status == HTTPStatus.TOO_MANY_REQUESTS and self.server.api.retry_after is not None:
            self.send_header("Retry-After", self.server.api.retry_after)
        self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _handle  # noqa: N815 (http.server's naming)
    do_POST = _handle  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: StandIn
    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        if not self.api.available():
            # Down (its pod is not running anywhere): the connection is closed before any TLS or HTTP.
            request.close()
            return
        # TLS per connection, in the connection's own thread: a client that never completes its handshake
        # (or rejects the certificate) then cannot stall the accept loop.
        with self.tls.wrap_socket(request, server_side=True) as conn:
            _Handler(conn, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that rejects the certificate closes mid-handshake: expected in the TLS tests.
        return


class StandIn:
    """An HTTPS server on 127.0.0.1 (a free port; or another loopback address and port, ``bind``) whose
    :meth:`answer` a subclass implements."""

    def __init__(self, cert: Certificate, folder: Path, bind: tuple[str, int] = (LOOPBACK, 0)) -> None:
        self.cert = cert
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.rate_limited = 0
        """Answer this many requests (any path) with 429, then behave."""
        self.retry_after: str | None = "0"
        """The ``Retry-After`` header sent with a 429 (``None``: none)."""
        cert_file, key_file = cert.write(folder, f"{type(self).__name__.lower()}-{secrets.token_hex(4)}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server = _Server(bind, _Handler)
        self._server.api = self
        self._server.tls = context
        # A short poll interval: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.005}, name=type(self).__name__, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"{self._server.server_address[0]!s}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def available(self) -> bool:
        """Whether it answers at all (a subclass or a test may make it go away)."""
        return True

    def rate_limit(self) -> bool:
        """Whether this request is answered 429 (and counts one of :attr:`rate_limited` down)."""
        with self.lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return True
        return False

    def paths(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return [(c.method, c.path, c.status) for c in self.calls]


# --------------------------------------------------------------------------------------------- appliance


@dataclass
class ApplianceState:
    """What the appliance knows and how it behaves."""

    users: dict[str, str]
    valid_keys: set[str]
    token_paths: tuple[str, ...] = ("/v2/auth/token", "/api/v2/apiTokenGen")
    """Which token endpoints this release has (newer docs: the first; older: the second)."""
    expire_registrations: int = 0
    """Answer this many registrations with 407 (token expired), then behave."""
    repeat_status: int = 200
    """How a registration of an already registered appliance is answered (200 or 400, both say so)."""
    issued: set[str] = field(default_factory=set)
    registered: tuple[str, str] | None = None
    """(activation key, server) once registered."""


class ApplianceStandIn(StandIn):
    """The Gateway Manager's appliance API on port 5480, as documented."""

    def __init__(
        self, cert: Certificate, folder: Path, state: ApplianceState, bind: tuple[str, int] = (LOOPBACK, 0)
    ) -> None:
        super().__init__(cert, folder, bind)
        self.state = state

    def answer(self, request: Request) -> tuple[int, Any]:
        s = self.state
        if self.rate_limit():
            return HTTPStatus.TOO_MANY_REQUESTS, {"message": "Too many requests"}
        if request.path in s.token_paths and request.method == "POST":
            form = request.form or {}
            if form.get("username") not in s.users or s.users[form["username"]] != form.get("password"):
                return HTTPStatus.UNAUTHORIZED, {"message": "Invalid username or password"}
            token = secrets.token_hex(16)
            with self.lock:
                s.issued.add(token)
            return HTTPStatus.OK, {"token": token, "expires_in": "3599.98"}
        if request.path == "/api/v2/registration" and request.method == "POST":
            return self._register(request)
        if request.path in ("/v2/auth/token", "/api/v2/apiTokenGen", "/api/v2/registration"):
            return HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method not allowed"}
        return HTTPStatus.NOT_FOUND, {"message": "Not found"}

    def _register(self, request: Request) -> tuple[int, Any]:
        s = self.state
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme != "Token" or token not in s.issued:
            return HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"}
        with self.lock:
            if s.expire_registrations > 0:
                s.expire_registrations -= 1
                return 407, {"message": "Token expired"}
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return HTTPStatus.BAD_REQUEST, {"message": "Content-Type must be application/json"}
        body = request.json if isinstance(request.json, dict) else {}
        key, server = body.get("activationKey"), body.get("opsRampServer")
        if not key or not server:
            return HTTPStatus.BAD_REQUEST, {"message": "activationKey and opsRampServer are mandatory"}
        if s.registered is not None:
            return s.repeat_status, {"message": "Appliance already registered"}
        if key not in s.valid_keys:
            return HTTPStatus.UNAUTHORIZED, {"message": "Invalid activation key"}
        s.registered = (key, server)
        return HTTPStatus.OK, "Appliance Registered Successfully"


# ---------------------------------------------------------------------------------------------- platform


@dataclass
class PlatformState:
    """The tenant's platform API: clients, profiles, and misbehaviour."""

    clients: dict[str, str]
    tenant: str
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    expire_calls: int = 0
    """Answer this many bearer calls with 407, then behave."""
    issued: set[str] = field(default_factory=set)
    tokens_handed_out: list[str] = field(default_factory=list)
    """Every activation token issued (create and attach), newest last."""


class PlatformStandIn(StandIn):
    """The platform API: OAuth client credentials and gateway management profiles."""

    def __init__(self, cert: Certificate, folder: Path, state: PlatformState) -> None:
        super().__init__(cert, folder)
        self.state = state

    def _activation_token(self) -> str:
        token = f"act-{secrets.token_hex(12)}"
        self.state.tokens_handed_out.append(token)
        return token

    def answer(self, request: Request) -> tuple[int, Any]:
        s = self.state
        if self.rate_limit():
            return HTTPStatus.TOO_MANY_REQUESTS, {"message": "Too many requests"}
        if request.path == "/auth/oauth/token" and request.method == "POST":
            form = request.form or {}
            if form.get("grant_type") != "client_credentials":
                return HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"}
            if s.clients.get(form.get("client_id", "")) != form.get("client_secret"):
                return HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"}
            token = secrets.token_hex(16)
            with self.lock:
                s.issued.add(token)
            return HTTPStatus.OK, {"access_token": token, "token_type": "bearer", "expires_in": 7199}
        parts = request.path.strip("/").split("/")
        if parts[:3] != ["api", "v2", "tenants"] or len(parts) < 5 or parts[4] != "managementProfiles":
            return HTTPStatus.NOT_FOUND, {"message": "Not found"}
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in s.issued:
            return HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"}
        with self.lock:
            if s.expire_calls > 0:
                s.expire_calls -= 1
                return 407, {"message": "Token expired"}
        if parts[3] != s.tenant:
            return HTTPStatus.NOT_FOUND, {"message": "Tenant not found"}
        if len(parts) == 5 and request.method == "POST":
            body = request.json if isinstance(request.json, dict) else {}
            if body.get("type") != "Gateway" or not body.get("name"):
                return HTTPStatus.BAD_REQUEST, {"message": "name and type Gateway are required"}
            if any(p["name"] == body["name"] for p in s.profiles.values()):
                return HTTPStatus.BAD_REQUEST, {"message": "Profile name already exists"}
            profile = {
                "id": f"mp-{secrets.token_hex(6)}",
                "name": body["name"],
                "description": body.get("description", ""),
                "type": "Gateway",
                "activationToken": self._activation_token(),
                "registered": False,
            }
            s.profiles[profile["id"]] = profile
            return HTTPStatus.OK, profile
        if len(parts) == 7 and parts[6] == "attach" and request.method == "GET":
            found = s.profiles.get(urllib.parse.unquote(parts[5]))
            if found is None:
                return HTTPStatus.NOT_FOUND, {"message": "Management profile not found"}
            found["activationToken"] = self._activation_token()
            return HTTPStatus.OK, dict(found)
        return HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method not allowed"}


# ------------------------------------------------------------------------------------------------ silence


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a manager that is not up yet."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(64)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent", daemon=True)

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        self._sock.settimeout(0.01)  # stop() waits for the next timeout
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


def _read_request(conn: ssl.SSLSocket) -> None:
    """Reads one whole HTTP request (headers, then Content-Length bytes of body) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


class GarbageServer:
    """Completes TLS on 127.0.0.1, then answers every request with a line that is not HTTP and hangs up:
    something other than the Gateway Manager on the port, or a manager that is only half started."""

    def __init__(self, cert: Certificate, folder: Path) -> None:
        cert_file, key_file = cert.write(folder, f"garbage-{secrets.token_hex(4)}")
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert_file, key_file)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.01)  # stop() waits for the next timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="garbage", daemon=True)
        self.connections = 0

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                conn.settimeout(2)
                with self._tls.wrap_socket(conn, server_side=True) as tls:
                    _read_request(tls)
                    tls.sendall(b"NOT-HTTP hello\r\n\r\n")
                    # Hang up only once the client has read it: closing with unread input would reset the
                    # connection and lose the answer.
                    tls.shutdown(socket.SHUT_WR)
                    while tls.recv(4096):
                        pass
            except OSError:
                conn.close()

    def start(self) -> GarbageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


# ----------------------------------------------------------------------------------------------- test data

MANAGER_USER = "admin"
MANAGER_PASSWORD = "SENTINEL-manager-pw-7d31"
ACTIVATION_KEY = "SENTINEL-activation-key-2c8e"
CLIENT_KEY = "SENTINEL-client-key-9a04"
CLIENT_SECRET = "SENTINEL-client-secret-e15b"
TENANT = "client_4242"
SERVER = "acme.api.example.test"
SECRETS = (MANAGER_PASSWORD, ACTIVATION_KEY, CLIENT_KEY, CLIENT_SECRET)


def assert_no_secret(text: str) -> None:
    for value in SECRETS:
        assert value not in text, f"a secret leaked into: {text}"


ApplianceFactory = Callable[..., ApplianceStandIn]
"""Starts an appliance stand-in with :class:`ApplianceState` changes (the ``appliance`` fixture)."""
PlatformFactory = Callable[..., PlatformStandIn]
"""Starts a platform stand-in with :class:`PlatformState` changes (the ``platform`` fixture)."""
