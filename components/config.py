"""The stack's configuration: declared once, read once, validated before any resource is registered.

Everything the program accepts lives in the ``gateway-cluster:`` namespace of ``Pulumi.<stack>.yaml``.
:func:`parse` turns the raw values (plain JSON-like data) into frozen settings or raises :class:`ConfigError`
listing every problem, each naming the key, the bad value and the fix. :func:`load` reads the raw values
from ``pulumi.Config`` (secrets as ``Output`` secrets, never as plain strings) and calls :func:`parse`.

Only what the program cannot build is rejected here. The mission's rules (three hosts for HA, one node per
host, one subnet, minimum sizes, addresses outside DHCP, NFS for multi-node) are the policy pack's job
(``policies/``), so a structurally valid config that breaks them still builds and the pack reports it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import pulumi
import yaml

NAMESPACE = "gateway-cluster"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 1123 label, lowercase only: Kubernetes node names (which MicroK8s takes from the hostname) must be
# lowercase RFC 1123 names, so an uppercase hostname would register a node under a different name.
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

#: The OVA's vApp property keys for each field the program fills in, unless ``ova.properties`` says otherwise.
DEFAULT_OVA_PROPERTIES: Mapping[str, str] = {
    "hostname": "guestinfo.hostname",
    "ip": "guestinfo.ipaddress",
    "netmask": "guestinfo.netmask",
    "gateway": "guestinfo.gateway",
    "dns": "guestinfo.dns",
}


# --------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem with one key."""

    key: str
    """Full config path, e.g. ``gateway-cluster:nodes[1].ip``."""
    value: Any
    """The offending value as written (``"[secret]"`` for a secret key, ``None`` when missing)."""
    message: str
    """What is wrong and how to fix it."""

    def __str__(self) -> str:
        shown = "(missing)" if self.value is None else json.dumps(self.value, default=str)
        return f"{self.key} = {shown}: {self.message}"


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A ``RunError``, so ``pulumi up`` prints it without a traceback."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        count = len(self.issues)
        super().__init__(f"invalid stack configuration ({count} problem{'s' * (count != 1)}):\n{lines}")


def _key(path: str) -> str:
    return f"{NAMESPACE}:{path}"


_INDEX = re.compile(r"\[\d+\]")

#: Example values, by key path (list indexes left out), for messages about a missing key.
EXAMPLES: Mapping[str, str] = {
    "vsphere.datacenter": "dc-east",
    "vsphere.datastore": "vsanDatastore",
    "vsphere.network": "gw-mgmt-pg",
    "ova.version": "17.0.0",
    "network.cidr": "10.20.30.0/24",
    "network.gateway": "10.20.30.1",
    "network.dns": "[10.20.0.53]",
    "nodes.hostname": "gw-node-1",
    "nodes.esxiHost": "esx-01.example.com",
    "nodes.ip": "10.20.30.41",
    "storage.nfsServer": "nfs.example.com",
    "storage.nfsPath": "/exports/gateway",
}


class _Reader:
    """Walks the raw config, collecting every issue instead of stopping at the first one."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []

    def fail(self, path: str, value: Any, message: str) -> None:
        self.issues.append(ConfigIssue(_key(path), value, message))

    def obj(
        self, raw: Any, path: str, *, required: Sequence[str] = (), optional: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """A map with only the known keys; reports missing required keys and unknown keys (typos)."""
        if not isinstance(raw, Mapping):
            self.fail(path, raw, f"must be a map with keys {', '.join([*required, *optional])}.")
            return None
        known = [*required, *optional]
        for name in raw:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}."
                self.fail(f"{path}.{name}", _shown(str(name), raw[name]), f"unknown key; {hint}")
        for name in required:
            if raw.get(name) is None:
                example = EXAMPLES.get(_INDEX.sub("", f"{path}.{name}"))
                hint = f", e.g. {name}: {example}" if example else " (see the README's config reference)"
                self.fail(f"{path}.{name}", None, f"is required: add it under {_key(path)}{hint}.")
        return dict(raw)

    def string(self, raw: Any, path: str, *, example: str) -> str | None:
        if raw is None:
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            # `pulumi config set --path ova.version 17` stores the number 17, as YAML does for `version: 17`:
            # a whole number reads back as the same text. (A float would not: 17.10 arrives as 17.1.)
            return str(raw)
        if isinstance(raw, float):
            self.fail(path, raw, f"must be text: quote it (YAML reads 17.10 as the number 17.1), e.g. {example!r}.")
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.fail(path, raw, f"must be a non-empty string, e.g. {example!r}.")
            return None
        return raw.strip()

    def address(self, raw: Any, path: str) -> IPAddress | None:
        if raw is None:
            return None
        try:
            return ipaddress.ip_address(str(raw).strip()) if isinstance(raw, str) else _bad_ip(raw)
        except ValueError:
            self.fail(path, raw, "is not an IP address; write one address such as '10.20.30.41'.")
            return None

    def integer(self, raw: Any, path: str, *, default: int) -> int:
        if raw is None:
            return default
        if isinstance(raw, str) and raw.strip().isdecimal():
            # A quoted number (`cpus: "4"` in YAML, or set as a JSON string) is still the number.
            raw = int(raw.strip())
        # bool is an int in Python; "true" is never a size. Infinity and NaN (YAML `.inf`, `.nan`) are not
        # whole numbers either.
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int | float)
            or not math.isfinite(raw)
            or int(raw) != raw
            or raw <= 0
        ):
            self.fail(path, raw, f"must be a positive whole number (default {default}).")
            return default
        return int(raw)

    def choice(self, raw: Any, path: str, *, choices: Sequence[str], default: str, why: str) -> str | None:
        """One of ``choices`` (``default`` when unset); ``None`` after reporting anything else."""
        if raw is None:
            return default
        if isinstance(raw, str) and raw.strip() in choices:
            return raw.strip()
        options = ", ".join(repr(c) for c in choices)
        self.fail(
            path,
            raw,
            f"must be one of {options} (default {default!r}), {why}; `gatewayctl preflight` reads it from the OVA.",
        )
        return None

    def items(self, raw: Any, path: str, *, example: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(path, raw, f"must be a list, e.g. {example}.")
            return []
        return raw


#: Names under which a user plausibly put a credential: an unknown key so named is reported without its value.
_SECRET_LOOKING = re.compile(r"pass|secret|token|private|credential|apikey", re.IGNORECASE)


def _shown(name: str, value: Any) -> Any:
    """The value an error may echo for an unknown key: ``"[secret]"`` when the key looks like a credential
    (a typo of a secret key, a password put in a plain map), so no error message repeats one."""
    bare = name.rsplit(".", 1)[-1]
    return "[secret]" if _SECRET_LOOKING.search(bare) or bare in SECRET_KEYS else value


def _ordered(low: IPAddress, high: IPAddress) -> bool:
    """``low <= high``, both of one IP version (addresses of different versions are never ordered)."""
    return low.version == high.version and int(low) <= int(high)


def _bad_ip(raw: Any) -> IPAddress:
    raise ValueError(raw)


# ------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class VSphereSettings:
    """Where the nodes go, in vSphere's own vocabulary."""

    datacenter: str
    """Datacenter name."""
    datastore: str
    """Datastore for the VMs' disks (and the content library in ``library`` mode)."""
    network: str
    """Port group of the nodes' primary NIC."""
    cluster: str | None = None
    """Compute cluster; when set, a DRS anti-affinity rule keeps the nodes on separate hosts."""
    folder: str | None = None
    """VM folder path relative to the datacenter's VM folder."""
    resource_pool: str | None = None
    """Resource pool path; default: the cluster's (or the host's) root pool."""


DeployMode = Literal["library", "ovf"]
Firmware = Literal["bios", "efi"]

#: The VM hardware the vSphere provider sets after every deploy and clone from its own inputs, whatever the OVA
#: says (terraform-provider-vsphere: `firmware` defaults to bios, `scsi_type` to pvscsi, a NIC's `adapter_type`
#: to vmxnet3; docs/upstream-facts.md). The program pins each to ``ova.firmware``/``ova.scsiType``/
#: ``ova.nicType``; these are the defaults, which are the provider's own: the vendor's OVA descriptor is not
#: public, so `gatewayctl preflight` (check ``ova.hardware``) reads it and fails when a value differs.
FIRMWARE_TYPES: tuple[str, ...] = ("bios", "efi")
#: The SCSI controller types the provider accepts (virtualdevice.SCSIBusTypeAllowedValues).
SCSI_TYPES: tuple[str, ...] = ("pvscsi", "lsilogic", "lsilogic-sas")
#: The NIC types the provider accepts for a plain port group NIC (its allowed values less `sriov`, which needs
#: a physical function the program does not configure).
NIC_TYPES: tuple[str, ...] = ("vmxnet3", "e1000e", "e1000", "vmxnet3vrdma")
DEFAULT_FIRMWARE: Firmware = "bios"
DEFAULT_SCSI_TYPE = "pvscsi"
DEFAULT_NIC_TYPE = "vmxnet3"


@dataclass(frozen=True)
class OvaSettings:
    """The vendor's gateway appliance image."""

    version: str
    """The image version, shown in names and annotations."""
    url: str | None = None
    """An http(s) URL vCenter (library mode) or the provider (ovf mode) downloads the OVA from."""
    path: str | None = None
    """A local .ova/.ovf file on the machine that runs ``pulumi``."""
    deploy: DeployMode = "library"
    """``library``: one content library item, every node cloned from it; ``ovf``: each node deployed from the OVA."""
    properties: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OVA_PROPERTIES))
    """Our field (hostname, ip, netmask, gateway, dns) to the OVA's vApp property key."""
    ovf_network: str = "VM Network"
    """The OVF's network name, mapped onto ``vsphere.network``."""
    firmware: Firmware = DEFAULT_FIRMWARE
    """The OVA's firmware (``bios``|``efi``): the provider would otherwise set ``bios`` on every VM."""
    scsi_type: str = DEFAULT_SCSI_TYPE
    """The OVA's SCSI controller type: the provider would otherwise convert the controllers to ``pvscsi``."""
    nic_type: str = DEFAULT_NIC_TYPE
    """The OVA's NIC type: the provider would otherwise give the VM a ``vmxnet3`` NIC."""

    @property
    def source(self) -> str:
        """The URL or path, whichever is set."""
        return self.url or self.path or ""


@dataclass(frozen=True)
class NetworkSettings:
    """The nodes' subnet. Node IPs and the floating IP are static and must be outside every DHCP pool."""

    cidr: IPNetwork
    gateway: IPAddress
    dns: tuple[IPAddress, ...]
    dhcp_ranges: tuple[tuple[IPAddress, IPAddress], ...] = ()

    @property
    def netmask(self) -> str:
        return str(self.cidr.netmask)


@dataclass(frozen=True)
class NodeSettings:
    """One gateway node: one VM on one ESXi host."""

    hostname: str
    esxi_host: str
    ip: IPAddress
    ssh_host_key: str | None = None
    """The node's SSH host public key (``ssh-ed25519 AAAA...``); pins the connection when set."""


@dataclass(frozen=True)
class NodeSize:
    cpus: int = 4
    memory_mb: int = 8192
    disk_gb: int = 40


@dataclass(frozen=True)
class StorageSettings:
    nfs_server: str
    nfs_path: str


#: The vendor's OCI registry for the gateway charts. An example value, like the pinned versions below: use
#: the registry and the versions the vendor's run-book names for your gateway release.
DEFAULT_CHART_REPOSITORY = "oci://us-docker.pkg.dev/opsramp-registry/gateway-cluster-charts"
#: Per chart role: the chart's name and its pinned default version.
DEFAULT_CHARTS: Mapping[str, tuple[str, str]] = {
    "storage": ("gateway-persistent-storage", "1.0.0"),
    "manager": ("gateway-manager", "1.0.0"),
}


@dataclass(frozen=True)
class ChartSettings:
    """One Helm chart: which chart, exactly which version, and an optional values file."""

    chart: str
    """The chart's name in the repository, or its folder under ``charts.directory``."""
    version: str
    """The exact chart version: pinned, never a range, so a new chart release changes nothing by itself."""
    values_file: str | None = None
    """A YAML values file on the machine that runs ``pulumi`` (for storage: the vendor's ``cluster.yaml``)."""


@dataclass(frozen=True)
class ChartsSettings:
    """Where the two gateway charts come from: an OCI repository, or a local folder of exported charts."""

    storage: ChartSettings = field(default_factory=lambda: ChartSettings(*DEFAULT_CHARTS["storage"]))
    """The gateway-persistent-storage chart."""
    manager: ChartSettings = field(default_factory=lambda: ChartSettings(*DEFAULT_CHARTS["manager"]))
    """The gateway-manager chart."""
    repository: str | None = DEFAULT_CHART_REPOSITORY
    """An ``oci://`` repository (the vendor's registry or a mirror); ``None`` when ``directory`` is set."""
    directory: str | None = None
    """A local folder with one folder per chart, as ``helm chart export`` wrote them."""

    def reference(self, chart: ChartSettings) -> str:
        """What Helm installs: ``oci://<repository>/<chart>`` or ``<directory>/<chart>``."""
        if self.directory is not None:
            return f"{self.directory.rstrip('/')}/{chart.chart}"
        return f"{(self.repository or DEFAULT_CHART_REPOSITORY).rstrip('/')}/{chart.chart}"


RegistrationMethod = Literal["platform", "token", "skip"]


@dataclass(frozen=True)
class RegistrationSettings:
    """How the cluster registers with the tenant (README: "Gateway services and registration")."""

    server: str
    """The tenant's API host (``acme.api.opsramp.com``): the registration's ``opsRampServer`` and the address
    of the platform API."""
    method: RegistrationMethod
    """``platform``: a management profile through the platform API (client key and secret set);
    ``token``: the ``activationToken`` secret; ``skip``: neither is set, so nothing registers."""
    manager_user: str = "admin"
    """The Gateway Manager's user; its password is the ``managerPassword`` secret."""
    tenant_id: str | None = None
    """The tenant (client) ID whose management profiles the platform API manages."""
    profile_id: str | None = None
    """An existing gateway management profile to attach (a migration from a classic gateway)."""
    profile_name: str | None = None
    """The name of a gateway management profile to create."""
    ca_cert: str | None = None
    """PEM certificate the appliance must present (or have been signed by); unset: accepted unverified."""
    platform_ca_cert: str | None = None
    """PEM CA for the platform API (a TLS-inspecting proxy); unset: the system's trusted CAs."""
    wait_seconds: int = 900
    """How long registration waits for the Gateway Manager to answer."""


@dataclass(frozen=True)
class Settings:
    """Everything non-secret the program builds from, validated."""

    vsphere: VSphereSettings
    ova: OvaSettings
    network: NetworkSettings
    floating_ip: IPAddress
    nodes: tuple[NodeSettings, ...]
    primary: str
    """Hostname of the node that issues join tokens and serves the kubeconfig."""
    node_size: NodeSize
    storage: StorageSettings | None
    ssh_user: str
    metallb_range: str
    """What ``microk8s enable metallb:`` gets; default: the floating IP alone."""
    charts: ChartsSettings = field(default_factory=ChartsSettings)
    """Where the storage and manager charts come from, pinned."""
    registration: RegistrationSettings | None = None
    """Registration with the tenant; ``None`` when ``registration`` is not set (nothing registers)."""

    @property
    def primary_node(self) -> NodeSettings:
        return next(n for n in self.nodes if n.hostname == self.primary)


@dataclass(frozen=True)
class Secrets:
    """The secret inputs, as Pulumi secrets. ``None`` where the optional secret is not set."""

    manager_password: pulumi.Output[str]
    ssh_private_key: pulumi.Output[str] | None = None
    ssh_password: pulumi.Output[str] | None = None
    activation_token: pulumi.Output[str] | None = None
    registration_client_key: pulumi.Output[str] | None = None
    """The platform API client key (``registrationClientKey``)."""
    registration_client_secret: pulumi.Output[str] | None = None
    """The platform API client secret (``registrationClientSecret``)."""


@dataclass(frozen=True)
class StackConfig:
    settings: Settings
    secrets: Secrets


# ------------------------------------------------------------------------------------------ the keys

#: Secret keys, and whether the program needs them (``sshPrivateKey``/``sshPassword``: at least one).
SECRET_KEYS: Mapping[str, str] = {
    "sshPrivateKey": "the SSH private key (OpenSSH or PEM) for sshUser; or set sshPassword",
    "sshPassword": "the password of sshUser, for SSH and sudo; or set sshPrivateKey",
    "managerPassword": "the Gateway Manager's admin password (chart value secrets.defaultPassword)",
    "activationToken": "the management profile's activation token (optional: without it, no registration)",
    # Top-level secret keys rather than fields of the plain `registration` map: a secret inside an object
    # makes the whole object a secret, and the map's other fields must stay readable at preview.
    "registrationClientKey": "the platform API client key for management profiles (optional; with tenantId)",
    "registrationClientSecret": "the platform API client secret for management profiles (optional; with tenantId)",
}
REQUIRED_SECRETS: tuple[str, ...] = ("managerPassword",)
ONE_OF_SECRETS: tuple[str, ...] = ("sshPrivateKey", "sshPassword")

#: Non-secret keys, read as JSON values (maps and lists) or strings.
OBJECT_KEYS: tuple[str, ...] = (
    "vsphere",
    "ova",
    "network",
    "nodes",
    "nodeSize",
    "storage",
    "charts",
    "registration",
)
STRING_KEYS: tuple[str, ...] = ("floatingIp", "primary", "sshUser", "metallbRange")
KNOWN_KEYS: tuple[str, ...] = (*OBJECT_KEYS, *STRING_KEYS, *SECRET_KEYS)


# -------------------------------------------------------------------------------------------- parsing


def _vsphere(r: _Reader, raw: Any) -> VSphereSettings | None:
    if raw is None:
        r.fail("vsphere", None, "is required: a map with datacenter, datastore and network.")
        return None
    m = r.obj(
        raw,
        "vsphere",
        required=("datacenter", "datastore", "network"),
        optional=("cluster", "folder", "resourcePool"),
    )
    if m is None:
        return None
    s = {k: r.string(m.get(k), f"vsphere.{k}", example=ex) for k, ex in _VSPHERE_EXAMPLES.items()}
    if not (s["datacenter"] and s["datastore"] and s["network"]):
        return None
    return VSphereSettings(
        datacenter=s["datacenter"],
        datastore=s["datastore"],
        network=s["network"],
        cluster=s["cluster"],
        folder=s["folder"],
        resource_pool=s["resourcePool"],
    )


_VSPHERE_EXAMPLES = {
    "datacenter": "dc-east",
    "datastore": "vsanDatastore",
    "network": "VM Network",
    "cluster": "compute-01",
    "folder": "gateways/prod",
    "resourcePool": "compute-01/Resources/gateways",
}


def _ova(r: _Reader, raw: Any) -> OvaSettings | None:
    if raw is None:
        r.fail("ova", None, "is required: a map with version and exactly one of url or path.")
        return None
    m = r.obj(
        raw,
        "ova",
        required=("version",),
        optional=("url", "path", "deploy", "properties", "ovfNetwork", "firmware", "scsiType", "nicType"),
    )
    if m is None:
        return None
    version = r.string(m.get("version"), "ova.version", example="17.0.0")
    url = r.string(m.get("url"), "ova.url", example="https://downloads.example.com/gateway-17.0.0.ova")
    path = r.string(m.get("path"), "ova.path", example="/srv/images/gateway-17.0.0.ova")
    ok = True
    has_url, has_path = m.get("url") is not None, m.get("path") is not None
    if has_url == has_path:
        r.fail(
            "ova",
            {"url": m.get("url"), "path": m.get("path")} if has_url else None,
            "set exactly one of ova.url (an https URL) or ova.path (a local .ova file), not "
            + ("both." if has_url else "neither."),
        )
        ok = False
    # The vSphere provider tells an OVA (a tar archive) from a bare OVF descriptor by the source's last four
    # characters, case-sensitively: a URL ending in a query string or a file named .OVA would be read as an
    # OVF descriptor and fail halfway through `pulumi up`.
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            r.fail("ova.url", url, "must be an http(s) URL to the .ova file, e.g. 'https://host/gateway.ova'.")
            ok = False
        elif not url.endswith((".ova", ".ovf")):
            r.fail(
                "ova.url",
                url,
                "must end in '.ova' or '.ovf' (lowercase, no query string): the vSphere provider decides by the "
                "ending whether it fetches an OVA or an OVF. Download the file and set ova.path, or use a URL "
                "that ends in .ova.",
            )
            ok = False
    if path is not None and not path.endswith((".ova", ".ovf")):
        r.fail(
            "ova.path",
            path,
            "must name a .ova or .ovf file, the ending in lowercase (the vSphere provider decides by the ending "
            "whether it reads an OVA or an OVF): rename the file if needed.",
        )
        ok = False
    deploy = m.get("deploy", "library")
    if deploy not in ("library", "ovf"):
        r.fail("ova.deploy", deploy, "must be 'library' (one content library item for all nodes) or 'ovf'.")
        ok = False
    properties = dict(DEFAULT_OVA_PROPERTIES)
    props_raw = m.get("properties")
    if props_raw is not None:
        pm = r.obj(props_raw, "ova.properties", optional=tuple(DEFAULT_OVA_PROPERTIES))
        for name, key in (pm or {}).items():
            if name in DEFAULT_OVA_PROPERTIES:
                value = r.string(key, f"ova.properties.{name}", example=DEFAULT_OVA_PROPERTIES[name])
                if value is None:
                    ok = False
                else:
                    properties[name] = value
    ovf_network = r.string(m.get("ovfNetwork"), "ova.ovfNetwork", example="VM Network")
    hardware = {
        key: r.choice(m.get(key), f"ova.{key}", choices=choices, default=default, why=why)
        for key, choices, default, why in (
            ("firmware", FIRMWARE_TYPES, DEFAULT_FIRMWARE, "the firmware in the OVA's descriptor"),
            ("scsiType", SCSI_TYPES, DEFAULT_SCSI_TYPE, "the SCSI controller type in the OVA's descriptor"),
            ("nicType", NIC_TYPES, DEFAULT_NIC_TYPE, "the NIC type in the OVA's descriptor"),
        )
    }
    if not ok or version is None or None in hardware.values():
        return None
    return OvaSettings(
        version=version,
        url=url,
        path=path,
        deploy=deploy,
        properties=properties,
        ovf_network=ovf_network or "VM Network",
        firmware="efi" if hardware["firmware"] == "efi" else "bios",
        scsi_type=str(hardware["scsiType"]),
        nic_type=str(hardware["nicType"]),
    )


def _network(r: _Reader, raw: Any) -> NetworkSettings | None:
    if raw is None:
        r.fail("network", None, "is required: a map with cidr, gateway and dns.")
        return None
    m = r.obj(raw, "network", required=("cidr", "gateway", "dns"), optional=("dhcpRanges",))
    if m is None:
        return None
    cidr: IPNetwork | None = None
    cidr_raw = m.get("cidr")
    if cidr_raw is not None:
        try:
            cidr = ipaddress.ip_network(str(cidr_raw).strip(), strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(str(cidr_raw).strip(), strict=False)
                r.fail("network.cidr", cidr_raw, f"has host bits set; write the network address: '{loose}'.")
            except ValueError:
                r.fail("network.cidr", cidr_raw, "is not a subnet in CIDR form, e.g. '10.20.30.0/24'.")
    gateway = r.address(m.get("gateway"), "network.gateway")
    dns: list[IPAddress] = []
    dns_raw = m.get("dns")
    if isinstance(dns_raw, str):
        dns_raw = [dns_raw]
    dns_items = r.items(dns_raw, "network.dns", example="['10.20.0.53']")
    if dns_raw is not None and not dns_items and isinstance(dns_raw, list):
        r.fail("network.dns", dns_raw, "needs at least one DNS server address.")
    for i, item in enumerate(dns_items):
        address = r.address(item, f"network.dns[{i}]")
        if address is not None:
            dns.append(address)
    ranges: list[tuple[IPAddress, IPAddress]] = []
    for i, item in enumerate(
        r.items(m.get("dhcpRanges"), "network.dhcpRanges", example="['10.20.30.100-10.20.30.199']")
    ):
        parsed = _range(r, item, f"network.dhcpRanges[{i}]")
        if parsed is not None:
            ranges.append(parsed)
    if cidr is None or gateway is None or len(dns) != len(dns_items) or not dns:
        return None
    return NetworkSettings(cidr=cidr, gateway=gateway, dns=tuple(dns), dhcp_ranges=tuple(ranges))


def _range(r: _Reader, raw: Any, path: str) -> tuple[IPAddress, IPAddress] | None:
    parts = raw.split("-") if isinstance(raw, str) else []
    try:
        if len(parts) != 2:
            raise ValueError(raw)
        first, last = ipaddress.ip_address(parts[0].strip()), ipaddress.ip_address(parts[1].strip())
    except ValueError:
        r.fail(path, raw, "must be a range 'first-last' of two addresses, e.g. '10.20.30.100-10.20.30.199'.")
        return None
    if not _ordered(first, last):
        r.fail(path, raw, "must run from the lower address to the higher one, both of one IP version.")
        return None
    return first, last


def _nodes(r: _Reader, raw: Any) -> list[NodeSettings] | None:
    example = "[{hostname: gw-node-1, esxiHost: esx-01.example.com, ip: 10.20.30.41}]"
    if raw is None:
        r.fail("nodes", None, f"is required: a list of nodes, e.g. {example}.")
        return None
    items = r.items(raw, "nodes", example=example)
    if isinstance(raw, list) and not raw:
        r.fail("nodes", raw, "needs at least one node.")
    nodes: list[NodeSettings] = []
    ok = isinstance(raw, list)
    for i, item in enumerate(items):
        path = f"nodes[{i}]"
        m = r.obj(item, path, required=("hostname", "esxiHost", "ip"), optional=("sshHostKey",))
        if m is None:
            ok = False
            continue
        hostname = r.string(m.get("hostname"), f"{path}.hostname", example="gw-node-1")
        if hostname is not None and not _HOSTNAME.match(hostname):
            r.fail(
                f"{path}.hostname",
                hostname,
                "is not a lowercase RFC 1123 label: 1-63 characters a-z, 0-9 and '-', "
                "starting and ending with a letter or digit (e.g. 'gw-node-1').",
            )
            hostname = None
        esxi = r.string(m.get("esxiHost"), f"{path}.esxiHost", example="esx-01.example.com")
        ip = r.address(m.get("ip"), f"{path}.ip")
        key = r.string(m.get("sshHostKey"), f"{path}.sshHostKey", example="ssh-ed25519 AAAAC3Nza...")
        if key is not None and not re.match(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+", key):
            r.fail(f"{path}.sshHostKey", key, "must be a public host key line, e.g. 'ssh-ed25519 AAAAC3Nza...'.")
            key = None
        if hostname is None or esxi is None or ip is None:
            ok = False
            continue
        nodes.append(NodeSettings(hostname=hostname, esxi_host=esxi, ip=ip, ssh_host_key=key))
    return nodes if ok else None


def _node_size(r: _Reader, raw: Any) -> NodeSize:
    if raw is None:
        return NodeSize()
    m = r.obj(raw, "nodeSize", optional=("cpus", "memoryMb", "diskGb")) or {}
    default = NodeSize()
    size = NodeSize(
        cpus=r.integer(m.get("cpus"), "nodeSize.cpus", default=default.cpus),
        memory_mb=r.integer(m.get("memoryMb"), "nodeSize.memoryMb", default=default.memory_mb),
        disk_gb=r.integer(m.get("diskGb"), "nodeSize.diskGb", default=default.disk_gb),
    )
    if size.memory_mb % 4:
        # vSphere rejects a memory size that is not a multiple of 4 MB when the VM is created.
        r.fail("nodeSize.memoryMb", m.get("memoryMb"), "must be a multiple of 4 (vSphere's rule), e.g. 8192.")
    return size


def _storage(r: _Reader, raw: Any) -> StorageSettings | None:
    if raw is None:
        return None
    m = r.obj(raw, "storage", required=("nfsServer", "nfsPath"))
    if m is None:
        return None
    server = r.string(m.get("nfsServer"), "storage.nfsServer", example="nfs.example.com")
    path = r.string(m.get("nfsPath"), "storage.nfsPath", example="/exports/gateway")
    if path is not None and not path.startswith("/"):
        r.fail("storage.nfsPath", path, "must be the export's absolute path, e.g. '/exports/gateway'.")
        return None
    if server is None or path is None:
        return None
    return StorageSettings(nfs_server=server, nfs_path=path)


def _duplicates(values: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str, str]]:
    """Yields (path, value, first_path) for each value already seen."""
    seen: dict[str, str] = {}
    for path, value in values:
        if value in seen:
            yield path, value, seen[value]
        else:
            seen[value] = path


def _metallb_range(r: _Reader, raw: Any, floating: IPAddress | None) -> str | None:
    if raw is None:
        return f"{floating}-{floating}" if floating is not None else None
    text = r.string(raw, "metallbRange", example="10.20.30.50-10.20.30.59")
    if text is None:
        return None
    covered = False
    for part in text.split(","):
        part = part.strip()
        try:
            if "/" in part:
                net = ipaddress.ip_network(part, strict=True)
                covered |= floating is not None and floating in net
            else:
                first_s, last_s = part.split("-")
                first, last = ipaddress.ip_address(first_s.strip()), ipaddress.ip_address(last_s.strip())
                if not _ordered(first, last):
                    raise ValueError(part)
                covered |= floating is not None and _ordered(first, floating) and _ordered(floating, last)
        except ValueError:
            r.fail(
                "metallbRange",
                raw,
                "must be comma-separated ranges 'first-last' or CIDRs, e.g. '10.20.30.50-10.20.30.59'.",
            )
            return None
    if floating is not None and not covered:
        r.fail(
            "metallbRange",
            raw,
            f"must contain the floating IP {floating}, which MetalLB serves the manager on.",
        )
        return None
    return ",".join(p.strip() for p in text.split(","))


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _chart(r: _Reader, raw: Any, role: str) -> ChartSettings | None:
    default_chart, default_version = DEFAULT_CHARTS[role]
    if raw is None:
        return ChartSettings(default_chart, default_version)
    path = f"charts.{role}"
    m = r.obj(raw, path, optional=("chart", "version", "valuesFile"))
    if m is None:
        return None
    chart = r.string(m.get("chart"), f"{path}.chart", example=default_chart) or default_chart
    version = r.string(m.get("version"), f"{path}.version", example=default_version)
    if version is not None and not _EXACT_VERSION.match(version):
        r.fail(
            f"{path}.version",
            version,
            f"must be one exact chart version such as '{default_version}' (no ranges, no 'latest'), so that "
            "a new chart release changes nothing until you pin it here.",
        )
        return None
    values_file = r.string(m.get("valuesFile"), f"{path}.valuesFile", example="/srv/gateway/cluster.yaml")
    if m.get("version") is not None and version is None:
        return None
    return ChartSettings(chart=chart, version=version or default_version, values_file=values_file)


def _charts(r: _Reader, raw: Any) -> ChartsSettings | None:
    if raw is None:
        return ChartsSettings()
    m = r.obj(raw, "charts", optional=("repository", "directory", "storage", "manager"))
    if m is None:
        return None
    repository = r.string(m.get("repository"), "charts.repository", example=DEFAULT_CHART_REPOSITORY)
    directory = r.string(m.get("directory"), "charts.directory", example="/srv/gateway-charts")
    ok = True
    if m.get("repository") is not None and m.get("directory") is not None:
        r.fail(
            "charts",
            {"repository": m.get("repository"), "directory": m.get("directory")},
            "set one of charts.repository (an oci:// registry) or charts.directory (charts exported with "
            "`helm chart export`), not both.",
        )
        ok = False
    if repository is not None and not repository.startswith("oci://"):
        r.fail(
            "charts.repository",
            repository,
            f"must be an OCI repository URL, e.g. '{DEFAULT_CHART_REPOSITORY}'; for charts on disk use "
            "charts.directory.",
        )
        ok = False
    storage = _chart(r, m.get("storage"), "storage")
    manager = _chart(r, m.get("manager"), "manager")
    if not ok or storage is None or manager is None:
        return None
    if directory is not None:
        return ChartsSettings(storage=storage, manager=manager, repository=None, directory=directory)
    return ChartsSettings(storage=storage, manager=manager, repository=repository or DEFAULT_CHART_REPOSITORY)


def _api_host(r: _Reader, raw: Any, path: str) -> str | None:
    example = "acme.api.opsramp.com"
    text = r.string(raw, path, example=example)
    if text is None:
        return None
    parsed = urlparse(text if "://" in text else f"//{text}")
    bare = parsed.netloc
    try:
        port_ok = parsed.port is None or 0 < parsed.port < 65536
    except ValueError:
        port_ok = False
    host_ok = bool(parsed.hostname) and port_ok and "@" not in bare
    if "://" in text or parsed.path not in ("", "/") or not host_ok:
        # A URL of a good host: suggest the host itself; anything else: the example.
        hint = bare if host_ok else example
        r.fail(
            path,
            raw,
            f"must be the tenant's API host alone, optionally with a port (no https://, no path, no user), "
            f"e.g. '{hint}'.",
        )
        return None
    return bare


def _pem(r: _Reader, raw: Any, path: str) -> str | None:
    if raw is None:
        return None
    ok = isinstance(raw, str) and "-----BEGIN CERTIFICATE-----" in raw
    if ok:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=raw)
        except (ssl.SSLError, ValueError):
            ok = False
    if not ok:
        shown = raw[:40] + "..." if isinstance(raw, str) and len(raw) > 40 else raw
        r.fail(
            path,
            shown,
            "must be a PEM certificate ('-----BEGIN CERTIFICATE-----' ...), e.g. set with "
            f"`pulumi config set --path '{path}' \"$(cat cert.pem)\"`.",
        )
        return None
    return str(raw)


def _registration(r: _Reader, raw: Any, secrets_present: Mapping[str, bool]) -> RegistrationSettings | None:
    has_token = bool(secrets_present.get("activationToken"))
    has_key = bool(secrets_present.get("registrationClientKey"))
    has_secret = bool(secrets_present.get("registrationClientSecret"))
    if raw is None:
        if has_token or has_key or has_secret:
            r.fail(
                "registration",
                None,
                "is required to register: a map with server, the tenant's API host, e.g. "
                "{server: acme.api.opsramp.com}. Or unset activationToken and the registrationClient* secrets.",
            )
        return None
    if isinstance(raw, Mapping):
        raw = dict(raw)
        for name, key in (("clientKey", "registrationClientKey"), ("clientSecret", "registrationClientSecret")):
            if name in raw:
                raw.pop(name)
                r.fail(
                    f"registration.{name}",
                    "[secret]",
                    f"must not sit in the plain registration map, where it would be stored unencrypted: remove it "
                    f"and run `pulumi config set --secret {key}`.",
                )
    m = r.obj(
        raw,
        "registration",
        required=("server",),
        optional=("managerUser", "tenantId", "profileId", "profileName", "caCert", "platformCaCert", "waitSeconds"),
    )
    if m is None:
        return None
    server = _api_host(r, m.get("server"), "registration.server")
    user = r.string(m.get("managerUser"), "registration.managerUser", example="admin") or "admin"
    tenant = r.string(m.get("tenantId"), "registration.tenantId", example="client_12345")
    profile_id = r.string(m.get("profileId"), "registration.profileId", example="a1b2c3d4-...")
    profile_name = r.string(m.get("profileName"), "registration.profileName", example="gateway-cluster-prod")
    ca_cert = _pem(r, m.get("caCert"), "registration.caCert")
    platform_ca = _pem(r, m.get("platformCaCert"), "registration.platformCaCert")
    wait = r.integer(m.get("waitSeconds"), "registration.waitSeconds", default=900)

    platform = has_key and has_secret
    if has_key != has_secret:
        missing = "registrationClientSecret" if has_key else "registrationClientKey"
        r.fail(
            missing,
            None,
            f"is required with the other platform API credential: `pulumi config set --secret {missing}`.",
        )
    if platform:
        if has_token:
            r.fail(
                "activationToken",
                "[secret]",
                "set either activationToken or the platform API credentials (registrationClientKey/Secret), not "
                "both: with the credentials the program gets the activation token from the management profile.",
            )
        if tenant is None and m.get("tenantId") is None:
            r.fail("registration.tenantId", None, "is required with the platform API credentials: your tenant's ID.")
        if (m.get("profileId") is None) == (m.get("profileName") is None):
            r.fail(
                "registration",
                {"profileId": m.get("profileId"), "profileName": m.get("profileName")},
                "set one of registration.profileId (attach an existing management profile, e.g. the classic "
                "gateway's) or registration.profileName (create a new one), not "
                + ("both." if m.get("profileId") is not None else "neither."),
            )
    elif not (has_key or has_secret):
        for name in ("tenantId", "profileId", "profileName", "platformCaCert"):
            if m.get(name) is not None:
                r.fail(
                    f"registration.{name}",
                    m.get(name),
                    "is only used with the platform API credentials: set the secrets registrationClientKey and "
                    "registrationClientSecret, or remove it and set the activationToken secret.",
                )
    if server is None:
        return None
    method: RegistrationMethod = "platform" if platform else "token" if has_token else "skip"
    return RegistrationSettings(
        server=server,
        method=method,
        manager_user=user,
        tenant_id=tenant,
        profile_id=profile_id,
        profile_name=profile_name,
        ca_cert=ca_cert,
        platform_ca_cert=platform_ca,
        wait_seconds=wait,
    )


def parse(
    raw: Mapping[str, Any],
    *,
    secrets_present: Mapping[str, bool],
    other_keys: Mapping[str, Any] | None = None,
) -> Settings:
    """Validates the raw ``gateway-cluster:`` values (keys without the namespace) into :class:`Settings`.

    ``secrets_present`` says which secret keys are set (their values are never looked at here);
    ``other_keys`` are any further keys set in the namespace: each is a typo or a stale key, and an error.
    Raises :class:`ConfigError` with every issue found.
    """
    r = _Reader()
    for key, value in (other_keys or {}).items():
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "remove it (see the README's config reference)."
        shown = "[secret]" if close and close[0] in SECRET_KEYS else _shown(key, value)
        r.fail(key, shown, f"is not a key of this program; {hint}")
    vsphere = _vsphere(r, raw.get("vsphere"))
    ova = _ova(r, raw.get("ova"))
    network = _network(r, raw.get("network"))
    floating_raw = raw.get("floatingIp")
    if floating_raw is None:
        r.fail("floatingIp", None, "is required: the Gateway Manager's address, served by MetalLB.")
    floating = r.address(floating_raw, "floatingIp")
    nodes = _nodes(r, raw.get("nodes"))
    node_size = _node_size(r, raw.get("nodeSize"))
    storage = _storage(r, raw.get("storage"))
    ssh_user = r.string(raw.get("sshUser"), "sshUser", example="gateway-admin")
    if raw.get("sshUser") is None:
        r.fail("sshUser", None, "is required: the appliance's (non-root) login user.")
    metallb = _metallb_range(r, raw.get("metallbRange"), floating)
    charts = _charts(r, raw.get("charts"))
    registration = _registration(r, raw.get("registration"), secrets_present)

    if nodes:
        for path, value, first in _duplicates((f"nodes[{i}].hostname", n.hostname) for i, n in enumerate(nodes)):
            r.fail(path, value, f"duplicates {_key(first)}; every node needs its own hostname.")
        addresses = [(f"nodes[{i}].ip", str(n.ip)) for i, n in enumerate(nodes)]
        if floating is not None:
            addresses.append(("floatingIp", str(floating)))
        for path, value, first in _duplicates(iter(addresses)):
            r.fail(path, value, f"duplicates {_key(first)}; node IPs and the floating IP must all differ.")
        if len(nodes) > 1:
            for i, n in enumerate(nodes):
                if n.ip.version == 6:
                    # canonical/microk8s common/cluster/utils.py get_valid_connection_parts: "<master_IP>:<port>/..."
                    # split on ':' must give two parts and the IP must parse: an IPv6 address never does.
                    r.fail(
                        f"nodes[{i}].ip",
                        str(n.ip),
                        "is IPv6, but `microk8s join` accepts only an IPv4 address for the node it joins, so the "
                        "nodes of a multi-node cluster need IPv4 addresses: use an IPv4 subnet (or a single node).",
                    )
    primary = raw.get("primary")
    if primary is not None:
        primary = r.string(primary, "primary", example="gw-node-1")
        if nodes and primary is not None and primary not in {n.hostname for n in nodes}:
            names = ", ".join(n.hostname for n in nodes)
            r.fail(
                "primary",
                primary,
                f"is not one of the nodes ({names}). To remove the primary node, first make another node "
                "primary, apply, then remove it.",
            )
    elif nodes:
        primary = nodes[0].hostname

    missing = [k for k in REQUIRED_SECRETS if not secrets_present.get(k)]
    for k in missing:
        r.fail(k, None, f"is required: {SECRET_KEYS[k]}. Set it with `pulumi config set --secret {k}`.")
    if not any(secrets_present.get(k) for k in ONE_OF_SECRETS):
        r.fail(
            "sshPrivateKey",
            None,
            "set one of sshPrivateKey or sshPassword: `pulumi config set --secret sshPrivateKey < key`.",
        )

    if r.issues:
        raise ConfigError(r.issues)
    assert vsphere and ova and network and floating and nodes and primary and ssh_user and metallb and charts
    return Settings(
        vsphere=vsphere,
        ova=ova,
        network=network,
        floating_ip=floating,
        nodes=tuple(nodes),
        primary=primary,
        node_size=node_size,
        storage=storage,
        ssh_user=ssh_user,
        metallb_range=metallb,
        charts=charts,
        registration=registration,
    )


def read_raw(config: pulumi.Config) -> dict[str, Any]:
    """The non-secret values as JSON-like data. A map or list that is not valid JSON is kept as its text,
    so :func:`parse` reports it against its key."""
    raw: dict[str, Any] = {}
    for key in (*OBJECT_KEYS, *STRING_KEYS):
        text = config.get(key)
        if text is None:
            continue
        raw[key] = _json_or_text(text) if key in OBJECT_KEYS else text
    return raw


def chart_file_issues(charts: ChartsSettings, base: Path) -> list[ConfigIssue]:
    """Problems with the local files the chart settings name (relative paths from ``base``, the project).

    Checked before anything is registered, because Helm would otherwise fail halfway through an update with
    an error that names no config key. A local chart's version is Helm's to ignore, so the pin is enforced
    here: the exported chart must be the version the config pins.
    """
    issues: list[ConfigIssue] = []
    for role, chart in (("storage", charts.storage), ("manager", charts.manager)):
        if chart.values_file is not None and not (base / chart.values_file).is_file():
            issues.append(
                ConfigIssue(
                    _key(f"charts.{role}.valuesFile"),
                    chart.values_file,
                    "is not a file on this machine; give the path of the YAML values file (relative paths start "
                    "at the project folder).",
                )
            )
        if charts.directory is not None:
            issues.extend(_local_chart_issues(charts, role, chart, base))
    return issues


def _local_chart_issues(charts: ChartsSettings, role: str, chart: ChartSettings, base: Path) -> list[ConfigIssue]:
    folder = base / charts.reference(chart)
    manifest = folder / "Chart.yaml"
    if not manifest.is_file():
        return [
            ConfigIssue(
                _key("charts.directory"),
                charts.directory,
                f"has no chart {chart.chart!r} ({manifest} is missing): export it there with `helm chart "
                f"export <registry>/{chart.chart}:{chart.version} --destination {charts.directory}`.",
            )
        ]
    try:
        data = yaml.safe_load(manifest.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [ConfigIssue(_key("charts.directory"), charts.directory, f"{manifest} cannot be read: {exc}.")]
    found = str(data.get("version")) if isinstance(data, dict) else None
    if found != chart.version.lstrip("v") and found != chart.version:
        return [
            ConfigIssue(
                _key(f"charts.{role}.version"),
                chart.version,
                f"does not match the exported chart in {folder} (version {found}): pin {found!r} or export "
                f"version {chart.version} there.",
            )
        ]
    return []


def _json_or_text(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return text


def _other_keys() -> dict[str, Any]:
    """Keys set in this namespace that the program does not know (typos such as ``nodesize``), with values."""
    # Config reaches a program through the runtime's map (set by the language host or by the mocks) and the
    # PULUMI_CONFIG environment; neither has a public listing API, so both are read here, in one place.
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return {
        k[len(prefix) :]: "[secret]" if runtime_config.is_config_secret(k) else _json_or_text(v)
        for k, v in sorted(values.items())
        if k.startswith(prefix) and k[len(prefix) :] not in KNOWN_KEYS
    }


def read_settings(config: pulumi.Config | None = None) -> Settings:
    """The validated non-secret settings from the runtime's config; secrets are only checked for presence.

    The program (through :func:`load`) and ``gatewayctl preflight`` both validate through here, so they accept
    and reject exactly the same configs with the same messages. Raises :class:`ConfigError`.
    """
    from pulumi.runtime import config as runtime_config

    config = config or pulumi.Config(NAMESPACE)
    settings = parse(
        read_raw(config),
        secrets_present={k: runtime_config.get_config(config.full_key(k)) is not None for k in SECRET_KEYS},
        other_keys=_other_keys(),
    )
    # Files the config names are checked here too, before anything is registered. Relative paths start at the
    # project folder, which is the program's working directory under `pulumi` and under gatewayctl.
    issues = chart_file_issues(settings.charts, Path.cwd())
    if issues:
        raise ConfigError(issues)
    return settings


def load(config: pulumi.Config | None = None) -> StackConfig:
    """Reads and validates the stack's configuration. Raises :class:`ConfigError`; registers nothing."""
    config = config or pulumi.Config(NAMESPACE)
    settings = read_settings(config)
    secrets = {key: config.get_secret(key) for key in SECRET_KEYS}
    manager_password = secrets["managerPassword"]
    assert manager_password is not None  # parse() rejects a config without it
    return StackConfig(
        settings=settings,
        secrets=Secrets(
            manager_password=manager_password,
            ssh_private_key=secrets["sshPrivateKey"],
            ssh_password=secrets["sshPassword"],
            activation_token=secrets["activationToken"],
            registration_client_key=secrets["registrationClientKey"],
            registration_client_secret=secrets["registrationClientSecret"],
        ),
    )
