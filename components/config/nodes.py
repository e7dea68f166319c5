"""The nodes and what they share: subnet (``network``), the node list, their size and their NFS storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import with_config

from .declare import KEYS, Key
from .kinds import (
    ONE_OR_MANY,
    AbsolutePath,
    Address,
    AddressRange,
    Cidr,
    HostKey,
    Hostname,
    MemoryMb,
    NonEmpty,
    Text,
    Whole,
)


@with_config(KEYS)
@dataclass(frozen=True)
class NetworkSettings:
    """The nodes' subnet. Node IPs and the floating IP are static and must be outside every DHCP pool."""

    cidr: Annotated[Cidr, Key("The nodes' subnet, as its network address and prefix.", example="10.20.30.0/24")]
    gateway: Annotated[Address, Key("The subnet's default gateway.", example="10.20.30.1")]
    dns: Annotated[
        tuple[Address, ...],
        ONE_OR_MANY,
        NonEmpty("needs at least one DNS server address."),
        Key("DNS servers (a single address stands for a list of one).", example=["10.20.0.53"]),
    ]
    dhcp_ranges: Annotated[
        tuple[AddressRange, ...],
        Key(
            "DHCP pools on the subnet ('first-last'); node IPs and the floating IP must stay outside them (the "
            "policy pack checks).",
            example=["10.20.30.100-10.20.30.199"],
        ),
    ] = ()

    @property
    def netmask(self) -> str:
        return str(self.cidr.netmask)


@with_config(KEYS)
@dataclass(frozen=True)
class NodeSettings:
    """One gateway node: one VM on one ESXi host."""

    hostname: Annotated[Hostname, Key("The node's hostname and VM name; unique among the nodes.", example="gw-node-1")]
    esxi_host: Annotated[
        Text, Key("The ESXi host the node's VM runs on, as vCenter names it.", example="esx-01.example.com")
    ]
    ip: Annotated[Address, Key("The node's static address; unique, and not the floating IP.", example="10.20.30.41")]
    ssh_host_key: Annotated[
        HostKey | None,
        Key(
            "The node's SSH host public key; pins the program's SSH connections to it when set.",
            example="ssh-ed25519 AAAAC3Nza...",
        ),
    ] = None


@with_config(KEYS)
@dataclass(frozen=True)
class NodeSize:
    """Each node VM's size."""

    cpus: Annotated[Whole, Key("vCPUs per node.")] = 4
    memory_mb: Annotated[MemoryMb, Key("Memory per node in MB (vSphere takes multiples of 4 MB).")] = 8192
    disk_gb: Annotated[Whole, Key("Disk per node in GB (the OVA's disk is grown to it, never shrunk).")] = 40


@with_config(KEYS)
@dataclass(frozen=True)
class StorageSettings:
    """The NFS export the gateway-persistent-storage chart uses (multi-node clusters need one)."""

    nfs_server: Annotated[Text, Key("The NFS server's name or address.", example="nfs.example.com")]
    nfs_path: Annotated[AbsolutePath, Key("The export's absolute path.", example="/exports/gateway")]
