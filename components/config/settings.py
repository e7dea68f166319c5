"""The top-level keys of the ``gateway-cluster:`` namespace, the secrets, and the rules across them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import pulumi
from pydantic import AfterValidator

from .declare import Decl, Key, Problem, RuleInput, fields, rule
from .errors import full_key
from .kinds import ONE_OR_MANY, Address, AddressPool, Hostname, IPAddress, NonEmpty, Text, ordered, spans
from .nodes import NetworkSettings, NodeSettings, NodeSize, StorageSettings
from .placement import OvaSettings, VSphereSettings
from .services import WITH_METHOD, ChartsSettings, RegistrationSettings, from_one_source

_NODE_EXAMPLE = [{"hostname": "gw-node-1", "esxiHost": "esx-01.example.com", "ip": "10.20.30.41"}]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything non-secret the program builds from, validated. Each attribute is a top-level key."""

    vsphere: Annotated[
        VSphereSettings,
        Key(
            "Where the nodes go, in vSphere's own vocabulary.", required="a map with datacenter, datastore and network."
        ),
    ]
    ova: Annotated[
        OvaSettings,
        Key("The vendor's gateway appliance image.", required="a map with version and exactly one of url or path."),
    ]
    network: Annotated[
        NetworkSettings,
        Key(
            "The nodes' subnet; node IPs and the floating IP are static.", required="a map with cidr, gateway and dns."
        ),
    ]
    floating_ip: Annotated[
        Address,
        Key(
            "The Gateway Manager's address, served by MetalLB.",
            example="10.20.30.50",
            required="the Gateway Manager's address, served by MetalLB.",
        ),
    ]
    nodes: Annotated[
        tuple[NodeSettings, ...],
        NonEmpty("needs at least one node."),
        Key(
            "The gateway nodes, one VM on one ESXi host each.",
            example=_NODE_EXAMPLE,
            required="a list of nodes, e.g. {example}.",
        ),
    ]
    primary: Annotated[
        Text,
        Key(
            "Hostname of the node that issues join tokens and serves the kubeconfig; reordering nodes changes "
            "nothing. To remove the primary node, first make another node primary.",
            example="gw-node-1",
            derived="the first node",
            derive=lambda keys: keys["nodes"][0].hostname,
        ),
    ]
    node_size: Annotated[NodeSize, Key("Each node VM's size.")] = field(default_factory=NodeSize)
    storage: Annotated[
        StorageSettings | None,
        Key(
            "The NFS export for gateway-persistent-storage; a multi-node cluster needs it (the policy pack "
            "checks). Unset: the chart uses the node's local disk."
        ),
    ] = None
    ssh_user: Annotated[
        Text,
        Key(
            "The appliance's (non-root) login user.",
            example="gateway-admin",
            required="the appliance's (non-root) login user.",
        ),
    ]
    metallb_range: Annotated[
        AddressPool,
        Key(
            "What MetalLB may hand out (what `microk8s enable metallb:` gets): ranges and CIDRs, comma-separated.",
            example="10.20.30.50-10.20.30.59",
            derived="the floating IP alone",
            derive=lambda keys: f"{keys['floatingIp']}-{keys['floatingIp']}",
        ),
    ]
    charts: Annotated[
        ChartsSettings,
        AfterValidator(from_one_source),
        Key("Where the storage and manager charts come from, and their pinned versions."),
    ] = field(default_factory=ChartsSettings)
    registration: Annotated[
        Annotated[RegistrationSettings, WITH_METHOD] | None,
        Key("Registration with the tenant; unset: nothing registers."),
    ] = None
    rebuild: Annotated[
        tuple[Hostname, ...],
        ONE_OR_MANY,
        Key(
            "Hostnames of the nodes rebuilt from the current `ova` in this update (a single hostname stands for a "
            "list of one): each such VM is replaced, delete-before-replace, by one with the same name and IP. "
            "Empty: a new `ova` changes no existing VM. A multi-node stack rebuilds at most one node per update "
            "(the policy pack checks), never its primary.",
            example=["gw-node-2"],
        ),
    ] = ()

    @property
    def primary_node(self) -> NodeSettings:
        return next(n for n in self.nodes if n.hostname == self.primary)


@dataclass(frozen=True)
class Secrets:
    """The secret inputs, as Pulumi secrets. ``None`` where the optional secret is not set. Each attribute is a
    top-level secret key: set with ``pulumi config set --secret``, never echoed in a message."""

    manager_password: Annotated[
        pulumi.Output[str],
        Key("the Gateway Manager's admin password (chart value secrets.defaultPassword)", required="yes"),
    ]
    ssh_private_key: Annotated[
        pulumi.Output[str] | None, Key("the SSH private key (OpenSSH or PEM) for sshUser; or set sshPassword")
    ] = None
    ssh_password: Annotated[
        pulumi.Output[str] | None, Key("the password of sshUser, for SSH and sudo; or set sshPrivateKey")
    ] = None
    activation_token: Annotated[
        pulumi.Output[str] | None,
        Key("the management profile's activation token (optional: without it, no registration)"),
    ] = None
    # Top-level secret keys rather than fields of the plain `registration` map: a secret inside an object
    # makes the whole object a secret, and the map's other fields must stay readable at preview.
    registration_client_key: Annotated[
        pulumi.Output[str] | None,
        Key("the platform API client key for management profiles (optional; with tenantId)"),
    ] = None
    registration_client_secret: Annotated[
        pulumi.Output[str] | None,
        Key("the platform API client secret for management profiles (optional; with tenantId)"),
    ] = None


@dataclass(frozen=True)
class StackConfig:
    settings: Settings
    secrets: Secrets


# ----------------------------------------------------------------------------------- the key tables

#: The top-level keys and the secret keys, as declared above.
TOP_KEYS: tuple[Decl, ...] = tuple(fields(Settings))
SECRET_DECLS: tuple[Decl, ...] = tuple(fields(Secrets))

#: Secret keys and what each is (never read by :func:`parse`, only whether each is set).
SECRET_KEYS: Mapping[str, str] = {d.name: d.key.description for d in SECRET_DECLS if d.key is not None}
REQUIRED_SECRETS: tuple[str, ...] = tuple(d.name for d in SECRET_DECLS if d.key is not None and d.key.required)
#: At least one of these is set: the program logs in with a key or a password.
ONE_OF_SECRETS: tuple[str, ...] = ("sshPrivateKey", "sshPassword")
#: Non-secret keys, read as JSON values (maps and lists) or strings.
OBJECT_KEYS: tuple[str, ...] = tuple(d.name for d in TOP_KEYS if d.shape is not None or d.item is not None)
STRING_KEYS: tuple[str, ...] = tuple(d.name for d in TOP_KEYS if d.name not in OBJECT_KEYS)
KNOWN_KEYS: tuple[str, ...] = (*OBJECT_KEYS, *STRING_KEYS, *SECRET_KEYS)


# ---------------------------------------------------------------------------------------------- rules


def _duplicates(values: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str, str]]:
    """Yields (path, value, first_path) for each value already seen."""
    seen: dict[str, str] = {}
    for path, value in values:
        if value in seen:
            yield path, value, seen[value]
        else:
            seen[value] = path


@rule(after="metallbRange")
def pool_serves_the_floating_ip(given: RuleInput) -> Iterator[Problem]:
    """`metallbRange` contains `floatingIp`, which MetalLB serves the manager on."""
    floating: IPAddress | None = given.parsed.get("floatingIp")
    pool: str | None = given.parsed.get("metallbRange")
    if floating is None or pool is None:
        return
    for part in spans(pool):
        if isinstance(part, tuple) and ordered(part[0], floating) and ordered(floating, part[1]):
            return
        if not isinstance(part, tuple) and floating in part:
            return
    yield (
        "metallbRange",
        given.raw.get("metallbRange"),
        f"must contain the floating IP {floating}, which MetalLB serves the manager on.",
    )


@rule()
def distinct_nodes(given: RuleInput) -> Iterator[Problem]:
    """Every node has its own `hostname`; the nodes' `ip`s and `floatingIp` all differ. A cluster of more than
    one node has IPv4 node addresses: `microk8s join` takes only an IPv4 address."""
    nodes: tuple[NodeSettings, ...] = given.parsed.get("nodes", ())
    if not nodes:
        return
    for path, value, first in _duplicates((f"nodes[{i}].hostname", n.hostname) for i, n in enumerate(nodes)):
        yield path, value, f"duplicates {full_key(first)}; every node needs its own hostname."
    addresses = [(f"nodes[{i}].ip", str(n.ip)) for i, n in enumerate(nodes)]
    if given.parsed.get("floatingIp") is not None:
        addresses.append(("floatingIp", str(given.parsed["floatingIp"])))
    for path, value, first in _duplicates(iter(addresses)):
        yield path, value, f"duplicates {full_key(first)}; node IPs and the floating IP must all differ."
    if len(nodes) > 1:
        for i, n in enumerate(nodes):
            if n.ip.version == 6:
                # canonical/microk8s common/cluster/utils.py get_valid_connection_parts: "<master_IP>:<port>/..."
                # split on ':' must give two parts and the IP must parse: an IPv6 address never does.
                yield (
                    f"nodes[{i}].ip",
                    str(n.ip),
                    "is IPv6, but `microk8s join` accepts only an IPv4 address for the node it joins, so the "
                    "nodes of a multi-node cluster need IPv4 addresses: use an IPv4 subnet (or a single node).",
                )


@rule()
def primary_is_a_node(given: RuleInput) -> Iterator[Problem]:
    """`primary` is the hostname of one of the `nodes`."""
    primary: str | None = given.parsed.get("primary")
    nodes: tuple[NodeSettings, ...] = given.parsed.get("nodes", ())
    if nodes and primary is not None and primary not in {n.hostname for n in nodes}:
        names = ", ".join(n.hostname for n in nodes)
        yield (
            "primary",
            primary,
            f"is not one of the nodes ({names}). To remove the primary node, first make another node primary, "
            "apply, then remove it.",
        )


@rule(after="rebuild")
def rebuild_names_nodes(given: RuleInput) -> Iterator[Problem]:
    """Each `rebuild` entry is the hostname of one of the `nodes`, listed once. In a multi-node stack it is not
    the primary (`primary`, or the first node when `primary` is unset): make another node primary first."""
    rebuild: tuple[str, ...] = given.parsed.get("rebuild", ())
    nodes: tuple[NodeSettings, ...] = given.parsed.get("nodes", ())
    if not rebuild or not nodes:
        return
    hostnames = [n.hostname for n in nodes]
    # The implicit primary only when `primary` is unset; a `primary` that did not validate is reported on its own.
    primary = given.parsed.get("primary") if "primary" in given.raw else hostnames[0]
    others = [h for h in hostnames if h != primary]
    for i, entry in enumerate(rebuild):
        if entry not in hostnames:
            yield (
                f"rebuild[{i}]",
                entry,
                f"is not one of the nodes ({', '.join(hostnames)}); list the hostnames of nodes to rebuild.",
            )
        elif entry == primary and others:
            which = "gateway-cluster:primary" if "primary" in given.raw else "the first node (primary is unset)"
            yield (
                f"rebuild[{i}]",
                entry,
                f"is the primary node ({which}), which issues join tokens and serves the kubeconfig: the cluster "
                f"cannot rebuild it in place. Make another node primary first: set gateway-cluster:primary to "
                f"{others[0]} (or another node), apply, then rebuild {entry}.",
            )
    for path, value, first in _duplicates((f"rebuild[{i}]", h) for i, h in enumerate(rebuild)):
        yield path, value, f"duplicates {full_key(first)}; list each node once."


@rule()
def secrets_set(given: RuleInput) -> Iterator[Problem]:
    """`managerPassword` is set, and at least one of `sshPrivateKey` and `sshPassword`."""
    for k in REQUIRED_SECRETS:
        if not given.secrets.get(k):
            yield k, None, f"is required: {SECRET_KEYS[k]}. Set it with `pulumi config set --secret {k}`."
    if not any(given.secrets.get(k) for k in ONE_OF_SECRETS):
        yield (
            ONE_OF_SECRETS[0],
            None,
            "set one of sshPrivateKey or sshPassword: `pulumi config set --secret sshPrivateKey < key`.",
        )


def settings_from(keys: Mapping[str, object]) -> Settings:
    """``Settings`` from the validated top-level keys (by name as written); unset keys take their defaults."""
    values = {}
    for decl in TOP_KEYS:
        if decl.name in keys:
            values[decl.attribute] = keys[decl.name]
        elif decl.key is not None and decl.key.derive is not None:
            values[decl.attribute] = decl.key.derive(keys)
        else:
            values[decl.attribute] = decl.default
    return Settings(**values)  # type: ignore[arg-type]
