"""SSH test hosts on loopback, and an executor that runs the program's own recorded remote steps on them.

Each test host is a stock OpenSSH server on 127.0.0.1 (default ``AcceptEnv``: only LANG and LC_* pass), in
mount and UTS namespaces of its own (``unshare --mount --uts``), where private copies are bind-mounted over:

- ``/etc/hosts`` and ``/etc/hostname``: what the formation scripts change, never the test machine's own;
- ``/etc/passwd``, ``/etc/group``, ``/etc/shadow``: the same files plus the appliance's non-root login user
  (the stack's ``sshUser``), who exists only inside these namespaces;
- ``/usr/local/bin`` (first on sshd's default PATH): the stand-ins from ``tests/support/standins`` (``microk8s``,
  ``hostname``, ``hostnamectl``, ``sudo``) and ``standin.env``, which says which node this host plays.

A test host plays one node of a committed stack: the node's IP from config is its identity and is never
contacted. The executor maps that IP to the host's loopback port, logs in as the recorded user with the test
key, checks the host key against the recorded ``hostKey`` when the program pinned one, and runs the recorded
``create`` or ``delete`` string with the recorded ``stdin``, as pulumi-command's remote.Command would
(``session.Run(cmd)`` with stdin attached). Nothing here runs unless the current user is root (namespaces,
bind mounts and sshd need it); CI runs as root.
"""

from __future__ import annotations

import concurrent.futures
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from gatewayctl import harness
from tests.support.standins import microk8s as standin

STANDINS = Path(__file__).resolve().parent / "standins"
#: The hostname every clone of the OVA boots with.
OVA_HOSTNAME = "opsramp-gateway"
COMMAND = "command:remote:Command"

_SETUP = r"""
set -euo pipefail
root=$1
hostname "$(cat "$root/etc/hostname")"
for f in hosts hostname passwd group shadow; do
  mount --bind "$root/etc/$f" "/etc/$f"
done
mount --bind "$root/bin" /usr/local/bin
exec /usr/sbin/sshd -D -e -f "$root/sshd_config"
"""


@dataclass
class TestHost:
    """One SSH test host, playing the node with address ``ip``."""

    ip: str
    root: Path
    port: int = 0
    host_key: str = ""
    """The host's public key line (``ssh-ed25519 AAAA...``)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def hosts_file(self) -> Path:
        return self.root / "etc" / "hosts"

    @property
    def hostname_file(self) -> Path:
        return self.root / "etc" / "hostname"

    @property
    def hostname(self) -> str:
        return self.hostname_file.read_text().strip()

    def boot_files(self, uid: int, hostname: str) -> None:
        """/etc/hosts and /etc/hostname as a clone boots: the OVA's name on the loopback line, ``hostname``."""
        system_hosts = Path("/etc/hosts").read_text()
        self.hosts_file.write_text(f"127.0.0.1 localhost\n127.0.1.1 {OVA_HOSTNAME}\n" + _ipv6_lines(system_hosts))
        self.hostname_file.write_text(f"{hostname}\n")
        for path in (self.hosts_file, self.hostname_file):
            path.chmod(0o644)
            os.chown(path, uid, uid)  # written through the sudo stand-in, which cannot really become root

    def hosts_block(self) -> list[str]:
        """The lines of the managed block in this host's /etc/hosts."""
        lines = self.hosts_file.read_text().splitlines()
        begin = [i for i, line in enumerate(lines) if line.startswith("# BEGIN gateway-cluster")]
        end = [i for i, line in enumerate(lines) if line.startswith("# END gateway-cluster")]
        assert len(begin) == 1 and len(end) == 1, f"{self.ip}: expected one managed block:\n" + "\n".join(lines)
        return lines[begin[0] + 1 : end[0]]


@dataclass(frozen=True)
class Outcome:
    """What one remote step did."""

    name: str
    urn: str
    phase: str
    host: str
    code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"{self.urn} ({self.phase} on {self.host}) exited {self.code}:\n{self.stderr}{self.stdout}"


@dataclass
class SshHosts:
    """A set of running test hosts sharing one MicroK8s stand-in state."""

    user: str
    hosts: dict[str, TestHost]
    base: Path
    key_path: Path
    uid: int
    first_boot: str = "microk8s-first"
    """How every clone boots (see tests/support/standins/microk8s.py)."""
    hostnames: Mapping[str, str] = field(default_factory=dict)
    """Each host's configured name, which a ``hostname-first`` clone has from its vApp properties."""
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    def state(self) -> dict[str, Any]:
        return standin.read_state(self.state_dir)

    def inject_join_failures(self, *kinds: str) -> None:
        """Makes the next joins fail after their token was consumed: ``transient`` (the agent failed) or
        ``lost-response`` (the join went through but the client saw an error)."""
        with standin.locked_state(self.state_dir) as state:
            state["inject"]["join"].extend(kinds)

    def set_running(self, ip: str, running: bool) -> None:
        """Stops (or starts) MicroK8s on a host behind the program's back, as an outage would."""
        with standin.locked_state(self.state_dir) as state:
            state["machines"][ip]["running"] = running

    def new_vm(self, ip: str) -> None:
        """Replaces the VM at ``ip`` with a new clone of the OVA, booted as every clone boots: the OVA's hostname
        (the configured one for ``hostname-first``) and hosts file, and a standalone MicroK8s of its own; the
        cluster the old VM was in keeps its traces (see ``new_machine`` in the stand-in). The SSH server and its
        host key stay: the program pins the key from config, and a new VM's new key is an operator's step."""
        host = self.hosts[ip]
        host.boot_files(self.uid, self.hostnames[ip] if self.first_boot == "hostname-first" else OVA_HOSTNAME)
        with standin.locked_state(self.state_dir) as state:
            standin.new_machine(state, ip, self.first_boot)

    def require_sudo_password(self, password: str | None) -> None:
        """Every host's sudo wants ``password`` (``None``: NOPASSWD)."""
        for host in self.hosts.values():
            path = host.root / "bin" / "sudo-password"
            if password is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(password)
                path.chmod(0o644)

    def sudo_log(self) -> list[str]:
        path = self.state_dir / "sudo.log"
        return path.read_text().splitlines() if path.exists() else []

    # -- running commands

    def exec(
        self,
        ip: str,
        command: str,
        stdin: str | None = None,
        *,
        user: str | None = None,
        host_key: str | None = None,
        timeout: float = 120.0,
    ) -> tuple[int, str, str]:
        """Runs ``command`` on the host playing ``ip``, as pulumi-command does: one session, stdin attached."""
        host = self.hosts[ip]
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_PinnedKey(host_key or host.host_key))
        try:
            client.connect(
                "127.0.0.1",
                port=host.port,
                username=user or self.user,
                pkey=paramiko.Ed25519Key.from_private_key_file(str(self.key_path)),
                allow_agent=False,
                look_for_keys=False,
                timeout=10,
                banner_timeout=10,
                auth_timeout=10,
            )
            channel = client.get_transport().open_session(timeout=10)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            stdout, stderr = _drain(channel)
            return channel.recv_exit_status(), stdout, stderr
        finally:
            client.close()

    def run_step(self, resource: harness.Resource, phase: str = "create") -> Outcome:
        """Runs a recorded remote.Command's ``create`` or ``delete`` on the host its connection names."""
        conn = resource.input("connection")
        command = resource.input(phase)
        stdin = resource.inputs.get("stdin")
        outcome_stdin = harness.reveal(stdin, mask=None) if stdin is not None else None
        assert conn["host"] in self.hosts, f"{resource.urn}: connects to {conn['host']}, which no test host plays"
        assert int(conn.get("port", 22)) == 22, resource.urn
        code, out, err = self.exec(
            conn["host"], command, outcome_stdin, user=conn["user"], host_key=conn.get("hostKey")
        )
        outcome = Outcome(resource.name, resource.urn, phase, conn["host"], code, out, err)
        self.outcomes.append(outcome)
        return outcome

    def apply(self, run: harness.Run, names: Iterable[str] | None = None) -> list[Outcome]:
        """Runs the ``create`` of the program's remote steps (all, or those named) in dependency order, the
        steps of one level in parallel as the engine would. Stops at the first level with a failure."""
        wanted = set(names) if names is not None else None
        steps = [r for r in run.by_type(COMMAND) if wanted is None or r.name in wanted]
        outcomes: list[Outcome] = []
        for level in dependency_levels(run, steps):
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(level)) as pool:
                done = list(pool.map(self.run_step, level))
            outcomes.extend(done)
            if any(o.code != 0 for o in done):
                break
        return outcomes

    def delete(self, run: harness.Run, names: Iterable[str] | None = None) -> list[Outcome]:
        """Runs the ``delete`` of the program's remote steps (all, or those named) that have one, dependents
        first, as Pulumi deletes resources that left the program. Does not stop at a failure."""
        wanted = set(names) if names is not None else None
        steps = [r for r in run.by_type(COMMAND) if (wanted is None or r.name in wanted) and r.inputs.get("delete")]
        outcomes: list[Outcome] = []
        for level in reversed(dependency_levels(run, steps)):
            for resource in level:
                outcomes.append(self.run_step(resource, "delete"))
        return outcomes

    # -- snapshots

    def snapshot(self) -> dict[Path, bytes]:
        """What the steps and the stand-ins change, as it is now: the stand-ins' state and every host's /etc/hosts
        and /etc/hostname. :meth:`restore` puts it back, so that tests of a formed cluster form it once."""
        files = [p for p in self.state_dir.iterdir() if p.is_file()]
        files += [f for h in self.hosts.values() for f in (h.hosts_file, h.hostname_file)]
        return {path: path.read_bytes() for path in files}

    def restore(self, snapshot: dict[Path, bytes]) -> None:
        for path in self.state_dir.iterdir():
            if path.is_file() and path not in snapshot:
                path.unlink()
        for path, data in snapshot.items():
            path.write_bytes(data)

    # -- lifecycle

    def close(self) -> None:
        for host in self.hosts.values():
            if host.process is None or host.process.poll() is not None:
                continue
            # unshare ignores SIGTERM while it waits for its child: stop the child, sshd (whose PID its pid file
            # holds), and unshare exits with it. Failing that, SIGKILL unshare: --kill-child then stops sshd.
            pid_file = host.root / "sshd.pid"
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                host.process.kill()
            try:
                host.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                host.process.kill()
                host.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


class _PinnedKey(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """Accepts exactly one host key, as pulumi-command does with ``host_key`` set."""

    def __init__(self, expected: str) -> None:
        self.expected = expected.split()[1]

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if key.get_base64() != self.expected:
            raise paramiko.SSHException(f"host key mismatch for {hostname}")


def _drain(channel: paramiko.Channel) -> tuple[str, str]:
    out, err = bytearray(), bytearray()
    while True:
        progressed = False
        if channel.recv_ready():
            out += channel.recv(65536)
            progressed = True
        if channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
            progressed = True
        if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
            break
        if not progressed:
            time.sleep(0.01)
    return out.decode(errors="replace"), err.decode(errors="replace")


def dependency_levels(run: harness.Run, steps: Sequence[harness.Resource]) -> list[list[harness.Resource]]:
    """``steps`` in levels: each step after every step of ``steps`` it (transitively) waits for."""
    after = {s.urn: {o.urn for o in steps if o is not s and run.waits_for(s, o)} for s in steps}
    levels: list[list[harness.Resource]] = []
    placed: set[str] = set()
    while len(placed) < len(steps):
        level = [s for s in steps if s.urn not in placed and after[s.urn] <= placed]
        if not level:
            raise AssertionError(f"dependency cycle among {sorted(set(after) - placed)}")
        levels.append(level)
        placed.update(s.urn for s in level)
    return levels


# ----------------------------------------------------------------------------------------------- setup


def start_hosts(
    ips: Sequence[str],
    user: str,
    *,
    first_boot: str = "microk8s-first",
    hostnames: Mapping[str, str] | None = None,
) -> SshHosts:
    """Starts one SSH test host per node address. The caller must ``close()`` it.

    ``first_boot``: how each clone booted (see tests/support/standins/microk8s.py); ``hostname-first`` needs
    ``hostnames``, each host's configured name, which the appliance applied from its vApp properties."""
    base = Path(tempfile.mkdtemp(prefix="gw-sshhosts-"))
    base.chmod(0o755)
    uid = _free_id()
    hosts = SshHosts(
        user=user,
        hosts={},
        base=base,
        key_path=base / "user_key",
        uid=uid,
        first_boot=first_boot,
        hostnames=dict(hostnames or {}),
    )
    try:
        _keygen(hosts.key_path)
        (base / "state").mkdir()
        etc_files = _etc_files(user, uid, base)
        for i, ip in enumerate(ips, start=1):
            hosts.hosts[ip] = _prepare_host(base / f"host{i}", ip, user, uid, hosts, etc_files)
            hosts.hosts[ip].boot_files(uid, hosts.hostnames[ip] if first_boot == "hostname-first" else OVA_HOSTNAME)
        standin.init_state(
            hosts.state_dir,
            [
                {"ip": h.ip, "hostname_file": str(h.hostname_file), "hosts_file": str(h.hosts_file)}
                for h in hosts.hosts.values()
            ],
            OVA_HOSTNAME,
            first_boot,
        )
        for path in (hosts.state_dir, *hosts.state_dir.iterdir()):
            os.chown(path, uid, uid)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
        for host in hosts.hosts.values():
            log = open(host.root / "sshd.log", "wb")  # noqa: SIM115 (sshd writes to it until it stops)
            host.process = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--uts",
                    "--fork",
                    "--kill-child=SIGTERM",
                    "bash",
                    "-c",
                    _SETUP,
                    "setup",
                    str(host.root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
        for host in hosts.hosts.values():
            _wait_for_port(host)
    except BaseException:
        hosts.close()
        raise
    return hosts


def _prepare_host(root: Path, ip: str, user: str, uid: int, hosts: SshHosts, etc: Mapping[str, str]) -> TestHost:
    host = TestHost(ip=ip, root=root, port=_free_port())
    for sub in ("etc", "bin"):
        (root / sub).mkdir(parents=True)
    root.chmod(0o755)
    (root / "etc").chmod(0o755)
    (root / "bin").chmod(0o755)
    for name, text in etc.items():
        (root / "etc" / name).write_text(text)
    (root / "etc" / "shadow").chmod(0o640)
    for name in ("hostname", "hostnamectl", "sudo", "ping"):
        shutil.copy(STANDINS / name, root / "bin" / name)
    shutil.copy(STANDINS / "microk8s.py", root / "bin" / "microk8s")
    for path in (root / "bin").iterdir():
        path.chmod(0o755)
    (root / "bin" / "standin.env").write_text(f"STANDIN_STATE={hosts.state_dir}\nSTANDIN_MACHINE={ip}\n")
    _keygen(root / "host_key")
    host.host_key = " ".join((root / "host_key.pub").read_text().split()[:2])
    (root / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {host.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {root / 'host_key'}",
                f"PidFile {root / 'sshd.pid'}",
                f"AuthorizedKeysFile {hosts.key_path}.pub",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                # Debian's stock setting: a remote.Command with an `environment` would fail here (setenv refused).
                "AcceptEnv LANG LC_*",
                "",
            ]
        )
    )
    return host


def _ipv6_lines(system_hosts: str) -> str:
    return "".join(line + "\n" for line in system_hosts.splitlines() if line.startswith(("::1", "ff02::", "fe00::")))


def _etc_files(user: str, uid: int, base: Path) -> dict[str, str]:
    """/etc/passwd, group and shadow with the login user added (inside the test hosts' namespaces only)."""
    home = base / "home"
    home.mkdir(mode=0o755)
    os.chown(home, uid, uid)
    passwd = Path("/etc/passwd").read_text().rstrip("\n") + f"\n{user}:x:{uid}:{uid}::{home}:/bin/bash\n"
    group = Path("/etc/group").read_text().rstrip("\n") + f"\n{user}:x:{uid}:\n"
    shadow = Path("/etc/shadow").read_text().rstrip("\n") + f"\n{user}:*:19000:0:99999:7:::\n"
    return {"passwd": passwd, "group": group, "shadow": shadow}


def _free_id() -> int:
    taken = {p.pw_uid for p in pwd.getpwall()} | {p.pw_gid for p in pwd.getpwall()}
    return next(i for i in range(42000, 43000) if i not in taken)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gateway-cluster-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    path.with_suffix(".pub").chmod(0o644)


def _wait_for_port(host: TestHost, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.process is not None and host.process.poll() is not None:
            raise RuntimeError(f"sshd for {host.ip} exited:\n{(host.root / 'sshd.log').read_text()}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", host.port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd for {host.ip} did not listen on 127.0.0.1:{host.port}")
