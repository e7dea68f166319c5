"""The MicroK8s stand-in keeps the documented rules the formation tests rely on (no SSH, no root needed).

If the stand-in were lenient (a node removable before it left, a token reusable after a failed join, a renamed
host registered without a restart), the SSH tests would pass for scripts that break a real cluster.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sshhosts import OVA_HOSTNAME, STANDINS
from tests.standins import microk8s as standin

A, B = "10.0.0.1", "10.0.0.2"


class World:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.state_dir = base / "state"
        self.state_dir.mkdir()
        machines = []
        for ip in (A, B):
            root = base / ip
            root.mkdir()
            (root / "hostname").write_text(f"{OVA_HOSTNAME}\n")
            (root / "hosts").write_text("127.0.0.1 localhost\n")
            shutil.copy(STANDINS / "microk8s.py", root / "microk8s")
            (root / "standin.env").write_text(f"STANDIN_STATE={self.state_dir}\nSTANDIN_MACHINE={ip}\n")
            machines.append({"ip": ip, "hostname_file": str(root / "hostname"), "hosts_file": str(root / "hosts")})
        standin.init_state(self.state_dir, machines, OVA_HOSTNAME)

    def rename(self, ip: str, name: str) -> None:
        (self.base / ip / "hostname").write_text(f"{name}\n")

    def hosts(self, ip: str, text: str) -> None:
        (self.base / ip / "hosts").write_text(text)

    def run(self, ip: str, *argv: str) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, str(self.base / ip / "microk8s"), *argv], capture_output=True, text=True, check=False
        )
        return result.returncode, result.stdout + result.stderr

    def ok(self, ip: str, *argv: str) -> str:
        code, out = self.run(ip, *argv)
        assert code == 0, f"microk8s {' '.join(argv)} on {ip}: {out}"
        return out


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def joined(world: World) -> World:
    """B joined A's cluster, both under their own names."""
    for ip, name in ((A, "node-a"), (B, "node-b")):
        world.rename(ip, name)
        world.ok(ip, "stop")
        world.ok(ip, "start")
    world.hosts(A, f"127.0.0.1 localhost\n{B} node-b\n")
    world.ok(A, "add-node", "--token", "t" * 32, "--token-ttl", "600")
    world.ok(B, "join", f"{A}:25000/{'t' * 32}")
    return world


def test_renamed_host_keeps_its_old_node_name_until_restarted(world):
    world.rename(A, "node-a")
    assert world.run(A, "kubectl", "get", "node", "node-a")[0] != 0
    world.ok(A, "stop")
    world.ok(A, "start")
    out = world.ok(A, "kubectl", "get", "nodes", "--no-headers")
    assert [line.split()[:2] for line in out.splitlines()] == [["node-a", "Ready"], [OVA_HOSTNAME, "NotReady"]]


def test_short_token_is_refused(world):
    code, out = world.run(A, "add-node", "--token", "short")
    assert code != 0 and "Invalid token size" in out


@pytest.mark.parametrize(
    ("ttl", "retry_ok"),
    [pytest.param("-1", False, id="single-use-burnt"), pytest.param("600", True, id="ttl-survives")],
)
def test_token_is_consumed_before_the_join_is_checked(world, ttl, retry_ok):
    world.rename(B, "node-b")
    world.ok(B, "stop")
    world.ok(B, "start")
    world.ok(A, "add-node", "--token", "u" * 32, "--token-ttl", ttl)
    # The primary cannot resolve node-b yet: the join fails after the token was consumed.
    code, out = world.run(B, "join", f"{A}:25000/{'u' * 32}")
    assert code != 0 and "does not resolve" in out
    world.hosts(A, f"{B} node-b\n")
    code, out = world.run(B, "join", f"{A}:25000/{'u' * 32}")
    assert (code == 0) is retry_ok, out
    if not retry_ok:
        assert "invalid token" in out


def test_join_twice_is_already_known(world):
    joined(world)
    world.ok(A, "add-node", "--token", "v" * 32, "--token-ttl", "600")
    code, out = world.run(B, "join", f"{A}:25000/{'v' * 32}")
    assert code != 0 and "already known to dqlite" in out


def test_remove_node_refuses_a_node_that_did_not_leave(world):
    joined(world)
    code, out = world.run(A, "remove-node", "node-b")
    assert code != 0 and "registered with dqlite" in out
    world.ok(B, "leave")
    world.ok(A, "remove-node", "node-b")
    state = standin.read_state(world.state_dir)
    assert state["clusters"][state["machines"][A]["cluster"]]["members"] == [A]
    code, out = world.run(A, "remove-node", "node-b")
    assert code != 0 and "does not exist" in out


def test_leave_on_a_standalone_node_resets_it(world):
    world.ok(A, "leave")
    assert standin.read_state(world.state_dir)["machines"][A]["resets"] == 1


def test_stopped_microk8s_answers_nothing(world):
    world.ok(A, "stop")
    for argv in (("status", "--wait-ready"), ("kubectl", "get", "nodes"), ("config",), ("enable", "dns")):
        assert world.run(A, *argv)[0] != 0, argv


@pytest.mark.parametrize(
    ("argv", "sudo_password", "message"),
    [
        pytest.param(["status"], False, "Insufficient permissions", id="status-needs-the-group"),
        pytest.param(["kubectl", "get", "nodes"], False, "Insufficient permissions", id="kubectl-needs-the-group"),
        pytest.param(["stop"], True, "a terminal is required", id="stop-runs-sudo-without-a-terminal"),
        pytest.param(["join", f"{A}:25000/{'w' * 32}"], True, "a terminal is required", id="join-runs-sudo"),
        pytest.param(["leave"], True, "a terminal is required", id="leave-runs-sudo"),
    ],
)
def test_a_login_user_without_root_is_refused(tmp_path, monkeypatch, argv, sudo_password, message):
    """As MicroK8s' wrappers do for a user outside the microk8s group (exit_if_no_permissions), and for the
    subcommands that call plain `sudo` themselves (run_with_sudo) where sudo wants a password."""
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.delenv("SUDO_USER", raising=False)
    if sudo_password:
        (tmp_path / "sudo-password").write_text("pw")
    denied = standin.permission_error(tmp_path, argv)
    assert denied is not None and denied.code != 0 and message in denied.message
    monkeypatch.setenv("SUDO_USER", "gateway-admin")  # run through sudo: allowed
    assert standin.permission_error(tmp_path, argv) is None
