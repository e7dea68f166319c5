#!/usr/bin/env python3
"""A MicroK8s stand-in for the SSH test hosts: the `microk8s` CLI as the formation scripts use it.

It follows the documented semantics of canonical/microk8s and microk8s-cluster-agent, for a cluster whose
state is shared by every test host (one JSON file in a state folder, under a lock):

- ``start``/``stop``/``status [--wait-ready] [--timeout N] [--addon A]``. The kubelet reads the hostname when
  MicroK8s starts: a renamed host keeps its old node name until MicroK8s restarts, and the old node object stays
  behind (NotReady) until someone deletes it. ``status`` lists the datastore's members as upstream's status.py
  does (the first three voters as "datastore master nodes", the next three as "datastore standby nodes"); after
  ``stop`` it answers "microk8s is not running, try microk8s start" with exit code 0 (exit_if_stopped).
- First boot: every clone's datastore holds the node object baked into the OVA under its original hostname,
  with the image build machine's system UUID. When MicroK8s first runs under that hostname (``microk8s-first``)
  the kubelet takes the object over (this machine's UUID); when the appliance applied its new hostname before
  MicroK8s started (``hostname-first``) the kubelet registers anew and the baked object stays, NotReady.
- ``add-node --token T --token-ttl S``: a token of at least 32 characters; TTL -1 (the default) means single
  use. Tokens are appended to a list and the first matching entry decides, expired ones never purged (the
  cluster agent's IsValidToken), so the same token issued again after it expired stays invalid.
  ``join <ip>:25000/<token>``: the token is consumed before any other check (a single-use token is burnt
  even when the join then fails); then "same IP", "hostname does not resolve" (the primary's /etc/hosts) and
  "already known to dqlite". One or more failures can be injected into the next joins (after the token check).
- ``leave`` (refused on a node that never clustered; on a former member left alone it resets the node's
  datastore, which is counted), ``remove-node NAME
  [--force]`` (refuses a node still registered with dqlite, i.e. one that did not leave, unless ``--force``).
- ``config``, ``enable dns``, ``enable metallb:<ranges>`` (or ``enable metallb <ranges>``).
- ``kubectl get nodes|node NAME [--no-headers] [-o custom-columns=...]``, ``kubectl delete node NAME``,
  ``kubectl wait --for=condition=Ready node/NAME --timeout=Ns`` (answers at once: no real waiting),
  ``kubectl get|patch ipaddresspool default-addresspool -n metallb-system``, ``kubectl get pods|pvc -A
  --no-headers -o custom-columns=...`` over workloads a test seeds (:func:`seed_workloads`: no scheduler).

Permissions as on an appliance whose login user is not in the ``microk8s`` group: every subcommand refuses a
caller that is not root ("Insufficient permissions to access MicroK8s", the wrappers' exit_if_no_permissions),
and ``start``/``stop``/``join``/``leave`` call plain ``sudo`` themselves (the wrappers' run_with_sudo), which
has no terminal to ask a password on. "Root" here means: run through the sudo stand-in (it sets SUDO_USER).

Which test host it runs on comes from ``standin.env`` next to it (``STANDIN_STATE``, ``STANDIN_MACHINE``).
Every call is recorded in the state, so tests can count restarts, tokens and joins. Standard library only: it
runs under the test hosts' system python3.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

State = dict[str, Any]

#: How the node objects of the image look at first boot (see the module doc).
FIRST_BOOT_MODES = ("microk8s-first", "hostname-first")
#: A node object that belongs to no test machine: the image build machine's, baked into the OVA.
GHOST = "ghost:"

NOT_RUNNING = "microk8s is not running. Use microk8s inspect for a deeper inspection."
STOPPED = "microk8s is not running, try microk8s start"
AGENT_PORT = "25000"
TOKEN_MIN_LEN = 32
_IPV4_RANGE = re.compile(r"^\d+\.\d+\.\d+\.\d+-\d+\.\d+\.\d+\.\d+$")
_IPV4_CIDR = re.compile(r"^\d+\.\d+\.\d+\.\d{1,3}/\d{1,3}$")


class CliError(Exception):
    """Ends the command with an exit code, after printing ``message`` (stdout for MicroK8s, stderr for kubectl)."""

    def __init__(self, code: int, message: str = "", *, stderr: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stderr = stderr


# ------------------------------------------------------------------------------------------------ state


def init_state(
    state_dir: Path,
    machines: Sequence[Mapping[str, str]],
    original_hostname: str,
    first_boot: str = "microk8s-first",
) -> None:
    """A fresh world: every machine runs MicroK8s standalone, as a clone of the OVA boots (``first_boot``: see
    the module doc; with ``hostname-first`` each machine's hostname file already holds its new name).

    ``machines``: ``{"ip", "hostname_file", "hosts_file"}`` each (files on the real filesystem).
    """
    state: State = {
        "machines": {},
        "clusters": {},
        "tokens_issued": 0,
        "tokens_consumed": 0,
        "joins": 0,
        "join_attempts": 0,
        "inject": {"join": []},
        "calls": [],
        "original_hostname": original_hostname,
    }
    for m in machines:
        ip = m["ip"]
        state["machines"][ip] = {
            "ip": ip,
            "uuid": _uuid(f"uuid:{ip}"),
            "hostname_file": m["hostname_file"],
            "hosts_file": m["hosts_file"],
            "running": True,
            "starts": 0,
            "stops": 0,
            "leaves": 0,
            "resets": 0,
            "kubelet_name": original_hostname,
            "cluster": "",
        }
        first_boot_cluster(state, ip, first_boot)
    (state_dir / "state.json").write_text(json.dumps(state, indent=1))
    (state_dir / "state.lock").touch()


def _uuid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: The image build machine's system UUID, which the OVA's baked node object carries.
IMAGE_UUID = _uuid("image build machine")


def first_boot_cluster(state: State, ip: str, first_boot: str) -> None:
    """Gives ``ip`` the standalone datastore a freshly booted clone has (see the module doc)."""
    if first_boot not in FIRST_BOOT_MODES:
        raise ValueError(f"first_boot must be one of {FIRST_BOOT_MODES}, not {first_boot!r}")
    machine = state["machines"][ip]
    original = state["original_hostname"]
    machine["kubelet_name"] = original if first_boot == "microk8s-first" else hostname_of(machine)
    machine["cluster"] = _new_cluster(state, ip)
    if first_boot == "hostname-first":
        cluster_of(state, ip)["nodes"][original] = GHOST + IMAGE_UUID


def new_machine(state: State, ip: str, first_boot: str) -> None:
    """The machine at ``ip`` replaced by a new clone of the OVA (a rebuilt VM, or a lost one created again): a new
    system UUID, MicroK8s running on a standalone datastore of its own as at first boot (``first_boot``), nothing
    of the old machine. Its hostname and hosts files must already be the fresh clone's (the caller writes them).

    The cluster the old machine was in keeps what it knew of it, as a real cluster does when a VM disappears: its
    node object (NotReady from now on) and, unless it left, its dqlite member entry under this address, which
    refuses the new machine's join ("already known to dqlite", agent ``MaybeUpdateDqliteBindAddress``) until a
    member removes it (``remove-node --force``). A datastore the old machine was alone in is gone with its disk.
    """
    machine = state["machines"][ip]
    old = state["clusters"].get(machine["cluster"])
    if old is not None and old["members"] == [ip]:
        del state["clusters"][machine["cluster"]]
    machine["vm"] = machine.get("vm", 0) + 1
    machine.update(
        uuid=_uuid(f"uuid:{ip}:vm{machine['vm']}"),
        running=True,
        clustered=False,
        **dict.fromkeys(("starts", "stops", "leaves", "resets"), 0),
    )
    first_boot_cluster(state, ip, first_boot)


@contextlib.contextmanager
def locked_state(state_dir: Path) -> Iterator[State]:
    """The shared state, read and written back under an exclusive lock (test hosts run steps in parallel)."""
    with open(state_dir / "state.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = state_dir / "state.json"
        state: State = json.loads(path.read_text())
        yield state
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(path)


def read_state(state_dir: Path) -> State:
    with locked_state(state_dir) as state:
        return state


def _new_cluster(state: State, ip: str) -> str:
    """A standalone cluster around one machine, with the machine's node object."""
    n = 1
    while f"c{n}" in state["clusters"]:
        n += 1
    cid = f"c{n}"
    machine = state["machines"][ip]
    admin = hashlib.sha256(f"admin:{cid}:{ip}:{time.time()}".encode()).hexdigest()[:32]
    state["clusters"][cid] = {
        "members": [ip],
        "nodes": {machine["kubelet_name"]: ip},
        "tokens": [],
        "addons": {"dns": False, "metallb": None},
        "admin": admin,
        "enables": 0,
    }
    return cid


#: ``kubectl get`` kinds modelled as seeded workloads, to the cluster state's key.
WORKLOADS = {"pods": "pods", "pod": "pods", "po": "pods", "pvc": "pvcs", "persistentvolumeclaims": "pvcs"}


def workload(
    namespace: str, name: str, phase: str, node: str | None = None, owner: str | None = None
) -> dict[str, Any]:
    """A pod or claim as the stand-in lists it, by the JSON paths kubectl's custom-columns name."""
    return {
        ".metadata.namespace": namespace,
        ".metadata.name": name,
        ".status.phase": phase,
        ".spec.nodeName": node,
        ".metadata.ownerReferences[0].kind": owner,
    }


def seed_workloads(state: State, ip: str, pods: list[dict[str, Any]], pvcs: list[dict[str, Any]]) -> None:
    """Puts pods and claims into the cluster of the machine at ``ip``, as the gateway's charts would have."""
    cluster = cluster_of(state, ip)
    cluster["pods"] = list(pods)
    cluster["pvcs"] = list(pvcs)


def _custom_columns(output: str) -> list[list[str]]:
    """``-o custom-columns=NAME:.path,...`` as (header, JSON path) pairs."""
    return [c.split(":", 1) for c in output[len("custom-columns=") :].split(",")]


def cluster_of(state: State, ip: str) -> dict[str, Any]:
    cluster: dict[str, Any] = state["clusters"][state["machines"][ip]["cluster"]]
    return cluster


def hostname_of(machine: Mapping[str, Any]) -> str:
    return Path(machine["hostname_file"]).read_text().splitlines()[0].strip()


def node_ready(state: State, cid: str, name: str) -> bool:
    ip = state["clusters"][cid]["nodes"].get(name)
    if ip is None or ip.startswith(GHOST):
        return False
    m = state["machines"][ip]
    return bool(m["running"]) and m["cluster"] == cid and m["kubelet_name"] == name


def resolve(hosts_file: str, name: str) -> str | None:
    """The address ``name`` resolves to with an /etc/hosts file (first matching line wins)."""
    for line in Path(hosts_file).read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and name in fields[1:]:
            return fields[0]
    return None


# --------------------------------------------------------------------------------------------- commands


class MicroK8s:
    def __init__(self, state: State, ip: str) -> None:
        self.state = state
        self.ip = ip
        self.machine: dict[str, Any] = state["machines"][ip]
        self.out: list[str] = []

    @property
    def cid(self) -> str:
        return str(self.machine["cluster"])

    @property
    def cluster(self) -> dict[str, Any]:
        return cluster_of(self.state, self.ip)

    def say(self, text: str) -> None:
        self.out.append(text)

    def need_running(self, message: str = NOT_RUNNING, *, stderr: bool = False) -> None:
        if not self.machine["running"]:
            raise CliError(1, message, stderr=stderr)

    def run(self, argv: list[str]) -> int:
        if not argv:
            raise CliError(1, "Usage: microk8s COMMAND")
        command, args = argv[0], argv[1:]
        handler = {
            "start": self.start,
            "stop": self.stop,
            "status": self.status,
            "kubectl": self.kubectl,
            "add-node": self.add_node,
            "join": self.join,
            "leave": self.leave,
            "remove-node": self.remove_node,
            "config": self.config,
            "enable": self.enable,
        }.get(command)
        if handler is None:
            raise CliError(1, f"'{command}' is not a valid MicroK8s subcommand.")
        handler(args)
        return 0

    # -- services

    def start(self, args: list[str]) -> None:
        self.machine["starts"] += 1
        self.machine["running"] = True
        # The kubelet registers the machine under the hostname it reads now.
        name = hostname_of(self.machine)
        self.machine["kubelet_name"] = name
        self.cluster["nodes"].setdefault(name, self.ip)

    def stop(self, args: list[str]) -> None:
        self.machine["stops"] += 1
        self.machine["running"] = False
        self.say("Stopped.")

    def status(self, args: list[str]) -> None:
        addon = None
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-a", "--addon"):
                addon = args[i + 1]
                i += 1
            elif a in ("-t", "--timeout", "--format"):
                i += 1
            elif a in ("-w", "--wait-ready", "--yaml"):
                pass
            else:
                raise CliError(2, f"microk8s status: unrecognized argument {a}")
            i += 1
        if not self.machine["running"]:
            # exit_if_stopped: after `microk8s stop`, status prints this and exits 0, --wait-ready or not.
            self.say(STOPPED)
            return
        addons = self.cluster["addons"]
        enabled = {"dns": bool(addons["dns"]), "metallb": addons["metallb"] is not None, "ha-cluster": True}
        if addon is not None:
            self.say("enabled" if enabled.get(addon, False) else "disabled")
            return
        members = self.cluster["members"]
        # dqlite's roles: up to three voters, then up to three stand-bys; spares are not listed.
        voters, standbys = members[:3], members[3:6]
        self.say("microk8s is running")
        self.say(f"high-availability: {'yes' if len(voters) >= 3 else 'no'}")
        self.say("  datastore master nodes: " + (" ".join(f"{m}:19001" for m in voters) or "none"))
        self.say("  datastore standby nodes: " + (" ".join(f"{m}:19001" for m in standbys) or "none"))
        self.say("addons:")
        self.say("  enabled:")
        for name, on in enabled.items():
            if on:
                self.say(f"    {name}")

    # -- kubectl

    def kubectl(self, args: list[str]) -> None:
        # The kubectl wrapper's exit_if_stopped (utils.sh): this text on stderr, exit 1.
        self.need_running(STOPPED, stderr=True)
        if not args:
            raise CliError(1, "kubectl: a command is required", stderr=True)
        verb, rest = args[0], args[1:]
        if verb == "get":
            self.kubectl_get(rest)
        elif verb == "delete":
            kind, name = self.kind_name(rest)
            if kind != "node":
                raise CliError(1, f'error: the server doesn\'t have a resource type "{kind}"', stderr=True)
            if self.cluster["nodes"].pop(name, None) is None:
                raise CliError(1, f'Error from server (NotFound): nodes "{name}" not found', stderr=True)
            self.say(f'node "{name}" deleted')
        elif verb == "wait":
            self.kubectl_wait(rest)
        elif verb == "patch":
            self.kubectl_patch(rest)
        else:
            raise CliError(1, f'error: unknown command "{verb}" for "kubectl"', stderr=True)

    @staticmethod
    def options(args: list[str]) -> tuple[list[str], dict[str, str]]:
        positional: list[str] = []
        opts: dict[str, str] = {}
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("--") and "=" in a:
                key, value = a.split("=", 1)
                opts[key] = value
            elif a in ("-o", "-n", "-p", "--type", "--for", "--timeout", "--output", "--namespace"):
                opts[a] = args[i + 1]
                i += 1
            elif a.startswith("-"):
                opts[a] = ""
            else:
                positional.append(a)
            i += 1
        return positional, opts

    @staticmethod
    def kind_name(args: list[str]) -> tuple[str, str]:
        positional, _ = MicroK8s.options(args)
        if len(positional) == 1 and "/" in positional[0]:
            kind, name = positional[0].split("/", 1)
        elif len(positional) == 2:
            kind, name = positional
        else:
            raise CliError(1, f"error: cannot parse {' '.join(args)}", stderr=True)
        return {"nodes": "node", "no": "node", "ipaddresspools": "ipaddresspool"}.get(kind, kind), name

    def node_fields(self, name: str) -> dict[str, str]:
        ip = self.cluster["nodes"][name]
        uuid = ip[len(GHOST) :] if ip.startswith(GHOST) else self.state["machines"][ip]["uuid"]
        return {
            ".metadata.name": name,
            ".status.nodeInfo.systemUUID": uuid,
            "STATUS": "Ready" if node_ready(self.state, self.cid, name) else "NotReady",
        }

    def kubectl_get(self, args: list[str]) -> None:
        positional, opts = self.options(args)
        if not positional:
            raise CliError(1, "You must specify the type of resource to get.", stderr=True)
        kind = {"nodes": "node", "no": "node", "ipaddresspools": "ipaddresspool"}.get(positional[0], positional[0])
        if kind == "ipaddresspool":
            pool = self.cluster["addons"]["metallb"]
            if pool is None:
                raise CliError(1, 'error: the server doesn\'t have a resource type "ipaddresspool"', stderr=True)
            if positional[1:] != ["default-addresspool"] or opts.get("-n", opts.get("--namespace")) != "metallb-system":
                raise CliError(1, "Error from server (NotFound): ipaddresspools not found", stderr=True)
            if opts.get("-o") != "jsonpath={.spec.addresses[*]}":
                raise CliError(1, f"stand-in: unsupported output {opts.get('-o')!r}", stderr=True)
            self.say(" ".join(pool))
            return
        if kind in WORKLOADS:
            self.workloads_get(WORKLOADS[kind], opts)
            return
        if kind != "node":
            raise CliError(1, f'error: the server doesn\'t have a resource type "{kind}"', stderr=True)
        names = positional[1:] or sorted(self.cluster["nodes"])
        for name in names:
            if name not in self.cluster["nodes"]:
                raise CliError(1, f'Error from server (NotFound): nodes "{name}" not found', stderr=True)
        output = opts.get("-o", "")
        rows: list[list[str]]
        if output.startswith("custom-columns="):
            columns = _custom_columns(output)
            header = [c[0] for c in columns]
            rows = [[self.node_fields(n).get(c[1], "<none>") for c in columns] for n in names]
        elif output == "":
            header = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
            rows = [[n, self.node_fields(n)["STATUS"], "<none>", "5m", "v1.29.4"] for n in names]
        else:
            raise CliError(1, f"stand-in: unsupported output {output!r}", stderr=True)
        self.table(rows, header if "--no-headers" not in opts else None)

    def workloads_get(self, kind: str, opts: dict[str, str]) -> None:
        """``kubectl get pods|pvc -A --no-headers -o custom-columns=...`` over the workloads a test seeded
        (:func:`seed_workloads`): what the charts would have created. Missing fields print ``<none>``."""
        if "-A" not in opts and "--all-namespaces" not in opts:
            raise CliError(1, "stand-in: only --all-namespaces listings are modelled", stderr=True)
        output = opts.get("-o", "")
        if not output.startswith("custom-columns="):
            raise CliError(1, f"stand-in: unsupported output {output!r}", stderr=True)
        columns = _custom_columns(output)
        rows = [[str(obj.get(path) or "<none>") for _, path in columns] for obj in self.cluster.get(kind, [])]
        if not rows and "--no-headers" in opts:
            self.say("No resources found")
            return
        self.table(rows, [c[0] for c in columns] if "--no-headers" not in opts else None)

    def table(self, rows: list[list[str]], header: list[str] | None) -> None:
        """Rows as kubectl prints them: columns padded to their widest value, three spaces apart."""
        rows = rows if header is None else [header, *rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
        for r in rows:
            self.say("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    def kubectl_wait(self, args: list[str]) -> None:
        _, opts = self.options(args)
        kind, name = self.kind_name(args)
        if kind != "node" or opts.get("--for") != "condition=Ready":
            raise CliError(1, f"stand-in: unsupported wait {args}", stderr=True)
        if name not in self.cluster["nodes"]:
            raise CliError(1, f'Error from server (NotFound): nodes "{name}" not found', stderr=True)
        if not node_ready(self.state, self.cid, name):
            raise CliError(1, f"error: timed out waiting for the condition on nodes/{name}", stderr=True)
        self.say(f"node/{name} condition met")

    def kubectl_patch(self, args: list[str]) -> None:
        _, opts = self.options(args)
        kind, name = self.kind_name(args)
        pool = self.cluster["addons"]["metallb"]
        if kind != "ipaddresspool" or name != "default-addresspool" or pool is None:
            raise CliError(1, f"Error from server (NotFound): {kind} {name} not found", stderr=True)
        patch = json.loads(opts["-p"])
        self.cluster["addons"]["metallb"] = list(patch["spec"]["addresses"])
        self.say(f"ipaddresspool.metallb.io/{name} patched")

    # -- clustering

    def add_node(self, args: list[str]) -> None:
        self.need_running()
        token: str | None = None
        ttl = -1
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("--token", "-t"):
                token = args[i + 1]
                i += 1
            elif a in ("--token-ttl", "-l"):
                ttl = int(args[i + 1])
                i += 1
            elif a == "--format":
                i += 1
            else:
                raise CliError(2, f"microk8s add-node: unrecognized argument {a}")
            i += 1
        if token is None:
            token = hashlib.sha256(f"{time.time()}".encode()).hexdigest()[:32]
        if len(token) < TOKEN_MIN_LEN:
            raise CliError(1, "Invalid token size.  It must be 32 characters long.")
        # add_token.py appends a line "token|expiry" (or "token"): an earlier line for the same token stays.
        self.cluster["tokens"].append([token, None if ttl == -1 else time.time() + ttl])
        self.state["tokens_issued"] += 1
        self.say("From the node you wish to join to this cluster, run the following:")
        self.say(f"microk8s join {self.ip}:{AGENT_PORT}/{token}/5e1d2c3b4a59\n")
        self.say("Use the '--worker' flag to join a node as a worker not running the control plane, eg:")
        self.say(f"microk8s join {self.ip}:{AGENT_PORT}/{token}/5e1d2c3b4a59 --worker")

    def join(self, args: list[str]) -> None:
        urls = [a for a in args if not a.startswith("--")]
        if len(urls) != 1:
            raise CliError(2, "Usage: microk8s join <master>:<port>/<token>")
        self.need_running()
        self.state["join_attempts"] += 1
        match = re.match(r"^(\[[^\]]+\]|[^:/]+):(\d+)/([^/]+)(/[^/]+)?$", urls[0])
        if match is None:
            raise CliError(1, "Invalid connection string.")
        host, port, token = match[1].strip("[]"), match[2], match[3]
        target = self.state["machines"].get(host)
        if port != AGENT_PORT or target is None or not target["running"]:
            raise CliError(1, f"Please ensure the master node is reachable. [Errno 111] Connection refused ({host})")
        cid = target["cluster"]
        cluster = self.state["clusters"][cid]
        # The cluster agent consumes the token before any other check (ConsumeClusterToken).
        # IsValidToken: the first line whose token matches decides; expired lines are never purged.
        tokens = cluster["tokens"]
        entry = next((t for t in tokens if t[0] == token), None)
        if entry is None or (entry[1] is not None and entry[1] < time.time()):
            raise CliError(6, "Connection failed. invalid token (500).")
        if entry[1] is None:
            tokens.remove(entry)
        self.state["tokens_consumed"] += 1
        injected = self.state["inject"]["join"].pop(0) if self.state["inject"]["join"] else None
        if injected == "transient":
            raise CliError(
                6, "Connection failed. failed to retrieve dqlite cluster nodes: context deadline exceeded (500)."
            )
        if host == self.ip:
            raise CliError(
                6, f"Connection failed. the joining node has the same IP ({host}) as the node we contact (503)."
            )
        me = hostname_of(self.machine)
        if resolve(target["hosts_file"], me) != self.ip:
            raise CliError(
                6,
                f'Connection failed. the hostname ({me}) of the joining node does not resolve to the IP "{self.ip}". '
                "Refusing join (400).",
            )
        if self.ip in cluster["members"]:
            raise CliError(
                6,
                "Connection failed. failed to retrieve dqlite cluster nodes: the joining node "
                f"({self.ip}) is already known to dqlite (500).",
            )
        # Joined: this machine's own datastore is replaced by the cluster's.
        old = self.cid
        self.state["clusters"][old]["members"].remove(self.ip)
        if not self.state["clusters"][old]["members"]:
            del self.state["clusters"][old]
        cluster["members"].append(self.ip)
        cluster["nodes"][self.machine["kubelet_name"]] = self.ip
        self.machine["cluster"] = cid
        # The no-cert-reissue lock: the joining node marks itself, the cluster agent marks the node it joined.
        self.machine["clustered"] = True
        target["clustered"] = True
        self.state["joins"] += 1
        if injected == "lost-response":
            raise CliError(
                1, f"Contacting cluster at {host}\nConnection failed. Timed out waiting for the node to join."
            )
        self.say(f"Contacting cluster at {host}")
        self.say("Waiting for this node to finish joining the cluster. .. .. .. ..")
        self.say("Successfully joined the cluster.")

    def leave(self, args: list[str]) -> None:
        self.need_running()
        cluster = self.cluster
        if not self.machine.get("clustered"):
            # microk8s-leave.wrapper: only a node with the no-cert-reissue lock (one that joined, or was joined)
            # may leave.
            raise CliError(1, "This MicroK8s deployment is not acting as a node in a cluster.")
        if cluster["members"] == [self.ip]:
            # Not in a cluster: `leave` reinitialises the node's own datastore.
            self.machine["resets"] += 1
            del self.state["clusters"][self.cid]
            self.machine["cluster"] = _new_cluster(self.state, self.ip)
            self.machine["clustered"] = False  # leave.py's unmark_no_cert_reissue
            self.say("Generating new cluster certificates.")
            return
        cluster["members"].remove(self.ip)
        self.machine["leaves"] += 1
        self.machine["cluster"] = _new_cluster(self.state, self.ip)
        self.machine["clustered"] = False
        self.say("Generating new cluster certificates.")
        self.say("Waiting for node to start.")

    def remove_node(self, args: list[str]) -> None:
        force = "--force" in args
        names = [a for a in args if not a.startswith("--")]
        if len(names) != 1:
            raise CliError(2, "Usage: microk8s remove-node NODE [--force]")
        self.need_running()
        name = names[0]
        cluster = self.cluster
        ip = cluster["nodes"].get(name)
        if ip is None:
            raise CliError(1, f"Node {name} does not exist in Kubernetes.")
        if ip in cluster["members"] and ip != self.ip:
            if not force:
                raise CliError(
                    1,
                    f"Removal failed. Node {name} is registered with dqlite. Please, run first 'microk8s leave' "
                    "on the departing node. \nIf the node is not available anymore and will never attempt to "
                    "join the cluster in the future use the '--force' flag \nto unregister the node while "
                    "removing it.",
                )
            cluster["members"].remove(ip)
        del cluster["nodes"][name]

    def config(self, args: list[str]) -> None:
        self.need_running()
        cert = base64.b64encode(f"client-cert-{self.cluster['admin']}".encode()).decode()
        ca = base64.b64encode(b"stand-in CA").decode()
        self.say(
            "apiVersion: v1\nclusters:\n- cluster:\n"
            f"    certificate-authority-data: {ca}\n"
            # MicroK8s writes the address of the host's default interface, not necessarily the node's IP.
            "    server: https://10.0.2.15:16443\n"
            "  name: microk8s-cluster\ncontexts:\n- context:\n    cluster: microk8s-cluster\n    user: admin\n"
            "  name: microk8s\ncurrent-context: microk8s\nkind: Config\npreferences: {}\nusers:\n- name: admin\n"
            f"  user:\n    client-certificate-data: {cert}\n    client-key-data: {cert}"
        )

    def enable(self, args: list[str]) -> None:
        self.need_running()
        addons = self.cluster["addons"]
        i = 0
        while i < len(args):
            name, _, value = args[i].partition(":")
            if name == "metallb" and not value and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            if name == "dns":
                if addons["dns"]:
                    self.say("Addon core/dns is already enabled")
                else:
                    addons["dns"] = True
                    self.cluster["enables"] += 1
                    self.say("Enabling DNS\nDNS is enabled")
            elif name == "metallb":
                if addons["metallb"] is not None:
                    self.say("Addon core/metallb is already enabled")
                else:
                    ranges = value.split(",") if value else []
                    if not ranges:
                        raise CliError(
                            1, "You have to input an IP Range value when asked, or provide it as an argument"
                        )
                    for r in ranges:
                        if not (_IPV4_RANGE.match(r) or _IPV4_CIDR.match(r) or ":" in r):
                            raise CliError(1, f"Your input value ({r}) is not a valid IP Range")
                    addons["metallb"] = ranges
                    self.cluster["enables"] += 1
                    self.say("Enabling MetalLB\nMetalLB is enabled")
            else:
                raise CliError(1, f"Addon {name} was not found in any repository")
            i += 1


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


#: Subcommands whose wrappers run their work through plain `sudo` (run_with_sudo in actions/common/utils.sh).
RUN_WITH_SUDO = frozenset({"start", "stop", "join", "leave"})
NO_PERMISSIONS = (
    "Insufficient permissions to access MicroK8s.\n"
    "You can either try again with sudo or add the user {user} to the 'microk8s' group:\n\n"
    "    sudo usermod -a -G microk8s {user}\n"
    "    sudo chown -R $USER ~/.kube\n\n"
    "After this, reload the user groups either via a reboot or by running 'newgrp microk8s'."
)
SUDO_NO_TTY = (
    "sudo: a terminal is required to read the password; either use the -S option to read from standard input "
    "or configure an askpass helper\nsudo: a password is required"
)


def permission_error(here: Path, argv: list[str]) -> CliError | None:
    """What MicroK8s' wrappers say to a caller without the rights the subcommand needs (``None``: allowed)."""
    if os.geteuid() == 0 or os.environ.get("SUDO_USER"):
        return None
    if argv and argv[0] in RUN_WITH_SUDO and (here / "sudo-password").exists():
        return CliError(1, SUDO_NO_TTY, stderr=True)
    return CliError(1, NO_PERMISSIONS.format(user=os.environ.get("USER", "user")), stderr=True)


def main(argv: list[str], here: Path | None = None) -> int:
    """One call, as the test host's ``microk8s``; ``here``: the folder of the copy that runs (default: this file's),
    where ``standin.env`` says which machine it is."""
    here = here or Path(os.path.realpath(__file__)).parent
    denied = permission_error(here, argv)
    if denied is not None:
        print(denied.message, file=sys.stderr)
        return denied.code
    env = read_env(here / "standin.env")
    state_dir = Path(env["STANDIN_STATE"])
    ip = env["STANDIN_MACHINE"]
    with locked_state(state_dir) as state:
        state["calls"].append([ip, *argv])
        cli = MicroK8s(state, ip)
        try:
            code = cli.run(argv)
            message, to_stderr = "", False
        except CliError as e:
            code, message, to_stderr = e.code, e.message, e.stderr
    if cli.out:
        print("\n".join(cli.out))
    if message:
        print(message, file=sys.stderr if to_stderr else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
