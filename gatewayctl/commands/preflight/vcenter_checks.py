"""Preflight's vCenter checks: the inventory the stack names exists and can take the nodes.

Every look-up is the one ``plan --vcenter`` makes (:class:`gatewayctl.vcenter.VCenter`), by name the way the
vSphere provider's data sources find objects. :func:`check_vcenter` runs them all in one session.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components import config as cfg
from components.annotation import annotation_image, annotation_owner
from gatewayctl import vcenter
from gatewayctl.checks import Check, config_key, failed, ok, stopped, warned

MIN_ESXI = (6, 0)
#: Share of what the nodes need that must be free on top of it (thin disks growing, snapshots, logs).
SPACE_HEADROOM = 0.10
#: vCenter's default "Datastore usage on disk" alarm turns red at 85 % full: warn when the nodes would pass it.
DATASTORE_ALARM = 0.85
GB = 1024**3


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
    own_images: dict[str, str | None] = field(default_factory=dict)
    """The image version each of :attr:`own_vms` says it was made from (``None``: its notes name none)."""


def _find(
    id_: str, name: str, lookup: Callable[[], Any], key: str, what: str | None = None, *, fix: str | None = None
) -> tuple[Any, list[Check]]:
    """An inventory object by name and its row: ``found (<moId>)``, or a failing row whose fix names the config key
    (``None`` for the object then)."""
    try:
        found = lookup()
    except vcenter.NotFound as exc:
        fix = fix or f"Fix {config_key(key)} or create {what or f'the {id_}'}"
        return None, [failed(id_, name, str(exc), fix)]
    return found, [ok(id_, name, f"found ({found._moId})")]


def check_connection(creds: vcenter.Credentials, timeout: float) -> tuple[Check, vcenter.VCenter | None]:
    try:
        vc = vcenter.VCenter(vcenter.connect(creds, timeout=timeout), server=creds.address)
    except vcenter.VCenterError as exc:
        return failed("vcenter", creds.address, exc.message, exc.fix), None
    return ok("vcenter", creds.address, f"logged in as {creds.user}: {vc.about}"), vc


def check_datacenter(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.datacenter
    place.datacenter, rows = _find("datacenter", name, lambda: vc.datacenter(name), "vsphere.datacenter")
    return rows


def check_cluster(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.cluster
    if name is None:
        return []
    cluster, rows = _find("cluster", name, lambda: vc.cluster(place.datacenter, name), "vsphere.cluster")
    if cluster is None:
        return rows
    place.pool_owner = cluster
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
    pool, rows = _find(
        "resourcePool", path, lambda: vc.resource_pool(place.datacenter, path), "vsphere.resourcePool", "the pool"
    )
    if pool is not None:
        place.pool_owner = pool.owner
        rows = [ok("resourcePool", path, f"found ({pool._moId}, in {pool.owner.name})")]
    return rows


def check_folder(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    path = settings.vsphere.folder
    if path is None:
        return []
    fix = f"Create the VM folder {path} in datacenter {settings.vsphere.datacenter}, "
    fix += f"or fix {config_key('vsphere.folder')}"
    return _find("folder", path, lambda: vc.folder(place.datacenter, path), "vsphere.folder", fix=fix)[1]


def space_needed_gb(settings: cfg.Settings) -> float:
    """What the nodes take on the datastore at most: each node's disk plus its swap file (its memory size)."""
    size = settings.node_size
    return len(settings.nodes) * (size.disk_gb + size.memory_mb / 1024)


def check_datastore(vc: vcenter.VCenter, settings: cfg.Settings, place: Placement) -> list[Check]:
    name = settings.vsphere.datastore
    try:
        ds = vc.datastore(place.datacenter, name)
    except vcenter.NotFound as exc:
        return [failed("datastore", name, str(exc), f"Fix {config_key('vsphere.datastore')}")]
    summary = ds.summary
    if not summary.accessible:
        return [
            failed(
                "datastore",
                name,
                f"found ({ds._moId}) but not accessible",
                f"Bring datastore {name} back online, or choose another in {config_key('vsphere.datastore')}",
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
                f"{config_key('nodeSize.diskGb')}",
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
                f"Create the port group {name} on the hosts' switch, or fix {config_key('vsphere.network')}",
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
        key = config_key(f"nodes[{index}].esxiHost")
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
                f"Give every node its own ESXi host in {config_key('nodes[*].esxiHost')}",
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
            place.own_images[name] = annotation_image(existing[0][1].get("config.annotation"))
            rows.append(ok("vm.name", name, f"exists ({ids}) and is managed by this stack: `pulumi up` keeps it"))
            continue
        other = next((o for o in owners if o is not None and o != (project, stack)), None)
        whose = f"managed by stack {other[1]} of project {other[0]}" if other else "not managed by this stack"
        rows.append(
            failed(
                "vm.name",
                name,
                f"a VM named {name} already exists ({ids}), {whose}",
                f"Rename or remove that VM, or choose another {config_key(f'nodes[{index}].hostname')}",
            )
        )
    return rows


def check_node_images(settings: cfg.Settings, place: Placement) -> list[Check]:
    """``nodes.images``: which image version each existing node runs (from its VM's notes), judged against
    `ova` and `ova.retain`; nothing on a stack with no VM yet."""
    if not place.own_images:
        return []
    kept = {settings.ova.version, *(r.version for r in settings.ova.retain)}
    running = ", ".join(f"{h} {v or 'unknown'}" for h, v in place.own_images.items())
    stray = [f"{h} runs {v}" for h, v in place.own_images.items() if v is not None and v not in kept]
    if stray:
        return [
            warned(
                "nodes.images",
                "nodes",
                f"{'; '.join(stray)}, which neither ova nor ova.retain keeps (nodes run: {running})",
                f"Add that image to {config_key('ova.retain')} (its version and source) before any of those "
                f"VMs is re-created, or rebuild them ({config_key('rebuild')})",
            )
        ]
    if None not in place.own_images.values() and len(place.own_images) == len(settings.nodes):
        unused = [r.version for r in settings.ova.retain if r.version not in place.own_images.values()]
        if unused:
            return [
                warned(
                    "nodes.images",
                    "nodes",
                    f"ova.retain keeps {', '.join(unused)}, which no node runs (nodes run: {running})",
                    f"Remove it from {config_key('ova.retain')}; the next `pulumi up` deletes its library item",
                )
            ]
    return [ok("nodes.images", "nodes", f"nodes run: {running}")]


def check_vcenter(
    settings: cfg.Settings,
    raw: Mapping[str, Any],
    stack: str,
    project: str,
    place: Placement,
    *,
    env: Mapping[str, str] | None,
    timeout: float,
    progress: Callable[[str], None],
) -> list[Check]:
    """Logs in with the stack's credentials and runs every check above, filling ``place``; logs out.

    Network failures become failing rows; nothing here raises for them.
    """
    try:
        creds = vcenter.credentials(raw, stack, env)
    except vcenter.VCenterError as exc:
        server = raw.get(vcenter.SERVER_KEY) or (os.environ if env is None else env).get(vcenter.SERVER_ENV)
        server = server or "vCenter"
        return [failed("vcenter", str(server), exc.message, exc.fix)]
    progress(f"connecting to vCenter {creds.address} as {creds.user} ...")
    row, vc = check_connection(creds, timeout)
    checks = [row]
    if vc is None:
        return checks
    try:
        progress(f"checking the inventory of datacenter {settings.vsphere.datacenter} ...")
        checks.extend(check_datacenter(vc, settings, place))
        if place.datacenter is not None:
            for step in (check_cluster, check_resource_pool, check_folder, check_datastore, check_network):
                checks.extend(step(vc, settings, place))
            progress(f"checking {len({n.esxi_host for n in settings.nodes})} ESXi host(s) ...")
            checks.extend(check_hosts(vc, settings, place))
            checks.extend(check_vm_names(vc, settings, place, project, stack))
            checks.extend(check_node_images(settings, place))
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
        checks.append(stopped("vcenter", creds.address, exc))
    finally:
        vcenter.disconnect(vc.si)
    return checks
