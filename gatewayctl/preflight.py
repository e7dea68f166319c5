"""``gatewayctl preflight``: checks the real environment against the stack before ``pulumi up`` touches it.

Every check is a small function returning :class:`Check` rows (``pass``, ``fail`` or ``warn``, with what to do
about a failure). The vCenter checks use the same look-ups as ``plan --vcenter`` (:mod:`gatewayctl.vcenter`),
the address and port checks the bounded probes of :mod:`gatewayctl.probe`; the OVA's are in
:mod:`gatewayctl.ova_checks`. Config is validated exactly as the program validates it (``components.config.parse``
over the values the runtime would hand it); an invalid config exits 2 with the same messages as ``plan``. Exit 1
when any check fails, 0 otherwise (warnings too).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi.runtime

from components import config as cfg
from components.cluster import annotation_owner
from gatewayctl import common, harness, probe, stackfile, vcenter

Status = Literal["pass", "fail", "warn"]

MIN_ESXI = (6, 0)
#: Share of what the nodes need that must be free on top of it (thin disks growing, snapshots, logs).
SPACE_HEADROOM = 0.10
#: vCenter's default "Datastore usage on disk" alarm turns red at 85 % full: warn when the nodes would pass it.
DATASTORE_ALARM = 0.85
NFS_PORT = 2049
GB = 1024**3


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    id: str
    """What was checked, e.g. ``host.maintenance``."""
    target: str
    """The object or address checked, e.g. ``esx-02.corp.example.com``."""
    status: Status
    message: str
    fix: str | None = None
    """What to do; set for ``fail`` and ``warn``."""


def ok(id_: str, target: str, message: str) -> Check:
    return Check(id_, target, "pass", message)


def failed(id_: str, target: str, message: str, fix: str) -> Check:
    return Check(id_, target, "fail", message, fix)


def warned(id_: str, target: str, message: str, fix: str) -> Check:
    return Check(id_, target, "warn", message, fix)


def _key(path: str) -> str:
    return f"{cfg.NAMESPACE}:{path}"


# ---------------------------------------------------------------------------------------------- config


def load_settings(
    project_dir: Path, stack: str, overrides: Mapping[str, str] | None = None
) -> tuple[cfg.Settings, dict[str, Any]]:
    """The stack's validated settings and its raw ``config:`` map (with overrides).

    Validation is the program's own: the runtime's config is set to what ``plan`` runs the program with, and
    :func:`components.config.read_settings` reads it back as the program does. Raises ``ConfigError``.
    """
    raw = dict(stackfile.read_stack(project_dir, stack))
    prepared = stackfile.prepare(raw, stack, overrides=overrides)
    raw.update(overrides or {})
    pulumi.runtime.set_all_config(dict(prepared.values), list(prepared.secret_keys))
    return cfg.read_settings(), raw


# --------------------------------------------------------------------------------------------- vCenter


@dataclass
class Placement:
    """What the vCenter checks found, for the checks after them."""

    datacenter: Any = None
    datastore: Any = None
    network: Any = None
    pool_owner: Any = None
    """The compute resource whose pool the VMs go in (the cluster, or the configured pool's owner)."""
    own_vms: set[str] = field(default_factory=set)
    """Node hostnames whose VM already exists and is managed by this project and stack."""


def check_connection(creds: vcenter.Credentials, timeout: float) -> tuple[Check, vcenter.VCenter | None]:
    try:
        vc = vcenter.VCenter(vcenter.connect(creds, timeout=timeout), server=creds.address)
    except vcenter.VCenterError as exc:
        return failed("vcenter", creds.address, exc.message, exc.fix), None
    return ok("vcenter", creds.address, f"logged in as {creds.user}: {vc.about}"), vc


def check_datacenter(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.datacenter
    try:
        place.datacenter = vc.datacenter(name)
    except vcenter.NotFound as exc:
        return [failed("datacenter", name, str(exc), f"Fix {_key('vsphere.datacenter')} or create the datacenter")]
    return [ok("datacenter", name, f"found ({place.datacenter._moId})")]


def check_cluster(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.cluster
    if name is None:
        return []
    try:
        cluster = vc.cluster(place.datacenter, name)
    except vcenter.NotFound as exc:
        return [failed("cluster", name, str(exc), f"Fix {_key('vsphere.cluster')} or create the cluster")]
    place.pool_owner = cluster
    rows = [ok("cluster", name, f"found ({cluster._moId})")]
    if len(settings.nodes) > 1:
        drs = cluster.configurationEx.drsConfig.enabled
        if drs:
            rows.append(ok("cluster.drs", name, "DRS is on, as the nodes' anti-affinity rule needs"))
        else:
            rows.append(
                failed(
                    "cluster.drs",
                    name,
                    "DRS is off: the rule that keeps the gateway nodes on separate hosts cannot be created or "
                    "enforced without it",
                    f"Turn on vSphere DRS for cluster {name} (Configure > vSphere DRS)",
                )
            )
    return rows


def check_resource_pool(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    path = settings.vsphere.resource_pool
    if path is None:
        return []
    try:
        pool = vc.resource_pool(place.datacenter, path)
    except vcenter.NotFound as exc:
        return [failed("resourcePool", path, str(exc), f"Fix {_key('vsphere.resourcePool')} or create the pool")]
    place.pool_owner = pool.owner
    return [ok("resourcePool", path, f"found ({pool._moId}, in {pool.owner.name})")]


def check_folder(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    path = settings.vsphere.folder
    if path is None:
        return []
    try:
        folder = vc.folder(place.datacenter, path)
    except vcenter.NotFound as exc:
        return [
            failed(
                "folder",
                path,
                str(exc),
                f"Create the VM folder {path} in datacenter {settings.vsphere.datacenter}, "
                f"or fix {_key('vsphere.folder')}",
            )
        ]
    return [ok("folder", path, f"found ({folder._moId})")]


def space_needed_gb(settings: cfg.Settings) -> float:
    """What the nodes take on the datastore at most: each node's disk plus its swap file (its memory size)."""
    size = settings.node_size
    return len(settings.nodes) * (size.disk_gb + size.memory_mb / 1024)


def check_datastore(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.datastore
    try:
        ds = vc.datastore(place.datacenter, name)
    except vcenter.NotFound as exc:
        return [failed("datastore", name, str(exc), f"Fix {_key('vsphere.datastore')}")]
    summary = ds.summary
    if not summary.accessible:
        return [
            failed(
                "datastore",
                name,
                f"found ({ds._moId}) but not accessible",
                f"Bring datastore {name} back online, or choose another in {_key('vsphere.datastore')}",
            )
        ]
    place.datastore = ds
    rows = [ok("datastore", name, f"found ({ds._moId})")]
    capacity, free = summary.capacity / GB, summary.freeSpace / GB
    need = space_needed_gb(settings)
    want = need * (1 + SPACE_HEADROOM)
    size = settings.node_size
    detail = (
        f"{len(settings.nodes)} node(s) x ({size.disk_gb} GB disk + {size.memory_mb / 1024:g} GB swap) = "
        f"{need:.0f} GB, plus {SPACE_HEADROOM:.0%} headroom = {want:.0f} GB; {free:.0f} GB free of {capacity:.0f} GB"
    )
    if free < want:
        rows.append(
            failed(
                "datastore.space",
                name,
                f"too little space: {detail}",
                f"Free at least {want - free:.0f} GB on {name}, choose a bigger datastore, or lower "
                f"{_key('nodeSize.diskGb')}",
            )
        )
    elif capacity and (capacity - free + need) / capacity > DATASTORE_ALARM:
        used = (capacity - free + need) / capacity
        rows.append(
            warned(
                "datastore.space",
                name,
                f"fits, but leaves {name} {used:.0%} full, past vCenter's default usage alarm "
                f"({DATASTORE_ALARM:.0%}): {detail}",
                f"Free space on {name} or choose a bigger datastore",
            )
        )
    else:
        rows.append(ok("datastore.space", name, f"room enough: {detail}"))
    return rows


def check_network(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.network
    try:
        place.network = vc.network(place.datacenter, name)
    except vcenter.NotFound as exc:
        return [
            failed(
                "network",
                name,
                str(exc),
                f"Create the port group {name} on the hosts' switch, or fix {_key('vsphere.network')}",
            )
        ]
    return [ok("network", name, f"found ({place.network._moId})")]


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_hosts(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    """Each configured host: exists, ESXi >= 6.0, connected, not in maintenance, in the nodes' cluster or
    pool, sees the datastore and network; and no two nodes share a host."""
    rows: list[Check] = []
    found: dict[str, Any] = {}
    for index, node in enumerate(settings.nodes):
        name = node.esxi_host
        if name in found or any(r.target == name and r.id == "host" for r in rows):
            continue
        key = _key(f"nodes[{index}].esxiHost")
        try:
            host = vc.host(place.datacenter, name)
        except vcenter.NotFound as exc:
            rows.append(
                failed("host", name, str(exc), f"Fix {key} (the host's name as vCenter shows it) or add the host")
            )
            continue
        found[name] = host
        rows.append(ok("host", name, f"found ({host._moId}) for {node.hostname}"))
        product = host.summary.config.product
        version = product.version if product is not None else "unknown"
        if _version(version) >= MIN_ESXI:
            rows.append(ok("host.version", name, f"ESXi {version}"))
        else:
            rows.append(
                failed(
                    "host.version",
                    name,
                    f"runs ESXi {version}; the gateway appliance needs ESXi 6.0 or later",
                    f"Upgrade {name} to ESXi 6.0 or later, or change {key}",
                )
            )
        state = str(host.runtime.connectionState)
        if state == "connected":
            rows.append(ok("host.connection", name, "connected"))
        else:
            rows.append(
                failed(
                    "host.connection",
                    name,
                    f"is {state} in vCenter: nothing can be deployed on it",
                    f"Reconnect {name} in vCenter (right-click > Connection > Connect), or change {key}",
                )
            )
        if host.runtime.inMaintenanceMode:
            rows.append(
                failed(
                    "host.maintenance",
                    name,
                    "is in maintenance mode: vCenter will not power on VMs there",
                    f"Take {name} out of maintenance mode when its work is done, or change {key}",
                )
            )
        else:
            rows.append(ok("host.maintenance", name, "not in maintenance mode"))
        rows.extend(_host_access(host, name, key, settings, place))

    by_moid: dict[str, list[str]] = {}
    for node in settings.nodes:
        host = found.get(node.esxi_host)
        by_moid.setdefault(host._moId if host is not None else node.esxi_host, []).append(node.hostname)
    shared = {moid: names for moid, names in by_moid.items() if len(names) > 1}
    target = ", ".join(dict.fromkeys(n.esxi_host for n in settings.nodes))
    if shared:
        clashes = "; ".join(f"{' and '.join(names)} on one host ({moid})" for moid, names in shared.items())
        rows.append(
            failed(
                "hosts.distinct",
                target,
                f"nodes would share a host: {clashes}; losing that host loses them together",
                f"Give every node its own ESXi host in {_key('nodes[*].esxiHost')}",
            )
        )
    else:
        rows.append(ok("hosts.distinct", target, f"{len(settings.nodes)} node(s) on {len(by_moid)} distinct host(s)"))
    return rows


def _host_access(host: Any, name: str, key: str, settings: cfg.Settings, place: Placement) -> list[Check]:
    problems: list[str] = []
    fixes: list[str] = []
    if place.pool_owner is not None and host.parent._moId != place.pool_owner._moId:
        problems.append(f"it is in {host.parent.name}, not in {place.pool_owner.name} where the nodes' pool is")
        fixes.append(f"move {name} into {place.pool_owner.name} or change {key}")
    if place.datastore is not None and place.datastore._moId not in {d._moId for d in host.datastore}:
        problems.append(f"datastore {settings.vsphere.datastore} is not mounted on it")
        fixes.append(f"mount {settings.vsphere.datastore} on {name}")
    if place.network is not None and place.network._moId not in {n._moId for n in host.network}:
        problems.append(f"network {settings.vsphere.network} does not reach it")
        fixes.append(f"add {name} to the switch of {settings.vsphere.network}")
    if problems:
        return [failed("host.placement", name, "; ".join(problems), "; ".join(fixes).capitalize())]
    return [ok("host.placement", name, "in the nodes' cluster/pool, with the datastore and network")]


def check_vm_names(
    vc: vcenter.VCenter, settings: cfg.Settings, place: Placement, project: str, stack: str
) -> list[Check]:
    """No VM of a node's name exists yet, unless its notes say this project and stack manage it."""
    by_name: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for vm, props in vc.vms(place.datacenter):
        by_name.setdefault(str(props.get("name")), []).append((vm, props))
    rows = []
    for index, node in enumerate(settings.nodes):
        name = node.hostname
        existing = by_name.get(name, [])
        if not existing:
            rows.append(ok("vm.name", name, "no VM of this name yet"))
            continue
        owners = [annotation_owner(props.get("config.annotation")) for _, props in existing]
        ids = ", ".join(vm._moId for vm, _ in existing)
        if len(existing) == 1 and owners[0] == (project, stack):
            place.own_vms.add(name)
            rows.append(ok("vm.name", name, f"exists ({ids}) and is managed by this stack: `pulumi up` keeps it"))
            continue
        other = next((o for o in owners if o is not None and o != (project, stack)), None)
        whose = f"managed by stack {other[1]} of project {other[0]}" if other else "not managed by this stack"
        rows.append(
            failed(
                "vm.name",
                name,
                f"a VM named {name} already exists ({ids}), {whose}",
                f"Rename or remove that VM, or choose another {_key(f'nodes[{index}].hostname')}",
            )
        )
    return rows


# ------------------------------------------------------------------------------------------- addresses

AddressProbe = Callable[[Sequence[str], float], Mapping[str, probe.AddressAnswer]]


def _probe_addresses(addresses: Sequence[str], timeout: float) -> Mapping[str, probe.AddressAnswer]:
    return probe.probe_addresses(addresses, timeout=timeout)


def check_addresses(
    settings: cfg.Settings, place: Placement, timeout: float, probe_addresses: AddressProbe = _probe_addresses
) -> list[Check]:
    """Each node IP and the floating IP: nobody answers there yet (except this stack's own running nodes)."""
    targets: list[tuple[str, str, str, bool]] = [
        (str(n.ip), n.hostname, _key(f"nodes[{i}].ip"), n.hostname in place.own_vms)
        for i, n in enumerate(settings.nodes)
    ]
    targets.append((str(settings.floating_ip), "floating IP", _key("floatingIp"), bool(place.own_vms)))
    answers = probe_addresses([t[0] for t in targets], timeout)
    rows = []
    for address, role, key, expected in targets:
        answer = answers[str(ipaddress.ip_address(address))]
        target = f"{address} ({role})"
        notes = f" ({'; '.join(answer.notes)})" if answer.notes else ""
        if not answer.in_use and not answer.probed:
            rows.append(
                warned(
                    "ip.free",
                    target,
                    f"could not be probed from this machine, so it may be in use{notes}",
                    f"Run preflight from a machine that reaches {settings.network.cidr}, or make sure yourself "
                    f"that nothing uses {address}",
                )
            )
        elif not answer.in_use:
            rows.append(ok("ip.free", target, f"no answer within {timeout:g} s: free{notes}"))
        elif expected:
            rows.append(ok("ip.free", target, f"{answer.describe()}: expected, this stack's cluster runs there"))
        else:
            rows.append(
                failed(
                    "ip.free",
                    target,
                    f"already in use, {answer.describe()}",
                    f"Choose a free address for {key} (outside the DHCP pools), or free {address}",
                )
            )
    return rows


def check_nfs(settings: cfg.Settings, timeout: float) -> list[Check]:
    """The NFS server's name resolves (the nodes mount it by that name) and it answers on port 2049."""
    if settings.storage is None:
        return []
    server = settings.storage.nfs_server
    key = _key("storage.nfsServer")
    rows = []
    is_address = True
    try:
        ipaddress.ip_address(server)
    except ValueError:
        is_address = False
    try:
        addresses = probe.resolve(server, timeout)
    except probe.ResolveError as exc:
        return [failed("nfs.dns", server, str(exc), f"Add {server} to DNS, or write its address in {key}")]
    if not is_address:
        rows.append(ok("nfs.dns", server, f"resolves to {', '.join(addresses)}"))
    target = f"{server}:{NFS_PORT}"
    # The addresses just resolved, not the name again: a second look-up could fail or take another timeout.
    result = probe.first_open(addresses, NFS_PORT, timeout)
    if result.state == "open":
        rows.append(ok("nfs.port", target, "accepts connections (NFS over TCP)"))
    else:
        rows.append(
            failed(
                "nfs.port",
                target,
                f"no NFS service: {result.detail}",
                f"Start NFS on {server} and let this network reach TCP {NFS_PORT}, or fix {key}",
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Report:
    stack: str
    checks: list[Check]

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "checks": [asdict(c) for c in self.checks]}


def run_checks(
    project_dir: Path,
    stack: str,
    settings: cfg.Settings,
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = vcenter.DEFAULT_TIMEOUT,
    probe_timeout: float = probe.DEFAULT_TIMEOUT,
    progress: Callable[[str], None] = lambda _: None,
    probe_addresses: AddressProbe = _probe_addresses,
) -> Report:
    """Runs every check. Network failures become failing rows; nothing here raises for them."""
    project = harness.project_name(project_dir)
    checks: list[Check] = []
    place = Placement()
    try:
        creds: vcenter.Credentials | None = vcenter.credentials(raw, stack, env)
    except vcenter.VCenterError as exc:
        server = raw.get(vcenter.SERVER_KEY) or (os.environ if env is None else env).get(vcenter.SERVER_ENV)
        server = server or "vCenter"
        checks.append(failed("vcenter", str(server), exc.message, exc.fix))
        creds = None
    if creds is not None:
        progress(f"connecting to vCenter {creds.address} as {creds.user} ...")
        row, vc = check_connection(creds, timeout)
        checks.append(row)
        if vc is not None:
            try:
                progress(f"checking the inventory of datacenter {settings.vsphere.datacenter} ...")
                checks.extend(check_datacenter(vc, settings, place))
                if place.datacenter is not None:
                    for step in (check_cluster, check_resource_pool, check_folder, check_datastore, check_network):
                        checks.extend(step(vc, settings, place))
                    progress(f"checking {len({n.esxi_host for n in settings.nodes})} ESXi host(s) ...")
                    checks.extend(check_hosts(vc, settings, place))
                    checks.extend(check_vm_names(vc, settings, place, project, stack))
            except (OSError, http.client.HTTPException, vcenter.vmodl.MethodFault) as exc:
                checks.append(
                    failed(
                        "vcenter",
                        creds.address,
                        f"vCenter stopped answering during the checks ({exc})",
                        "Run preflight again; check vCenter's health and the network",
                    )
                )
            except Exception as exc:  # noqa: BLE001 - pyVmomi raises bare Exception too; the table still prints
                checks.append(_stopped("vcenter", creds.address, exc))
            finally:
                vcenter.disconnect(vc.si)
    from gatewayctl import ova_checks  # here, not at the top: it builds on this module's rows

    progress(f"checking the OVA at {ova_checks.shown(settings.ova.source)} ...")
    try:
        checks.extend(ova_checks.check_ova(settings.ova, probe_timeout, project_dir, settings.node_size.disk_gb))
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        checks.append(_stopped("ova.source", ova_checks.shown(settings.ova.source), exc))
    count = len(settings.nodes) + 1
    progress(f"probing {count} address(es) for machines already using them (timeout {probe_timeout:g} s) ...")
    try:
        checks.extend(check_addresses(settings, place, probe_timeout, probe_addresses))
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the rows already found
        checks.append(_stopped("ip.free", "node and floating IPs", exc))
    if settings.storage is not None:
        progress(f"checking NFS server {settings.storage.nfs_server} ...")
        try:
            checks.extend(check_nfs(settings, probe_timeout))
        except Exception as exc:  # noqa: BLE001 - as above
            checks.append(_stopped("nfs", settings.storage.nfs_server, exc))
    return Report(stack=stack, checks=checks)


def _stopped(id_: str, target: str, exc: Exception) -> Check:
    """A failing row for a check that stopped on an error nothing above expected."""
    return failed(
        id_,
        target,
        f"the check stopped on an unexpected error ({type(exc).__name__}: {exc})",
        "Run preflight again; if it happens again, report it with this message",
    )


# -------------------------------------------------------------------------------------------- output


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines or [""]


def to_text(report: Report) -> str:
    """The table: one row per check; the fix under every failing or warning row."""
    rows = report.checks
    w_id = max([len("CHECK"), *(len(c.id) for c in rows)])
    w_target = min(32, max([len("TARGET"), *(len(c.target) for c in rows)]))
    indent = 6 + 2 + w_id + 2 + w_target + 2
    width = max(40, 120 - indent)
    lines = [f"Preflight of stack '{report.stack}'", ""]
    lines.append(f"{'STATUS':<6}  {'CHECK':<{w_id}}  {'TARGET':<{w_target}}  DETAIL")
    for c in rows:
        detail = _wrap(c.message, width)
        head = f"{c.status.upper():<6}  {c.id:<{w_id}}  {c.target:<{w_target}}  "
        if len(c.target) > w_target:
            # A long target (several hosts) gets its own line rather than pushing the details out of line.
            lines.append(head.rstrip())
            lines.append(" " * indent + detail[0])
        else:
            lines.append(head + detail[0])
        lines.extend(" " * indent + more for more in detail[1:])
        if c.fix and c.status != "pass":
            fix = _wrap(f"fix: {c.fix}", width)
            lines.extend(" " * indent + part for part in fix)
    counts = {s: sum(1 for c in rows if c.status == s) for s in ("pass", "warn", "fail")}
    lines.append("")
    verdict = "NOT READY: fix the failures above" if counts["fail"] else "ready for `pulumi up`"
    lines.append(f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed: {verdict}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ CLI


def _progress(message: str) -> None:
    print(f"preflight: {message}", file=sys.stderr, flush=True)


def cmd_preflight(args: argparse.Namespace) -> int:
    root = common.project_dir()
    overrides = common.parse_overrides(args.config)
    try:
        settings, raw = load_settings(root, args.stack, overrides)
    except cfg.ConfigError as error:
        return common.report_config_error("preflight", args.stack, error, as_json=args.json)
    report = run_checks(
        root, args.stack, settings, raw, timeout=args.timeout, probe_timeout=args.probe_timeout, progress=_progress
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(to_text(report))
    return common.EXIT_VIOLATION if report.failed else common.EXIT_OK


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds between 0 and 300")
    return value


def register(subparsers: Any) -> None:
    """Adds ``preflight`` to gatewayctl's subcommands."""
    parser = subparsers.add_parser(
        "preflight",
        help="check the live environment (vCenter inventory, the OVA, addresses, NFS) before `pulumi up`",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--stack", required=True, help="the stack whose Pulumi.<stack>.yaml to check")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    common.add_config_option(parser)
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=vcenter.DEFAULT_TIMEOUT,
        help=f"seconds for each call to vCenter (default {vcenter.DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=probe.DEFAULT_TIMEOUT,
        help=f"seconds to wait for an address or port to answer (default {probe.DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(func=cmd_preflight)
