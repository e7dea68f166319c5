"""GatewayCluster: the whole gateway cluster of one stack, from the VMs up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_vsphere as vsphere

from components.annotation import node_annotation
from components.config import Secrets, Settings
from components.formation import ClusterFormation, ClusterFormationArgs
from components.library import OvaLibrary, OvaLibraryArgs
from components.node import GatewayNode, GatewayNodeArgs, OvaSource
from components.registration import GatewayRegistration, GatewayRegistrationArgs
from components.services import GatewayServices, GatewayServicesArgs, manager_url

if TYPE_CHECKING:
    # The contract is a type: the program does not load the policy pack to build a dict.
    from policies.gateway_policies.facts import ClusterFacts


@dataclass(frozen=True)
class GatewayClusterArgs:
    """The validated stack configuration and where it comes from."""

    settings: Settings
    """Everything non-secret, validated by ``components.config``."""
    secrets: Secrets
    """Credentials, password and token, as Pulumi secrets."""
    project: str
    """The Pulumi project, written into vCenter names and annotations."""
    stack: str
    """The Pulumi stack, written into vCenter names and annotations."""


def cluster_facts(settings: Settings) -> ClusterFacts:
    """The facts the policy pack judges, as plain values known at preview time.

    They are this component's inputs, so the pack sees the same values under a real `pulumi preview`
    as under the offline `plan` (the subnet, DHCP pools and floating IP are inputs of no vSphere resource).
    Their keys and types are the pack's facts contract (``policies/gateway_policies/facts.py``).
    """
    network = settings.network
    return {
        "network": {
            "cidr": str(network.cidr),
            "gateway": str(network.gateway),
            "dns": [str(d) for d in network.dns],
            "dhcpRanges": [f"{first}-{last}" for first, last in network.dhcp_ranges],
        },
        "floatingIp": str(settings.floating_ip),
        "metallbRange": settings.metallb_range,
        "primary": settings.primary,
        "rebuild": list(settings.rebuild),
        "nodes": [
            {
                "hostname": n.hostname,
                "ip": str(n.ip),
                "esxiHost": n.esxi_host,
                "sshHostKeyPinned": n.ssh_host_key is not None,
            }
            for n in settings.nodes
        ],
        "nodeSize": {
            "cpus": settings.node_size.cpus,
            "memoryMb": settings.node_size.memory_mb,
            "diskGb": settings.node_size.disk_gb,
        },
        "storage": (
            {"nfsServer": settings.storage.nfs_server, "nfsPath": settings.storage.nfs_path}
            if settings.storage
            else None
        ),
        "ova": {
            "version": settings.ova.version,
            "source": settings.ova.source,
            "deploy": settings.ova.deploy,
        },
    }


class GatewayCluster(pulumi.ComponentResource):
    """Gateway VMs on distinct ESXi hosts, formed into one MicroK8s cluster running the Gateway Manager."""

    nodes: pulumi.Output[list[dict[str, str]]]
    """In config order: ``{hostname, ip, esxiHost, vmId, image}`` (``image``: the version the VM runs, or null)."""
    manager_url: pulumi.Output[str]
    """Where the Gateway Manager answers: the floating IP, port 5480."""
    kubeconfig: pulumi.Output[str]
    """The MicroK8s cluster's kubeconfig (server: the primary's IP). Secret."""
    registration_status: pulumi.Output[str]
    retained_images: pulumi.Output[list[str]]
    """The versions in `ova.retain`: beside ``nodes[i].image``, the policy retained-images-in-use judges them."""
    """``registered`` once the appliance is registered with the tenant, ``skipped`` when not configured."""

    def __init__(self, name: str, args: GatewayClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:GatewayCluster", name, cluster_facts(args.settings), opts)
        settings = args.settings
        vs = settings.vsphere
        invoke = pulumi.InvokeOutputOptions(parent=self)

        datacenter = vsphere.get_datacenter_output(name=vs.datacenter, opts=invoke)
        datastore = vsphere.get_datastore_output(name=vs.datastore, datacenter_id=datacenter.id, opts=invoke)
        network = vsphere.get_network_output(name=vs.network, datacenter_id=datacenter.id, opts=invoke)
        compute_cluster = (
            vsphere.get_compute_cluster_output(name=vs.cluster, datacenter_id=datacenter.id, opts=invoke)
            if vs.cluster
            else None
        )
        resource_pool_id: pulumi.Output[str] | None = None
        if vs.resource_pool:
            resource_pool_id = vsphere.get_resource_pool_output(
                name=vs.resource_pool, datacenter_id=datacenter.id, opts=invoke
            ).id
        elif compute_cluster is not None:
            resource_pool_id = compute_cluster.resource_pool_id

        library_item_id: pulumi.Output[str] | None = None
        library_item_ids: dict[str, pulumi.Output[str]] = {}
        if settings.ova.deploy == "library":
            library = OvaLibrary(
                f"{name}-ova",
                OvaLibraryArgs(
                    ova=settings.ova,
                    datastore_id=datastore.id,
                    library_name=f"{args.project}-{args.stack}-images",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            library_item_id = library.item_id
            library_item_ids = library.item_ids

        annotation = node_annotation(args.project, args.stack, settings.ova.version)
        self.gateway_nodes: list[GatewayNode] = [
            GatewayNode(
                node.hostname,
                GatewayNodeArgs(
                    node=node,
                    network=settings.network,
                    size=settings.node_size,
                    image=OvaSource(
                        ova=settings.ova, library_item_id=library_item_id, library_item_ids=library_item_ids
                    ),
                    datacenter_id=datacenter.id,
                    datastore_id=datastore.id,
                    network_id=network.id,
                    resource_pool_id=resource_pool_id,
                    folder=vs.folder,
                    annotation=annotation,
                    rebuilt=node.hostname in settings.rebuild,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for node in settings.nodes
        ]

        if compute_cluster is not None and len(self.gateway_nodes) > 1:
            # DRS would otherwise be free to move two gateways onto one host, and losing that host would
            # then take two dqlite voters at once: the cluster's quorum.
            vsphere.ComputeClusterVmAntiAffinityRule(
                f"{name}-anti-affinity",
                name=f"{args.project}-{args.stack}-gateways-apart",
                compute_cluster_id=compute_cluster.id,
                virtual_machine_ids=[n.vm_id for n in self.gateway_nodes],
                mandatory=True,
                opts=pulumi.ResourceOptions(parent=self),
            )

        # The VMs become one MicroK8s cluster: bootstrap, join, addons, kubeconfig, health gate.
        self.formation = ClusterFormation(
            f"{name}-formation",
            ClusterFormationArgs(
                settings=settings,
                secrets=args.secrets,
                vm_ids=[n.vm_id for n in self.gateway_nodes],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.kubeconfig = self.formation.kubeconfig

        # Storage, then the Gateway Manager on the floating IP, installed once the health gate passed.
        self.services = GatewayServices(
            f"{name}-services",
            GatewayServicesArgs(
                kubeconfig=self.formation.kubeconfig,
                ready=[self.formation.ready],
                charts=settings.charts,
                storage=settings.storage,
                node_count=len(settings.nodes),
                floating_ip=str(settings.floating_ip),
                manager_password=args.secrets.manager_password,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.formation.ready]),
        )
        # Registration with the tenant once the manager runs (or "skipped" when not configured).
        self.registration = GatewayRegistration(
            f"{name}-registration",
            GatewayRegistrationArgs(
                settings=settings.registration,
                manager_url=manager_url(str(settings.floating_ip)),
                manager_password=args.secrets.manager_password,
                activation_token=args.secrets.activation_token,
                client_key=args.secrets.registration_client_key,
                client_secret=args.secrets.registration_client_secret,
                after=[self.services.manager],
                # A rebuilt cluster runs a fresh manager that must be registered again: a new CA, or a new primary VM
                # (a single node rebuilt from an OVA whose clones share their CA: docs/upstream-facts.md M16).
                cluster_identity=pulumi.Output.concat(
                    self.services.cluster_identity, "@", self.formation.kubeconfig_vm
                ),
                description=f"Gateway cluster {args.project}/{args.stack}, managed by Pulumi.",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.registration_status = self.registration.status

        self.nodes = pulumi.Output.all(
            *[
                pulumi.Output.all(hostname=n.hostname, ip=n.ip, esxiHost=n.esxi_host, vmId=n.vm_id, image=n.image)
                for n in self.gateway_nodes
            ]
        ).apply(list)
        self.manager_url = self.services.manager_url
        self.retained_images = pulumi.Output.from_input([r.version for r in settings.ova.retain])
        self.register_outputs(
            {
                "nodes": self.nodes,
                "managerUrl": self.manager_url,
                "kubeconfig": self.kubeconfig,
                "registrationStatus": self.registration_status,
                "retainedImages": self.retained_images,
            }
        )
