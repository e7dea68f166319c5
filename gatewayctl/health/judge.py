"""The checks, judged from the nodes' facts: pure functions, one per check id, each returning its rows.

Which node answers for the cluster (nodes, members, addons, pods, claims): the primary when it answered, else
the first node that did.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence

from components import config as cfg
from gatewayctl.checks import Check, config_key, failed, ok, warned
from gatewayctl.health.facts import NodeFacts, Section

#: The namespace the gateway's Helm releases install into (the program sets none: the default one).
GATEWAY_NAMESPACE = "default"
_RUN = "run `pulumi up` (its steps set this up again)"


def reachable(facts: Mapping[str, NodeFacts]) -> dict[str, NodeFacts]:
    return {h: f for h, f in facts.items() if f.error is None}


def cluster_source(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> NodeFacts | None:
    """The node whose view of the cluster is judged: the primary, else the first that answered."""
    answered = reachable(facts)
    return answered.get(settings.primary) or next(iter(answered.values()), None)


FactCheck = Callable[[cfg.Settings, Mapping[str, NodeFacts]], list[Check]]


def cluster_view(check: Callable[[cfg.Settings, NodeFacts], list[Check]]) -> FactCheck:
    """A check of the cluster as one node sees it (:func:`cluster_source`); nothing is judged when no node
    answered (the ``ssh`` rows say so)."""

    @functools.wraps(check)
    def judged(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
        source = cluster_source(settings, facts)
        return [] if source is None else check(settings, source)

    return judged


def ssh(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    rows = []
    for node in settings.nodes:
        f = facts[node.hostname]
        if f.error is None:
            rows.append(ok("ssh", node.hostname, f"answers SSH at {node.ip} as {settings.ssh_user}"))
        else:
            rows.append(
                failed(
                    "ssh",
                    node.hostname,
                    f"cannot read {node.hostname} over SSH at {node.ip} as {settings.ssh_user}: {f.error}",
                    "Check that the VM runs and answers SSH, the credentials (--identity, the agent, "
                    f"GATEWAY_SSH_PASSWORD or the stack's secrets) and {config_key('nodes[i].sshHostKey')}",
                )
            )
    return rows


def hostname(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    rows = []
    for node in settings.nodes:
        section = facts[node.hostname].get("hostname")
        if section is None or facts[node.hostname].error is not None:
            continue
        actual = section.text.strip()
        if actual == node.hostname:
            rows.append(ok("hostname", node.hostname, "the configured hostname"))
        else:
            rows.append(failed("hostname", node.hostname, f"the host calls itself {actual!r}", f"Set it: {_RUN}"))
    return rows


def _resolved(section: Section | None) -> str | None:
    if section is None or not section.ok or not section.text.split():
        return None
    return section.text.split()[0]


def hosts_resolve(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    rows = []
    for node in settings.nodes:
        f = facts[node.hostname]
        if f.error is not None:
            continue
        wrong = []
        for other in settings.nodes:
            address = _resolved(f.get(f"resolve {other.hostname}"))
            if address is None:
                wrong.append(f"{other.hostname} does not resolve")
            elif ipaddress.ip_address(address) != other.ip:
                wrong.append(f"{other.hostname} resolves to {address}, not {other.ip}")
        if wrong:
            rows.append(failed("hosts.resolve", node.hostname, "; ".join(wrong), f"Rewrite its /etc/hosts: {_RUN}"))
        else:
            rows.append(ok("hosts.resolve", node.hostname, f"resolves all {len(settings.nodes)} node(s)"))
    return rows


def hosts_ping(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    rows = []
    for node in settings.nodes:
        f = facts[node.hostname]
        if f.error is not None:
            continue
        others = [o for o in settings.nodes if o.hostname != node.hostname]
        silent = [o.hostname for o in others if not (f.get(f"ping {o.hostname}") or Section(1, "")).ok]
        if silent:
            rows.append(
                failed(
                    "hosts.ping",
                    node.hostname,
                    f"no answer to ping by name from {', '.join(silent)}",
                    "Check the network between the nodes (and that ICMP echo is allowed): the run-book's first "
                    "troubleshooting step",
                )
            )
        else:
            rows.append(ok("hosts.ping", node.hostname, "every other node answers ping by name"))
    return rows


def microk8s_running(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    rows = []
    for node in settings.nodes:
        f = facts[node.hostname]
        status = f.get("status")
        if f.error is not None or status is None:
            continue
        if status.text.startswith("microk8s is running"):
            rows.append(ok("microk8s.running", node.hostname, "microk8s is running"))
        else:
            first = status.text.splitlines()[0] if status.text else f"exit {status.code}"
            rows.append(
                failed(
                    "microk8s.running",
                    node.hostname,
                    f"MicroK8s is not running: {first}",
                    "Run `sudo microk8s start` on it",
                )
            )
    return rows


def node_table(section: Section | None) -> dict[str, str]:
    """``kubectl get nodes --no-headers``: node name to its STATUS column."""
    if section is None or not section.ok:
        return {}
    return {parts[0]: parts[1] for parts in (line.split() for line in section.text.splitlines()) if len(parts) >= 2}


def node_ready(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    source = cluster_source(settings, facts)
    if source is None:
        return [failed("node.ready", "cluster", "no node answered: nothing to read the cluster from", "Fix ssh first")]
    table = node_table(source.get("nodes"))
    rows = []
    for node in settings.nodes:
        state = table.get(node.hostname)
        if state is not None and state.split(",")[0] == "Ready":
            rows.append(ok("node.ready", node.hostname, f"Ready (as {source.hostname} sees the cluster)"))
        else:
            seen = f"is {state}" if state else "is not in the cluster under its hostname"
            rows.append(failed("node.ready", node.hostname, f"{node.hostname} {seen}", f"Look at it, then {_RUN}"))
    return rows


@cluster_view
def nodes_stale(settings: cfg.Settings, source: NodeFacts) -> list[Check]:
    if source.get("nodes") is None:
        return []
    extra = sorted(set(node_table(source.get("nodes"))) - {n.hostname for n in settings.nodes})
    if extra:
        return [
            failed(
                "nodes.stale",
                "cluster",
                f"node objects of no configured node: {', '.join(extra)}",
                "Delete each on the primary: `sudo microk8s kubectl delete node <name>`",
            )
        ]
    return [ok("nodes.stale", "cluster", "node objects only of the configured nodes")]


#: The most members `microk8s status` lists: three voters and three stand-bys (dqlite's roles).
LISTED_MEMBERS = 6
_MEMBERS = re.compile(r"datastore (?:master|standby) nodes:(.*)")


def datastore_members(status: Section | None) -> set[str]:
    """The addresses on ``microk8s status``'s datastore lines (port dropped, ``none`` skipped)."""
    members = set()
    for line in (status.text if status else "").splitlines():
        match = _MEMBERS.search(line)
        if match:
            for entry in match[1].split():
                if entry != "none":
                    members.add(entry.rsplit(":", 1)[0].strip("[]"))
    return members


@cluster_view
def cluster_members(settings: cfg.Settings, source: NodeFacts) -> list[Check]:
    members = datastore_members(source.get("status"))
    configured = {str(n.ip): n.hostname for n in settings.nodes}
    dead = sorted(members - set(configured))
    # `status` lists voters and stand-bys, never spares (docs/upstream-facts.md M9): up to six members are listed,
    # so beyond six a configured node that is not listed may be a spare, and only a short list is judged.
    missing = [f"{configured[ip]} ({ip})" for ip in configured if ip not in members]
    if len(configured) > LISTED_MEMBERS:
        missing = [f"{LISTED_MEMBERS - len(members)} of the listed members"] if len(members) < LISTED_MEMBERS else []
    problems, fixes = [], []
    if dead:
        problems.append(f"datastore members that are no configured node: {', '.join(dead)} (a dead voter costs quorum)")
        fixes.append("remove each on the primary: `sudo microk8s remove-node <address> --force`")
    if missing:
        problems.append(f"configured nodes not in the datastore: {', '.join(missing)}")
        fixes.append(f"join them: {_RUN}")
    if problems:
        return [failed("cluster.members", "cluster", "; ".join(problems), "; ".join(fixes).capitalize())]
    return [ok("cluster.members", "cluster", f"exactly the {len(configured)} configured node(s)")]


def _enabled_addons(status: Section | None) -> set[str]:
    text = status.text if status else ""
    enabled, inside = set(), False
    for line in text.splitlines():
        if line.strip() == "enabled:":
            inside = True
        elif line.strip() == "disabled:" or (inside and not line.startswith("    ")):
            inside = False
        elif inside and line.strip():
            enabled.add(line.split()[0])
    return enabled


@cluster_view
def addons(settings: cfg.Settings, source: NodeFacts) -> list[Check]:
    enabled = _enabled_addons(source.get("status"))
    rows = [
        ok("addons.dns", "cluster", "dns is enabled")
        if "dns" in enabled
        else failed("addons.dns", "cluster", "the dns addon is not enabled", f"Enable it: {_RUN}")
    ]
    pool = source.get("pool")
    if "metallb" not in enabled or pool is None or not pool.ok:
        rows.append(
            failed("addons.metallb", "cluster", "MetalLB is not enabled (no address pool)", f"Enable it: {_RUN}")
        )
        return rows
    floating = settings.floating_ip
    if any(_in_range(floating, part) for part in pool.text.split()):
        rows.append(ok("addons.metallb", "cluster", f"enabled, its pool ({pool.text}) holds {floating}"))
    else:
        rows.append(
            failed(
                "addons.metallb",
                "cluster",
                f"MetalLB's pool ({pool.text or 'empty'}) does not hold the floating IP {floating}",
                f"Set {config_key('metallbRange')} to include it, then {_RUN}",
            )
        )
    return rows


def _in_range(address: cfg.IPAddress, part: str) -> bool:
    try:
        if "/" in part:
            return address in ipaddress.ip_network(part, strict=False)
        first, _, last = part.partition("-")
        low, high = ipaddress.ip_address(first), ipaddress.ip_address(last or first)
        return low.version == address.version and int(low) <= int(address) <= int(high)
    except ValueError:
        return False


def pod_table(section: Section | None) -> list[dict[str, str]]:
    """``kubectl get pods -A`` in facts.sh's columns: namespace, name, phase, node, owner kind."""
    keys = ("namespace", "name", "phase", "node", "owner")
    if section is None or not section.ok:
        return []
    return [dict(zip(keys, line.split(), strict=False)) for line in section.text.splitlines() if line.split()]


@cluster_view
def pods_running(settings: cfg.Settings, source: NodeFacts) -> list[Check]:
    pods = pod_table(source.get("pods"))
    gateway = [p for p in pods if p.get("namespace") == GATEWAY_NAMESPACE]
    pending = [f"{p['namespace']}/{p['name']}" for p in pods if p.get("phase") == "Pending"]
    stopped = [f"{p['name']} ({p.get('phase')})" for p in gateway if p.get("phase") not in ("Running", "Succeeded")]
    if not gateway:
        return [failed("pods.running", "cluster", "no gateway pods", f"Install the charts: {_RUN}")]
    if pending or stopped:
        what = "; ".join(x for x in (f"Pending: {', '.join(pending)}" if pending else "", ", ".join(stopped)) if x)
        return [
            failed(
                "pods.running",
                "cluster",
                what,
                "Look at them: `sudo microk8s kubectl describe pod <name>` on the primary",
            )
        ]
    return [ok("pods.running", "cluster", f"all {len(gateway)} gateway pod(s) Running")]


@cluster_view
def pvc_bound(settings: cfg.Settings, source: NodeFacts) -> list[Check]:
    if len(settings.nodes) < 2:
        return []
    section = source.get("pvcs")
    claims = pod_table(section)  # same first columns: namespace, name, phase
    unbound = [f"{c['name']} ({c.get('phase')})" for c in claims if c.get("phase") != "Bound"]
    if not claims:
        return [
            failed("pvc.bound", "cluster", "no persistent-storage claim", f"Install gateway-persistent-storage: {_RUN}")
        ]
    if unbound:
        return [
            failed(
                "pvc.bound",
                "cluster",
                f"not Bound: {', '.join(unbound)}",
                f"Check the NFS export ({config_key('storage')}) from the nodes",
            )
        ]
    return [ok("pvc.bound", "cluster", f"{len(claims)} claim(s) Bound")]


#: The checks on the nodes' facts, in report order.
FACT_CHECKS = (
    ssh,
    hostname,
    hosts_resolve,
    hosts_ping,
    microk8s_running,
    node_ready,
    nodes_stale,
    cluster_members,
    addons,
    pods_running,
    pvc_bound,
)


def judge(settings: cfg.Settings, facts: Mapping[str, NodeFacts]) -> list[Check]:
    return [row for check in FACT_CHECKS for row in check(settings, facts)]


def registration_row(status: str | None, password_known: bool) -> Check:
    """``registration``: the appliance's documented API has no read of its registration (docs/upstream-facts.md
    A7), so this reports what the stack recorded, and says so."""
    if not password_known:
        return warned(
            "registration",
            "manager",
            "no manager password (GATEWAY_MANAGER_PASSWORD or the stack's managerPassword): not checked",
            "Set GATEWAY_MANAGER_PASSWORD, or run where the Pulumi CLI can read the stack's secrets",
        )
    if status == "registered":
        return ok(
            "registration",
            "manager",
            "registered, as the stack recorded it (the appliance's API documents no read of the registration)",
        )
    return warned(
        "registration",
        "manager",
        f"the stack records registration as {status or 'unknown'}; the appliance's API documents no read of it",
        "Check the gateway in the vendor's UI (Setup > Gateways); `pulumi up` registers it when configured",
    )


def rows_ok(rows: Sequence[Check]) -> bool:
    return all(r.status != "fail" for r in rows)
