"""The gateway cluster's rules as CrossGuard policies: HA layout, one node per host, addressing, sizes, storage.

This module only defines the policies; ``__main__.py`` builds the ``PolicyPack`` from them (building it starts
a gRPC server and never returns). ``gatewayctl plan`` (``gatewayctl/policy_eval.py``) imports this module and
calls the same validators over the resources the program registers, so the rules live here once.

What each policy may look at, and why:

- Resource policies get a resource's *inputs* (``pulumi preview`` calls them on every resource, components
  included). The subnet, DHCP pools, floating IP and hostnames are inputs of the ``GatewayCluster`` component
  only, so the policies that judge them are resource policies on that component.
- Stack policies get every resource's *outputs* (for a component: what it passed to ``register_outputs``).
  They judge facts spread over several VMs or releases: node count, ESXi hosts, the storage release. A VM's
  or release's inputs are among its outputs, so these stay inputs, as the program wrote them.
- Values that cannot be known during a preview (outputs of resources not created yet) reach a policy as
  unknowns. A policy never judges an unknown: :func:`value` turns it into :data:`UNKNOWN` and each check
  skips it, so what is known is still judged.

Every message says what is wrong and how to fix it, in terms of the stack config (``gateway-cluster:...``).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlparse

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

PACK_NAME: Final = "gateway-cluster-policies"
#: The pack's default level; every policy below sets its own all the same.
PACK_ENFORCEMENT_LEVEL: Final = EnforcementLevel.MANDATORY
#: Config the pack starts from, before the user's ``--policy-pack-config`` file (none: schema defaults rule).
INITIAL_CONFIG: Final[dict[str, EnforcementLevel | dict[str, Any]]] = {}

CLUSTER: Final = "gateway-cluster:index:GatewayCluster"
VM: Final = "vsphere:index/virtualMachine:VirtualMachine"
LIBRARY_ITEM: Final = "vsphere:index/contentLibraryItem:ContentLibraryItem"
RELEASE: Final = "kubernetes:helm.sh/v3:Release"
STORAGE_RELEASE: Final = "gateway-persistent-storage"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------------------------------- reading values


class _Unknown(enum.Enum):
    """A value the engine could not know during the preview (one member, so that ``is UNKNOWN`` narrows)."""

    UNKNOWN = "unknown"


UNKNOWN: Final[Literal[_Unknown.UNKNOWN]] = _Unknown.UNKNOWN

_UNKNOWN_SENTINELS: Final = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


def value(props: Any, *path: str | int) -> Any:
    """The value at ``path``: ``None`` when absent, :data:`UNKNOWN` when unknown at preview. Never raises.

    The engine hands props through pulumi-policy's unknown-checking proxy, which raises on reading an
    unknown; plain dicts (tests) carry the raw unknown sentinels instead. Both become :data:`UNKNOWN`.
    """
    current = props
    try:
        for step in path:
            if isinstance(step, int):
                if isinstance(current, str | bytes) or not isinstance(current, Sequence) or step >= len(current):
                    return None
            elif not isinstance(current, Mapping) or step not in current:
                return None
            current = current[step]
            if isinstance(current, str) and current in _UNKNOWN_SENTINELS:
                return UNKNOWN
    except UnknownValueError:
        return UNKNOWN
    return current


def text(props: Any, *path: str | int) -> str | _Unknown | None:
    """A string value; anything else that is not unknown counts as absent."""
    found = value(props, *path)
    if found is UNKNOWN or isinstance(found, str):
        return found
    return None


def number(props: Any, *path: str | int) -> float | _Unknown | None:
    found = value(props, *path)
    if found is UNKNOWN:
        return _Unknown.UNKNOWN  # (mypy reads the narrowed `UNKNOWN` as Any here)
    if isinstance(found, int | float) and not isinstance(found, bool):
        return float(found)
    return None


def items(props: Any, *path: str | int) -> list[Any] | _Unknown:
    """The elements of a list value (each may itself be :data:`UNKNOWN`); ``[]`` when absent."""
    found = value(props, *path)
    if found is UNKNOWN:
        return _Unknown.UNKNOWN  # (mypy reads the narrowed `UNKNOWN` as Any here)
    if isinstance(found, str | bytes) or not isinstance(found, Sequence):
        return []
    return [value(found, i) for i in range(len(found))]


def known_items(props: Any, *path: str | int) -> list[Any]:
    """:func:`items`, with an unknown list read as empty (nothing in it can be judged)."""
    found = items(props, *path)
    return [] if found is UNKNOWN else found


def _n(x: float) -> str:
    """A number as people write it: 4, not 4.0 (config and props arrive as floats)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def _config(args: ResourceValidationArgs | StackValidationArgs, policy: str, key: str) -> Any:
    """A policy's config value; the schema default when the engine sent none (or a test passed none)."""
    found = args.get_config().get(key)
    return found if found is not None else CONFIG_SCHEMAS[policy].properties[key]["default"]


def _address(raw: Any) -> IPAddress | None:
    if not isinstance(raw, str):
        return None
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def _range(raw: Any) -> tuple[IPAddress, IPAddress] | None:
    """``"first-last"`` or a CIDR as an inclusive address range; ``None`` when malformed."""
    if not isinstance(raw, str):
        return None
    part = raw.strip()
    try:
        if "/" in part:
            net = ipaddress.ip_network(part, strict=False)
            return net.network_address, net.broadcast_address
        first_s, last_s = part.split("-")
        first, last = ipaddress.ip_address(first_s.strip()), ipaddress.ip_address(last_s.strip())
    except ValueError:
        return None
    if first.version != last.version or int(first) > int(last):
        return None
    return first, last


def _in_range(address: IPAddress, span: tuple[IPAddress, IPAddress]) -> bool:
    # Compared as integers: the two address versions do not order against each other.
    return address.version == span[0].version and int(span[0]) <= int(address) <= int(span[1])


def _overlap(a: tuple[IPAddress, IPAddress], b: tuple[IPAddress, IPAddress]) -> bool:
    return a[0].version == b[0].version and int(a[0]) <= int(b[1]) and int(b[0]) <= int(a[1])


@dataclass(frozen=True)
class _Address:
    """One static address of the cluster and what it is for, as the messages name it."""

    label: str
    """e.g. ``node 'gw-1' (gateway-cluster:nodes[0].ip)``."""
    raw: Any
    """The value as given (a string, or :data:`UNKNOWN`)."""


def _cluster_addresses(props: Any) -> Iterator[_Address]:
    for i, node in enumerate(known_items(props, "nodes")):
        hostname = text(node, "hostname")
        name = hostname if isinstance(hostname, str) else f"#{i}"
        yield _Address(f"node '{name}' (gateway-cluster:nodes[{i}].ip)", value(node, "ip"))
    yield _Address("the floating IP (gateway-cluster:floatingIp)", value(props, "floatingIp"))


# ------------------------------------------------------------------------------------- stack grouping


def _cluster_of(resource: PolicyResource) -> PolicyResource | None:
    """The nearest ``GatewayCluster`` ancestor, if any."""
    parent = resource.parent
    while parent is not None:
        if parent.resource_type == CLUSTER:
            return parent
        parent = parent.parent
    return None


def _by_cluster(resources: Sequence[PolicyResource], type_: str) -> dict[str | None, list[PolicyResource]]:
    """Resources of one type grouped by the URN of their cluster (``None``: not inside any cluster)."""
    groups: dict[str | None, list[PolicyResource]] = {}
    for r in resources:
        if r.resource_type == type_:
            cluster = _cluster_of(r)
            groups.setdefault(cluster.urn if cluster else None, []).append(r)
    return groups


def _vm_name(vm: PolicyResource) -> str:
    name = text(vm.props, "name")
    return name if isinstance(name, str) else vm.name


def _cluster_label(resources: Sequence[PolicyResource], urn: str | None) -> str:
    for r in resources:
        if r.urn == urn:
            return f"gateway cluster '{r.name}'"
    return "the stack's gateway VMs"


# --------------------------------------------------------------------------------------------- schemas

CONFIG_SCHEMAS: Final[dict[str, PolicyConfigSchema]] = {
    "ha-minimum-three-hosts": PolicyConfigSchema(
        properties={
            "allowSingleNode": {
                "type": "boolean",
                "default": True,
                "description": "Whether a one-node cluster (no HA) is allowed; set false for production stacks.",
            },
        },
    ),
    "node-size-minimum": PolicyConfigSchema(
        properties={
            "minCpus": {"type": "integer", "minimum": 1, "default": 4, "description": "Minimum vCPUs per node."},
            "minMemoryMb": {
                "type": "integer",
                "minimum": 1,
                "default": 8192,
                "description": "Minimum memory per node, in MB.",
            },
            "minDiskGb": {
                "type": "integer",
                "minimum": 1,
                "default": 40,
                "description": "Minimum size of the node's system disk (disks[0]), in GB.",
            },
        },
    ),
}


# ------------------------------------------------------------------------------------ mandatory: layout


def validate_ha_minimum_three_hosts(args: StackValidationArgs, report: ReportViolation) -> None:
    """One node, or at least three nodes on at least three distinct ESXi hosts; never two."""
    allow_single = bool(_config(args, "ha-minimum-three-hosts", "allowSingleNode"))
    for cluster_urn, vms in _by_cluster(args.resources, VM).items():
        label = _cluster_label(args.resources, cluster_urn)
        names = ", ".join(_vm_name(vm) for vm in vms)
        count = len(vms)
        if count == 1 and not allow_single:
            report(
                f"{label} has a single node ({names}), and this stack's policy config forbids single-node "
                "clusters (allowSingleNode: false): one host failure takes the gateway down. Add at least two "
                "more nodes on two more ESXi hosts to gateway-cluster:nodes.",
                cluster_urn,
            )
        elif count == 2:
            report(
                f"{label} has two nodes ({names}): two MicroK8s nodes give no HA (losing either one loses "
                "dqlite's quorum) and are not the single-node layout either. Add a third node on a third ESXi "
                "host to gateway-cluster:nodes, or go back to one node.",
                cluster_urn,
            )
        elif count >= 3:
            hosts = [value(vm.props, "hostSystemId") for vm in vms]
            known = {h for h in hosts if isinstance(h, str) and h}
            # A VM whose host is unknown (or left to DRS) might be on a host of its own: only a shortfall
            # that holds whatever those hosts turn out to be is reported.
            undecided = sum(1 for h in hosts if not (isinstance(h, str) and h))
            if len(known) + undecided < 3:
                report(
                    f"{label} has {count} nodes ({names}) but they run on only {len(known)} distinct ESXi "
                    f"host(s) ({', '.join(sorted(known))}): HA needs at least three nodes on at least three "
                    "hosts, so that losing one host keeps two of three dqlite voters. Give the nodes in "
                    "gateway-cluster:nodes esxiHost values naming at least three different hosts.",
                    cluster_urn,
                )


def validate_one_node_per_host(args: StackValidationArgs, report: ReportViolation) -> None:
    """No two gateway VMs on one ESXi host (``hostSystemId``), across the whole stack."""
    first_on_host: dict[str, PolicyResource] = {}
    for vm in (r for r in args.resources if r.resource_type == VM):
        host = value(vm.props, "hostSystemId")
        if not isinstance(host, str) or not host:
            continue  # unknown at preview, or left to DRS: nothing to judge
        first = first_on_host.setdefault(host, vm)
        if first is not vm:
            report(
                f"gateway VM '{_vm_name(vm)}' is on ESXi host {host}, like '{_vm_name(first)}': losing that "
                "host would take both nodes (and two dqlite voters) at once. Give each node its own "
                "esxiHost in gateway-cluster:nodes.",
                vm.urn,
            )


# ---------------------------------------------------------------------------------- mandatory: network


def validate_static_ips_same_subnet(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every node IP and the floating IP in the configured subnet, usable as a host address, all distinct."""
    if args.resource_type != CLUSTER:
        return
    props = args.props
    cidr_raw = text(props, "network", "cidr")
    if cidr_raw is UNKNOWN:
        return
    try:
        net: IPNetwork = ipaddress.ip_network(str(cidr_raw).strip(), strict=False)
    except ValueError:
        report(
            f"gateway-cluster:network.cidr {cidr_raw!r} is not a subnet, so the node addresses cannot be "
            "checked. Write the nodes' subnet in CIDR form, e.g. '10.20.30.0/24'.",
            None,
        )
        return
    gateway_raw = value(props, "network", "gateway")
    gateway = _address(gateway_raw)
    seen: dict[IPAddress, str] = {}
    for entry in _cluster_addresses(props):
        if entry.raw is UNKNOWN or entry.raw is None:
            continue
        address = _address(entry.raw)
        if address is None:
            report(f"{entry.label} {entry.raw!r} is not an IP address. Write one address such as '10.20.30.41'.", None)
            continue
        if address.version != net.version or address not in net:
            report(
                f"{entry.label} {address} is outside the subnet {net} (gateway-cluster:network.cidr): the "
                f"nodes reach each other and the floating IP on one layer-2 segment. Pick an address in {net}.",
                None,
            )
        elif address == net.network_address and net.num_addresses > 2:
            report(f"{entry.label} {address} is the network address of {net}. Pick a host address in {net}.", None)
        elif net.version == 4 and address == net.broadcast_address and net.num_addresses > 2:
            report(f"{entry.label} {address} is the broadcast address of {net}. Pick a host address in {net}.", None)
        elif gateway is not None and address == gateway:
            report(
                f"{entry.label} {address} is the subnet's gateway (gateway-cluster:network.gateway). Pick an "
                "address no other device uses.",
                None,
            )
        if address in seen:
            report(
                f"{entry.label} {address} is also used by {seen[address]}: every node IP and the floating "
                "IP must differ. Give each one its own address.",
                None,
            )
        else:
            seen[address] = entry.label


def validate_ips_outside_dhcp(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No node IP or floating IP inside a declared DHCP range."""
    if args.resource_type != CLUSTER:
        return
    ranges = items(args.props, "network", "dhcpRanges")
    if ranges is UNKNOWN:
        return
    spans: list[tuple[str, tuple[IPAddress, IPAddress]]] = []
    for i, raw in enumerate(ranges):
        if raw is UNKNOWN:
            continue
        span = _range(raw)
        if span is None:
            report(
                f"gateway-cluster:network.dhcpRanges[{i}] {raw!r} is not a range 'first-last', so addresses "
                "cannot be checked against it. Write it as e.g. '10.20.30.100-10.20.30.199'.",
                None,
            )
            continue
        spans.append((str(raw).strip(), span))
    for entry in _cluster_addresses(args.props):
        address = _address(entry.raw)
        if address is None:
            continue
        for raw, span in spans:
            if _in_range(address, span):
                report(
                    f"{entry.label} {address} lies in the DHCP range {raw} (gateway-cluster:network.dhcpRanges): "
                    "the DHCP server may lease it to another machine. Pick a static address outside every "
                    "DHCP range, or shrink the DHCP pool on the DHCP server and in the stack config.",
                    None,
                )


# ------------------------------------------------------------------------------------- mandatory: nodes


def validate_node_size_minimum(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Each gateway VM has at least the configured vCPUs, memory and system disk."""
    if args.resource_type != VM:
        return
    policy = "node-size-minimum"
    min_cpus = float(_config(args, policy, "minCpus"))
    min_memory = float(_config(args, policy, "minMemoryMb"))
    min_disk = float(_config(args, policy, "minDiskGb"))
    props = args.props
    short: list[str] = []
    cpus = number(props, "numCpus")
    if isinstance(cpus, float) and cpus < min_cpus:
        short.append(f"{_n(cpus)} vCPUs (minimum {_n(min_cpus)})")
    elif cpus is None:
        short.append(f"no numCpus (vSphere's default is 1; minimum {_n(min_cpus)})")
    memory = number(props, "memory")
    if isinstance(memory, float) and memory < min_memory:
        short.append(f"{_n(memory)} MB of memory (minimum {_n(min_memory)} MB)")
    elif memory is None:
        short.append(f"no memory size (vSphere's default is 1024 MB; minimum {_n(min_memory)} MB)")
    disks = items(props, "disks")
    if disks is not UNKNOWN:
        disk = number(disks[0], "size") if disks else None
        if isinstance(disk, float) and disk < min_disk:
            short.append(f"a {_n(disk)} GB system disk (minimum {_n(min_disk)} GB)")
        elif disk is None:
            short.append(f"no system disk size (disks[0].size; minimum {_n(min_disk)} GB)")
    if short:
        report(
            f"gateway VM '{text(props, 'name') or args.name}' has {', '.join(short)}. Raise "
            "gateway-cluster:nodeSize (cpus, memoryMb, diskGb) to at least the minimum; the limits are this "
            "policy's config (minCpus, minMemoryMb, minDiskGb).",
            None,
        )


_HOSTNAME: Final = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def validate_unique_hostnames(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every node's hostname a lowercase RFC 1123 label, all distinct."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, "nodes")
    if nodes is UNKNOWN:
        return
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        hostname = text(node, "hostname")
        if hostname is UNKNOWN:
            continue
        if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
            report(
                f"gateway-cluster:nodes[{i}].hostname {hostname!r} is not a lowercase RFC 1123 label (1-63 "
                "characters a-z, 0-9 and '-', starting and ending with a letter or digit): MicroK8s names the "
                "Kubernetes node after it. Rename it, e.g. 'gw-node-1'.",
                None,
            )
            continue
        if hostname in seen:
            report(
                f"gateway-cluster:nodes[{i}].hostname '{hostname}' duplicates nodes[{seen[hostname]}]: "
                "MicroK8s joins fail silently between nodes of one name. Give every node its own hostname.",
                None,
            )
        else:
            seen[hostname] = i


# ----------------------------------------------------------------------------------- mandatory: storage


def _is_storage_release(release: PolicyResource) -> bool:
    name = text(release.props, "name")
    if isinstance(name, str):
        return name == STORAGE_RELEASE
    chart = text(release.props, "chart")
    if isinstance(chart, str):
        return chart.rstrip("/").rsplit("/", 1)[-1] == STORAGE_RELEASE
    return release.name == STORAGE_RELEASE or release.name.endswith(f"-{STORAGE_RELEASE}")


def validate_nfs_storage_for_multi_node(args: StackValidationArgs, report: ReportViolation) -> None:
    """A multi-node cluster's storage release carries an NFS server and an absolute export path."""
    vms = _by_cluster(args.resources, VM)
    releases = _by_cluster([r for r in args.resources if _is_storage_release(r)], RELEASE)
    for cluster_urn, group in vms.items():
        if len(group) < 2:
            continue
        for release in releases.get(cluster_urn, []):
            if not any(key in release.props for key in ("chart", "name", "values")):
                # No outputs at all: during a first preview the Kubernetes provider's config (the kubeconfig,
                # an output of the cluster's formation) is unknown and the engine hands back an empty map.
                # Nothing to judge; nfs-storage-configured judges the same rule on the cluster's inputs.
                continue
            server = text(release.props, "values", "nfs", "server")
            path = text(release.props, "values", "nfs", "path")
            missing = []
            if server is None or (isinstance(server, str) and not server.strip()):
                missing.append("no NFS server (values.nfs.server)")
            if path is None or (isinstance(path, str) and not path.startswith("/")):
                missing.append("no absolute NFS export path (values.nfs.path)")
            if missing:
                report(
                    f"the storage release '{release.name}' of {_cluster_label(args.resources, cluster_urn)} "
                    f"({len(group)} nodes) has {' and '.join(missing)}: on node-local disks each node keeps its "
                    "own data and a fail-over loses it. Set gateway-cluster:storage.nfsServer and "
                    "storage.nfsPath (an NFS export every node can mount).",
                    release.urn,
                )


def validate_nfs_storage_configured(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A multi-node cluster's config names an NFS server and an absolute export path for its storage."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, "nodes")
    storage = value(args.props, "storage")
    if nodes is UNKNOWN or len(nodes) < 2 or storage is UNKNOWN:
        return
    server = text(storage, "nfsServer") if storage is not None else None
    path = text(storage, "nfsPath") if storage is not None else None
    if server is UNKNOWN or path is UNKNOWN:
        return
    if not server or not server.strip() or not path or not path.startswith("/"):
        shown = "no storage" if storage is None else f"storage {{nfsServer: {server!r}, nfsPath: {path!r}}}"
        report(
            f"gateway cluster '{args.name}' has {len(nodes)} nodes but {shown}: a multi-node cluster keeps the "
            "Gateway Manager's data on NFS so that any node can take over. Set gateway-cluster:storage to "
            "{nfsServer: <server>, nfsPath: /<export>} (an NFS export every node can mount).",
            None,
        )


# -------------------------------------------------------------------------------------------- advisory


def validate_ssh_host_keys_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Each node's SSH host key is pinned, so remote commands cannot be diverted to another machine."""
    if args.resource_type != CLUSTER:
        return
    nodes = items(args.props, "nodes")
    if nodes is UNKNOWN:
        return
    unpinned = [
        f"nodes[{i}] ({text(node, 'hostname') or '?'})"
        for i, node in enumerate(nodes)
        if value(node, "sshHostKeyPinned") is False
    ]
    if unpinned:
        report(
            f"no SSH host key is pinned for {', '.join(unpinned)}: the remote commands then accept any host key, "
            "so whoever answers on the node's address gets the SSH credentials. Set "
            "gateway-cluster:nodes[i].sshHostKey to the node's public host key (`ssh-keyscan -t ed25519 <ip>`).",
            None,
        )


def validate_ova_over_https(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The OVA is downloaded over https (a content library item's file URL, or a VM's remote OVF URL)."""
    if args.resource_type == LIBRARY_ITEM:
        url, where = text(args.props, "fileUrl"), "content library item's fileUrl"
    elif args.resource_type == VM:
        url, where = text(args.props, "ovfDeploy", "remoteOvfUrl"), "VM's ovfDeploy.remoteOvfUrl"
    else:
        return
    if isinstance(url, str) and urlparse(url).scheme.lower() == "http":
        report(
            f"the {where} {url} is plain http: the appliance image (which runs as the cluster's nodes) can be "
            "altered in transit. Serve the OVA over https and set gateway-cluster:ova.url to the https URL.",
            None,
        )


_EXACT_VERSION: Final = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def validate_chart_versions_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Each Helm release from a repository names one exact chart version, not a range or the latest."""
    if args.resource_type != RELEASE:
        return
    chart = text(args.props, "chart")
    version = text(args.props, "version")
    if chart is UNKNOWN or version is UNKNOWN:
        return
    repo = text(args.props, "repositoryOpts", "repo")
    local = isinstance(chart, str) and chart.startswith(("/", "./", "../", "file://")) and not repo
    if local:
        return  # a chart folder is pinned by its own content; Helm ignores `version` for it
    if version is None or not _EXACT_VERSION.match(version.strip()):
        shown = "no version" if version is None else f"version {version!r}"
        report(
            f"Helm release '{text(args.props, 'name') or args.name}' (chart {chart}) has {shown}: without one "
            "exact version, a preview and the following `pulumi up` (or two stacks) can install different "
            "chart releases. Pin an exact chart version such as '1.2.3'.",
            None,
        )


def validate_metallb_range_in_subnet(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """MetalLB's address pool lies in the nodes' subnet and clear of DHCP pools, node IPs and the gateway."""
    if args.resource_type != CLUSTER:
        return
    props = args.props
    pool = text(props, "metallbRange")
    cidr = text(props, "network", "cidr")
    if not isinstance(pool, str) or not isinstance(cidr, str):
        return
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return  # static-ips-same-subnet reports the subnet itself
    taken: list[tuple[str, IPAddress]] = []
    for i, node in enumerate(known_items(props, "nodes")):
        address = _address(value(node, "ip"))
        if address is not None:
            taken.append((f"node IP nodes[{i}].ip {address}", address))
    gateway = _address(value(props, "network", "gateway"))
    if gateway is not None:
        taken.append((f"the gateway {gateway}", gateway))
    dhcp = [(str(r), s) for r in known_items(props, "network", "dhcpRanges") if (s := _range(r)) is not None]
    for part in (p.strip() for p in pool.split(",")):
        span = _range(part)
        if span is None:
            report(
                f"gateway-cluster:metallbRange part {part!r} is not a range 'first-last' or a CIDR. Write it "
                "as e.g. '10.20.30.50-10.20.30.59'.",
                None,
            )
            continue
        first, last = span
        if not (first.version == net.version and first in net and last in net):
            report(
                f"MetalLB range {part} (gateway-cluster:metallbRange) is not inside the nodes' subnet {net}: in "
                "layer-2 mode MetalLB can only answer for addresses on the nodes' own segment. Use addresses "
                f"in {net}.",
                None,
            )
        for label, address in taken:
            if _in_range(address, span):
                report(
                    f"MetalLB range {part} contains {label}: MetalLB would hand it out as a service address. "
                    "Narrow gateway-cluster:metallbRange.",
                    None,
                )
        for raw, dspan in dhcp:
            if _overlap(span, dspan):
                report(
                    f"MetalLB range {part} overlaps the DHCP range {raw}: both would hand out the same "
                    "addresses. Move gateway-cluster:metallbRange outside every DHCP range.",
                    None,
                )


# ------------------------------------------------------------------------------------------ the policies

POLICIES: Final[list[Policy]] = [
    StackValidationPolicy(
        name="ha-minimum-three-hosts",
        description="A gateway cluster is one node, or at least three nodes on at least three ESXi hosts.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_ha_minimum_three_hosts,
        config_schema=CONFIG_SCHEMAS["ha-minimum-three-hosts"],
    ),
    StackValidationPolicy(
        name="one-node-per-host",
        description="No two gateway VMs run on one ESXi host.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_one_node_per_host,
    ),
    ResourceValidationPolicy(
        name="static-ips-same-subnet",
        description="Node IPs and the floating IP are distinct host addresses in the configured subnet.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_static_ips_same_subnet,
    ),
    ResourceValidationPolicy(
        name="ips-outside-dhcp",
        description="No node IP or floating IP lies in a declared DHCP range.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_ips_outside_dhcp,
    ),
    ResourceValidationPolicy(
        name="node-size-minimum",
        description="Each gateway VM has at least the minimum vCPUs, memory and system disk.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_node_size_minimum,
        config_schema=CONFIG_SCHEMAS["node-size-minimum"],
    ),
    StackValidationPolicy(
        name="nfs-storage-for-multi-node",
        description="A multi-node cluster's storage release uses an NFS server and export path.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_nfs_storage_for_multi_node,
    ),
    ResourceValidationPolicy(
        name="nfs-storage-configured",
        description="A multi-node cluster's config names an NFS server and export path for its storage.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_nfs_storage_configured,
    ),
    ResourceValidationPolicy(
        name="unique-hostnames",
        description="Node hostnames are lowercase RFC 1123 labels, all distinct.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_unique_hostnames,
    ),
    ResourceValidationPolicy(
        name="ssh-host-keys-pinned",
        description="Each node's SSH host key is pinned.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate_ssh_host_keys_pinned,
    ),
    ResourceValidationPolicy(
        name="ova-over-https",
        description="The gateway OVA is downloaded over https.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate_ova_over_https,
    ),
    ResourceValidationPolicy(
        name="chart-versions-pinned",
        description="Helm releases pin one exact chart version.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate_chart_versions_pinned,
    ),
    ResourceValidationPolicy(
        name="metallb-range-in-subnet",
        description="MetalLB's pool is in the nodes' subnet, clear of DHCP, node IPs and the gateway.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate_metallb_range_in_subnet,
    ),
]
