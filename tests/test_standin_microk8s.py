"""The MicroK8s stand-in keeps the documented rules the formation tests rely on (no SSH, no root needed). Its calls
run its ``main`` in this process, on each machine's copy; one runs the script as a process, as a test host does.

If the stand-in were lenient (a node removable before it left, a token reusable after a failed join, a renamed
host registered without a restart), the SSH tests would pass for scripts that break a real cluster.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from tests.support.sshhosts import OVA_HOSTNAME, STANDINS
from tests.support.standins import microk8s as standin

A, B = "10.0.0.1", "10.0.0.2"


class World:
    def __init__(self, base: Path, first_boot: str = "microk8s-first") -> None:
        self.base = base
        self.state_dir = base / "state"
        self.state_dir.mkdir()
        machines = []
        for ip in (A, B):
            root = base / ip
            root.mkdir()
            name = OVA_HOSTNAME if first_boot == "microk8s-first" else f"node-{ip[-1]}"
            (root / "hostname").write_text(f"{name}\n")
            (root / "hosts").write_text("127.0.0.1 localhost\n")
            shutil.copy(STANDINS / "microk8s.py", root / "microk8s")
            (root / "standin.env").write_text(f"STANDIN_STATE={self.state_dir}\nSTANDIN_MACHINE={ip}\n")
            machines.append({"ip": ip, "hostname_file": str(root / "hostname"), "hosts_file": str(root / "hosts")})
        standin.init_state(self.state_dir, machines, OVA_HOSTNAME, first_boot)

    def rename(self, ip: str, name: str) -> None:
        (self.base / ip / "hostname").write_text(f"{name}\n")

    def hosts(self, ip: str, text: str) -> None:
        (self.base / ip / "hosts").write_text(text)

    def run(self, ip: str, *argv: str) -> tuple[int, str]:
        """``microk8s ARGV`` on machine ``ip``: the stand-in's ``main`` on that machine's copy, in this process (as
        its own process would end: an uncaught exception is a traceback and exit code 1); stdout, then stderr."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = standin.main(list(argv), here=self.base / ip)
            except Exception:  # noqa: BLE001 (what the process would do with it)
                traceback.print_exc()
                code = 1
        return code, out.getvalue() + err.getvalue()

    def run_process(self, ip: str, *argv: str) -> tuple[int, str]:
        """The same as :meth:`run`, as the test host runs it: the machine's copy of the script, a process."""
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
    # As a process, as on a test host: the script itself starts, reads its standin.env, answers and exits.
    code, out = world.run_process(A, "add-node", "--token", "short")
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


def test_a_new_machine_at_a_members_address_is_refused_until_that_member_is_removed(world):
    """agent MaybeUpdateDqliteBindAddress: any join from an address the datastore lists is "already known to
    dqlite", before anything changes: a new VM where a member never left stays alone in its own datastore."""
    joined(world)
    world.rename(B, OVA_HOSTNAME)
    with standin.locked_state(world.state_dir) as state:
        standin.new_machine(state, B, "microk8s-first")
        old_uuid = state["machines"][B]["uuid"]
    world.rename(B, "node-b")
    world.ok(B, "stop")
    world.ok(B, "start")
    world.ok(A, "add-node", "--token", "n" * 32, "--token-ttl", "600")
    code, out = world.run(B, "join", f"{A}:25000/{'n' * 32}")
    assert code == 6 and "already known to dqlite" in out
    state = standin.read_state(world.state_dir)
    assert standin.cluster_of(state, B)["members"] == [B] and B in standin.cluster_of(state, A)["members"]
    assert "node-a" not in world.ok(B, "kubectl", "get", "nodes")
    assert old_uuid != standin._uuid(f"uuid:{B}"), "a new VM has a system UUID of its own"
    world.ok(A, "remove-node", "node-b", "--force")
    world.ok(B, "join", f"{A}:25000/{'n' * 32}")
    assert "node-a" in world.ok(B, "kubectl", "get", "nodes")


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


def test_leave_on_a_node_that_never_clustered_is_refused(world):
    """microk8s-leave.wrapper: no no-cert-reissue lock, so "not acting as a node in a cluster", exit 1."""
    code, out = world.run(A, "leave")
    assert code == 1 and "not acting as a node in a cluster" in out
    assert standin.read_state(world.state_dir)["machines"][A]["resets"] == 0


def test_leave_on_a_former_primary_left_alone_resets_it(world):
    joined(world)
    world.ok(B, "leave")
    world.ok(A, "leave")
    assert standin.read_state(world.state_dir)["machines"][A]["resets"] == 1


def test_stopped_microk8s_answers_nothing(world):
    world.ok(A, "stop")
    refused: list[list[str]] = [["kubectl", "get", "nodes"], ["config"], ["enable", "dns"], ["add-node"]]
    for argv in refused:
        assert world.run(A, *argv)[0] != 0, argv
    # status's exit_if_stopped: exit 0, whatever --wait-ready says.
    for argv in (["status", "--wait-ready", "--timeout", "5"], ["status", "--addon", "dns"]):
        assert world.run(A, *argv) == (0, "microk8s is not running, try microk8s start\n"), argv


@pytest.mark.parametrize(
    ("count", "masters", "standby"),
    [(1, 1, 0), (3, 3, 0), (5, 3, 2), (8, 3, 3)],
    ids=["alone", "three-voters", "two-standbys", "spares-unlisted"],
)
def test_status_lists_the_datastore_members_as_upstream(tmp_path, count, masters, standby):
    state: dict[str, Any] = {"machines": {}, "clusters": {}, "original_hostname": OVA_HOSTNAME}
    ips = [f"10.0.1.{i}" for i in range(1, count + 1)]
    for ip in ips:
        (tmp_path / ip).write_text("n\n")
        state["machines"][ip] = {"kubelet_name": ip, "cluster": "", "hostname_file": str(tmp_path / ip)}
    state["machines"][ips[0]]["cluster"] = standin._new_cluster(state, ips[0])
    cluster = standin.cluster_of(state, ips[0])
    cluster["members"] = ips
    state["machines"][ips[0]]["running"] = True
    cli = standin.MicroK8s(state, ips[0])
    cli.run(["status"])
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].split() for line in cli.out if ":" in line}
    assert len(lines["datastore master nodes"]) == masters
    assert lines["datastore standby nodes"] == (["none"] if not standby else lines["datastore standby nodes"])
    assert len([a for a in lines["datastore standby nodes"] if a != "none"]) == standby
    assert lines["high-availability"] == (["yes"] if masters == 3 else ["no"])


def test_an_expired_token_issued_again_stays_invalid(world, monkeypatch):
    """add_token.py appends; IsValidToken takes the first matching line, and expired lines are never purged."""
    world.rename(B, "node-b")
    world.ok(B, "stop")
    world.ok(B, "start")
    world.hosts(A, f"{B} node-b\n")
    world.ok(A, "add-node", "--token", "x" * 32, "--token-ttl", "1")
    with standin.locked_state(world.state_dir) as state:
        standin.cluster_of(state, A)["tokens"][0][1] -= 10  # it expired
    world.ok(A, "add-node", "--token", "x" * 32, "--token-ttl", "600")
    code, out = world.run(B, "join", f"{A}:25000/{'x' * 32}")
    assert code != 0 and "invalid token" in out
    world.ok(A, "add-node", "--token", "y" * 32, "--token-ttl", "600")
    world.ok(B, "join", f"{A}:25000/{'y' * 32}")


def test_hostname_first_boot_leaves_the_image_node_object(tmp_path):
    """The appliance took its new name before MicroK8s first started: the kubelet registered anew, and the
    node object baked into the OVA stays, NotReady, with the image build machine's system UUID."""
    world = World(tmp_path, first_boot="hostname-first")
    out = world.ok(
        A,
        "kubectl",
        "get",
        "nodes",
        "--no-headers",
        "-o",
        "custom-columns=N:.metadata.name,U:.status.nodeInfo.systemUUID",
    )
    rows = dict(line.split() for line in out.splitlines())
    state = standin.read_state(world.state_dir)
    assert rows == {"node-1": state["machines"][A]["uuid"], OVA_HOSTNAME: standin.IMAGE_UUID}
    status = world.ok(A, "kubectl", "get", "nodes", "--no-headers")
    assert [line.split()[:2] for line in status.splitlines()] == [["node-1", "Ready"], [OVA_HOSTNAME, "NotReady"]]


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
