"""govmomi's vSphere API simulator for tests, and network namespaces to probe addresses in.

- :func:`build_vcsim` builds the Go module ``tests/support/vcsim`` (``main.go`` against govmomi as pinned in its
  ``go.mod``/``go.sum``) into ``build/`` (git-ignored), cached by a hash of those files and ``go version``.
  Go's module and build caches are its defaults, outside the clone: the first build on a machine downloads
  govmomi from the Go module proxy and compiles it (1 to 1.5 minutes on two CPUs), a new clone compiles only
  main.go (a few seconds), and a cached binary costs nothing. ``python -m tests.support.vcsim_fixture`` builds it and
  prints its path (``./dev test`` does, before the tests).
- :class:`Simulator` runs it on 127.0.0.1 (port 0; the URL is read from its first line of output), in the
  main network namespace or inside one of ours, with an inventory from :func:`prod_inventory`, shaped like
  ``Pulumi.prod.yaml``. Its datastore folders go to a temporary ``TMPDIR`` removed on stop.
- :class:`NetnsLab` makes two network namespaces joined by a veth pair on 198.18.0.0/24 (RFC 2544's
  benchmarking range: never routed) and fd00:198:18::/64: ``client`` runs the simulator and ``gatewayctl``;
  ``peer`` holds the addresses that are "in use" and the listeners. An address assigned nowhere is "free".
  No test traffic leaves these namespaces or loopback.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = ROOT / "tests" / "support" / "vcsim"
BUILD_DIR = ROOT / "build"
PYTHON = sys.executable

USER = "svc-gateway@vsphere.local"


# ------------------------------------------------------------------------------------------------- build

#: The module's files the binary's name hashes, with ``go version`` and how it is built (BUILD_ARGS, GO_ENV).
SOURCES = ("main.go", "go.mod", "go.sum")
BUILD_ARGS = ("build", "-trimpath", "-o")
#: Module mode with go.sum as committed, no cgo, no toolchain download, no VCS stamp (the clone's state would
#: make every build differ). GOPATH, GOMODCACHE and GOCACHE stay Go's defaults, outside the clone, so CI's fresh
#: clones on the same machine reuse the downloaded modules and compiled packages.
GO_ENV = {
    "GO111MODULE": "on",
    "GOFLAGS": "-mod=readonly -buildvcs=false",
    "CGO_ENABLED": "0",
    "GOTOOLCHAIN": "local",
}


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "the vSphere simulator needs Go: install Go 1.26; this machine kind ships it at /usr/local/go/bin "
            "(put that on PATH)"
        )
    return go


def _toolchain_id() -> str:
    return subprocess.run([_go(), "version"], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def _go_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_go(), *args],
        cwd=SOURCE_DIR,
        env={**os.environ, **GO_ENV},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _required_modules() -> str:
    """The modules tests/support/vcsim/go.mod requires directly, as ``path version`` (for messages)."""
    go_mod = (SOURCE_DIR / "go.mod").read_text()
    return ", ".join(" ".join(m) for m in re.findall(r"^(?:require)?\s*(\S+\.\S+)\s+(v\S+)\s*$", go_mod, re.M))


def download_modules() -> None:
    """Downloads the simulator's Go modules into Go's module cache (a no-op when they are there)."""
    result = _go_run("mod", "download")
    if result.returncode != 0:
        proxy = _go_run("env", "GOPROXY").stdout.strip()
        raise RuntimeError(
            f"downloading the vSphere simulator's Go modules ({_required_modules()}) from the Go module proxy "
            f"(GOPROXY={proxy}) failed:\n{result.stderr}"
        )


def build_vcsim() -> Path:
    """The simulator binary, built once per source and Go version (module mode, against go.sum)."""
    digest = hashlib.sha256(_toolchain_id().encode())
    digest.update(" ".join(BUILD_ARGS).encode() + repr(sorted(GO_ENV.items())).encode())
    for name in SOURCES:
        digest.update(b"\0" + name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes())
    binary = BUILD_DIR / f"vcsim-{digest.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    BUILD_DIR.mkdir(exist_ok=True)
    # Concurrent test runs in one checkout build once; the others wait for the lock and find the binary.
    with (BUILD_DIR / "vcsim.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        download_modules()
        partial = binary.with_suffix(".partial")
        result = _go_run(*BUILD_ARGS, str(partial), ".")
        if result.returncode != 0:
            raise RuntimeError(f"building the vSphere simulator failed:\n{result.stderr}")
        partial.replace(binary)
        for old in BUILD_DIR.glob("vcsim-*"):
            if old != binary and old.suffix != ".partial":
                old.unlink(missing_ok=True)
        # What the former GOPATH-mode build kept in the clone.
        for leftover in ("gopath", "gocache"):
            shutil.rmtree(BUILD_DIR / leftover, ignore_errors=True)
    return binary


# --------------------------------------------------------------------------------------------- inventory

PROD_HOSTS = ("esx-01.corp.example.com", "esx-02.corp.example.com", "esx-03.corp.example.com")


def prod_inventory() -> dict[str, Any]:
    """An inventory shaped like Pulumi.prod.yaml: dc-east, DRS cluster compute-01 with esx-01/02/03 (ESXi
    7.0.3), a 2 TB vsanDatastore with 1 TB free, port group gw-mgmt-pg, VM folder gateways/prod, pool
    gateways, plus a standalone host outside the cluster and an unrelated VM."""
    return {
        "datacenters": [
            {
                "name": "dc-east",
                "clusters": [
                    {
                        "name": "compute-01",
                        "hosts": [{"name": h, "version": "7.0.3"} for h in PROD_HOSTS],
                        "pools": ["gateways"],
                    }
                ],
                "hosts": [{"name": "esx-lab-09.corp.example.com", "version": "7.0.3"}],
                "datastores": [
                    {"name": "vsanDatastore", "capacityGb": 2048, "freeGb": 1024, "hosts": list(PROD_HOSTS)}
                ],
                "networks": [{"name": "gw-mgmt-pg", "hosts": list(PROD_HOSTS)}],
                "folders": ["gateways/prod"],
                "vms": [
                    {
                        "name": "build-agent-7",
                        "annotation": "CI build agent",
                        "host": PROD_HOSTS[0],
                        "datastore": "vsanDatastore",
                        "folder": "",
                    }
                ],
            }
        ]
    }


def variant(change: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """The prod inventory with ``dc-east``'s entries changed: ``variant(drs=False)``, ``variant(host={...})``."""
    inv = prod_inventory()
    dc = inv["datacenters"][0]
    options = {**(change or {}), **kwargs}
    if "drs" in options:
        dc["clusters"][0]["drs"] = options.pop("drs")
    for name, patch in options.pop("hosts", {}).items():
        host = next(h for h in dc["clusters"][0]["hosts"] if h["name"] == name)
        host.update(patch)
    if "vms" in options:
        dc["vms"] = dc["vms"] + list(options.pop("vms"))
    if options:
        raise TypeError(f"unknown inventory changes: {sorted(options)}")
    return copy.deepcopy(inv)


# --------------------------------------------------------------------------------------------- simulator


@dataclass
class Simulator:
    """One running simulator. ``url`` is ``https://127.0.0.1:PORT/sdk`` (inside ``netns`` when set)."""

    binary: Path
    inventory: Mapping[str, Any]
    netns: str | None = None
    user: str = USER
    password: str = field(default_factory=lambda: f"pw-{secrets.token_hex(8)}")
    url: str = ""
    _proc: subprocess.Popen[bytes] | None = None
    _tmp: Path | None = None

    @property
    def server(self) -> str:
        """``127.0.0.1:PORT``: what goes in ``vsphere:vsphereServer``."""
        return self.url.split("//", 1)[1].split("/", 1)[0]

    @property
    def port(self) -> int:
        return int(self.server.rsplit(":", 1)[1])

    def start(self) -> Simulator:
        self._tmp = Path(tempfile.mkdtemp(prefix="vcsim-test-"))
        spec = self._tmp / "inventory.json"
        spec.write_text(json.dumps(self.inventory))
        cmd = [str(self.binary), "-spec", str(spec), "-user", self.user, "-password", self.password]
        cmd += ["-listen", "127.0.0.1:0"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        log = (self._tmp / "vcsim.log").open("wb")
        # stdin stays a pipe: the simulator stops when it closes, so it cannot outlive this process.
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "TMPDIR": str(self._tmp)},
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 60)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            output = (self._tmp / "vcsim.log").read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"the simulator did not start: {output}")
        self.url = json.loads(line)["url"]
        return self

    def stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=20)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._tmp is not None:
            # Its datastore folders (govcsim-*) live here: a simulator killed hard cannot leave them behind.
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def connect(self) -> Any:
        """A pyVmomi session (main namespace only)."""
        from pyVim import connect

        smart_connect: Any = connect.SmartConnect
        return smart_connect(
            host="127.0.0.1", port=self.port, user=self.user, pwd=self.password, disableSslCertValidation=True
        )


@contextlib.contextmanager
def running(
    inventory: Mapping[str, Any] | None = None, *, netns: str | None = None, binary: Path | None = None
) -> Iterator[Simulator]:
    sim = Simulator(binary or build_vcsim(), inventory or prod_inventory(), netns=netns).start()
    try:
        yield sim
    finally:
        sim.stop()


# ------------------------------------------------------------------------------------------ network lab


SUBNET = "198.18.0.0/24"
CLIENT_ADDRESS = "198.18.0.1"
#: Assigned in the peer namespace, with a listener on tcp/22 (an SSH server, as far as a probe can tell).
BUSY_ADDRESS = "198.18.0.60"
#: Assigned in the peer namespace with nothing listening: answers with resets and ICMP.
QUIET_HOST_ADDRESS = "198.18.0.61"
#: The NFS server: assigned in the peer namespace, listening on tcp/2049; named nfs01.lab.test in the lab.
NFS_ADDRESS = "198.18.0.10"
NFS_NAME = "nfs01.lab.test"
#: Assigned in the peer namespace with nothing on tcp/2049.
NFS_DOWN_ADDRESS = "198.18.0.11"
#: Assigned nowhere: nobody answers.
FREE_ADDRESSES = ("198.18.0.41", "198.18.0.42", "198.18.0.43", "198.18.0.50", "198.18.0.70")
#: The same on IPv6 (a unique local prefix): the client's address, a quiet host in the peer, a free one.
SUBNET6 = "fd00:198:18::/64"
CLIENT_ADDRESS6 = "fd00:198:18::1"
QUIET_HOST_ADDRESS6 = "fd00:198:18::61"
FREE_ADDRESS6 = "fd00:198:18::41"

_LISTENER = """
import socket, sys, threading
socks = []
for spec in sys.argv[1:]:
    host, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(16)
    socks.append(s)
def serve(s):
    while True:
        conn, _ = s.accept()
        conn.close()
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class NetnsLab:
    """Two network namespaces on 198.18.0.0/24 and listeners in the peer; see the module docstring."""

    client: str
    peer: str
    _listener: subprocess.Popen[bytes] | None = None
    _etc: Path | None = None

    @classmethod
    def create(cls) -> NetnsLab:
        tag = uuid.uuid4().hex[:6]
        lab = cls(client=f"gwpf-c-{tag}", peer=f"gwpf-p-{tag}")
        try:
            lab._setup(tag)
        except BaseException:
            lab.destroy()
            raise
        return lab

    def _setup(self, tag: str) -> None:
        _ip("netns", "add", self.client)
        _ip("netns", "add", self.peer)
        for ns in (self.client, self.peer):
            # No duplicate address detection: the link-local and lab addresses are usable as soon as the link is.
            for scope in ("all", "default"):
                subprocess.run(
                    ["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_dad=0"],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
        a, b = f"gwpf-a-{tag}", f"gwpf-b-{tag}"
        _ip("link", "add", a, "netns", self.client, "type", "veth", "peer", "name", b, "netns", self.peer)
        _ip("-n", self.client, "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", a)
        for address in (BUSY_ADDRESS, QUIET_HOST_ADDRESS, NFS_ADDRESS, NFS_DOWN_ADDRESS):
            _ip("-n", self.peer, "addr", "add", f"{address}/24", "dev", b)
        # nodad: usable at once, instead of after duplicate address detection.
        _ip("-n", self.client, "addr", "add", f"{CLIENT_ADDRESS6}/64", "dev", a, "nodad")
        _ip("-n", self.peer, "addr", "add", f"{QUIET_HOST_ADDRESS6}/64", "dev", b, "nodad")
        for ns, dev in ((self.client, a), (self.peer, b)):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
        self._wait_for_links(((self.client, a), (self.peer, b)))
        # `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc: the lab's names resolve from its own hosts
        # file, and any other name goes to a resolver on the namespace's loopback, where nothing listens.
        self._etc = Path("/etc/netns") / self.client
        self._etc.mkdir(parents=True)
        (self._etc / "hosts").write_text(f"127.0.0.1 localhost\n{NFS_ADDRESS} {NFS_NAME}\n")
        (self._etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self._listener = subprocess.Popen(
            ["ip", "netns", "exec", self.peer, PYTHON, "-c", _LISTENER, f"{BUSY_ADDRESS}:22", f"{NFS_ADDRESS}:2049"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._listener.stdout is not None
        ready, _, _ = select.select([self._listener.stdout], [], [], 30)
        if not ready or self._listener.stdout.readline().strip() != b"ready":
            raise RuntimeError("the lab's listeners did not start")

    @staticmethod
    def _wait_for_links(links: Sequence[tuple[str, str]]) -> None:
        """Until both veth ends have carrier and no address is still tentative (readiness, not timing)."""
        deadline = time.monotonic() + 30
        while True:
            ready = True
            for ns, dev in links:
                state = subprocess.run(
                    ["ip", "-n", ns, "-o", "link", "show", "dev", dev], capture_output=True, text=True, timeout=30
                ).stdout
                tentative = subprocess.run(
                    ["ip", "-n", ns, "-o", "addr", "show", "dev", dev, "tentative"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout
                ready = ready and "LOWER_UP" in state and "NO-CARRIER" not in state and not tentative.strip()
            if ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the lab's links did not come up: {links}")
            time.sleep(0.05)

    def destroy(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                assert self._listener.stdin is not None
                self._listener.stdin.close()
            self._listener.terminate()
            try:
                self._listener.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._listener.kill()
                self._listener.wait(timeout=10)
            if self._listener.stdout is not None:
                self._listener.stdout.close()
            self._listener = None
        for ns in (self.client, self.peer):
            # Deleting a namespace deletes its end of the veth pair, and with it the other end.
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=30)
        if self._etc is not None:
            shutil.rmtree(self._etc, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._etc.parent.rmdir()  # only if no other lab's folder is left in /etc/netns
            self._etc = None

    def run(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Runs a command inside the client namespace, with ``env`` as its whole environment when given."""
        return subprocess.run(
            ["ip", "netns", "exec", self.client, *argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def netns_available() -> str | None:
    """Why network namespaces cannot be made here, or ``None`` when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2 is not installed (`./dev test` installs it)"
    return None


# ------------------------------------------------------------------------------------------ loopback guard


def loopback_host(host: Any) -> bool:
    """Whether a host (an address or a name to look up) stays on this machine: a loopback IP or ``localhost``."""
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def loopback_target(address: Any) -> bool:
    """Whether a socket address stays on this machine: ``(host, port, ...)`` for a loopback host, or a Unix
    socket path."""
    if isinstance(address, str | bytes):
        return True  # AF_UNIX
    return isinstance(address, tuple) and bool(address) and loopback_host(address[0])


@dataclass
class LoopbackGuard:
    """What the :func:`loopback_only` fixture stopped: each a ``connect``, ``sendto`` or name look-up."""

    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackGuard]:
    """This process may reach loopback only: any other connect, datagram or name look-up fails with
    ``EPERM`` / ``EAI_NONAME`` (so no traffic leaves) and fails the test. For tests in the main network
    namespace that run code able to reach the committed stacks' example addresses and names (10.20.30.x,
    nfs01.corp.example.com, vcenter.corp.example.com) on a path the test did not intend."""
    guard = LoopbackGuard()
    real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def refuse(what: str) -> OSError:
        guard.blocked.append(what)
        return PermissionError(errno.EPERM, f"blocked by the test's loopback-only guard: {what}")

    def connect(self: socket.socket, address: Any) -> None:
        if not loopback_target(address):
            raise refuse(f"connect {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not loopback_target(address):
            refuse(f"connect_ex {address!r}")
            return errno.EPERM
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *rest: Any) -> int:
        if not loopback_target(rest[-1]):
            raise refuse(f"sendto {rest[-1]!r}")
        return real_sendto(self, data, *rest)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not loopback_host(host):
            guard.blocked.append(f"resolve {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test's loopback-only guard")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", lambda host: getaddrinfo(host, None)[0][4][0])
    yield guard
    assert not guard.blocked, f"the test tried to reach beyond loopback: {guard.blocked}"


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    return build_vcsim()


@pytest.fixture(scope="module")
def vcsim(vcsim_binary: Path) -> Iterator[Simulator]:
    """The prod-shaped simulator on 127.0.0.1 of the main namespace, one per test module."""
    with running(binary=vcsim_binary) as sim:
        yield sim


@pytest.fixture(scope="module")
def netns_lab() -> Iterator[NetnsLab]:
    problem = netns_available()
    if problem is not None:
        # Not a skip: these tests are part of the acceptance, and CI (root) must run them.
        pytest.fail(f"cannot build the test network: {problem}")
    lab = NetnsLab.create()
    try:
        yield lab
    finally:
        lab.destroy()


def wait_gone(path: Path, timeout: float = 10) -> bool:
    """Whether ``path`` disappears within ``timeout`` (for cleanup tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not path.exists():
            return True
        time.sleep(0.05)
    return not path.exists()


if __name__ == "__main__":
    # `./dev test` builds the simulator before the tests, so a missing Go or a failed download shows up front.
    try:
        print(build_vcsim())
    except RuntimeError as error:
        sys.exit(str(error))
