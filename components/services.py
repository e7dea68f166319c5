"""GatewayServices: the gateway's two Helm releases, installed on the formed cluster through its own kubeconfig.

Assumptions about the vendor's charts (their values are not published; adjust here if a chart differs):

* gateway-persistent-storage takes ``nfs.server`` and ``nfs.path`` for the shared NFS volume; the vendor's
  ``cluster.yaml`` (``charts.storage.valuesFile``) is applied first and the program's values over it. A
  single node has no NFS: the chart's default (the node's local disk) applies.
* gateway-manager takes its admin password as ``secrets.defaultPassword`` and exposes its UI and API through
  a Service configured by ``service.type``, ``service.port``, ``service.loadBalancerIP`` and
  ``service.annotations``. The program pins the floating IP twice: ``metallb.universe.tf/loadBalancerIPs``
  is what MetalLB (0.13 and later) honours; ``loadBalancerIP`` is the older field, deprecated in Kubernetes
  but still read by older MetalLB releases and by charts that template it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import NAMESPACE, ChartSettings, ChartsSettings, StorageSettings

STORAGE_RELEASE = "gateway-persistent-storage"
MANAGER_RELEASE = "gateway-manager"
MANAGER_PORT = 5480
METALLB_IPS_ANNOTATION = "metallb.universe.tf/loadBalancerIPs"
#: Seconds Helm may wait for a release's objects to become ready: the manager pulls its images on first
#: install, which on a slow link takes minutes.
RELEASE_TIMEOUT = 900


@dataclass(frozen=True)
class GatewayServicesArgs:
    """What the releases need from the cluster and the config."""

    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (a secret), served by the primary node."""
    ready: Sequence[pulumi.Resource]
    """What must be done before anything is installed: the cluster's health gate (and its addons)."""
    charts: ChartsSettings
    """Where the two charts come from, pinned."""
    storage: StorageSettings | None
    """The NFS export; used only with more than one node."""
    node_count: int
    """How many nodes the cluster has: more than one needs shared (NFS) storage."""
    floating_ip: str
    """The manager's address, announced by MetalLB."""
    manager_password: pulumi.Input[str]
    """The manager's admin password (a secret): the chart's ``secrets.defaultPassword``."""


def storage_values(storage: StorageSettings | None, node_count: int) -> dict[str, Any]:
    """The storage chart's values: NFS for a multi-node cluster, nothing for a single node."""
    if node_count > 1 and storage is not None:
        return {"nfs": {"server": storage.nfs_server, "path": storage.nfs_path}}
    # A multi-node config without NFS still builds: the policy pack reports it (a mission rule, not syntax).
    return {}


def manager_values(floating_ip: str, password: pulumi.Input[str]) -> dict[str, Any]:
    """The manager chart's values. Only the password leaf is secret, so the rest stays readable in plans."""
    return {
        "secrets": {"defaultPassword": password},
        "service": {
            "type": "LoadBalancer",
            "port": MANAGER_PORT,
            "loadBalancerIP": floating_ip,
            "annotations": {METALLB_IPS_ANNOTATION: floating_ip},
        },
    }


class GatewayServices(pulumi.ComponentResource):
    """Persistent storage, then the Gateway Manager on the floating IP, through the cluster's kubeconfig."""

    storage_release: pulumi.Output[str]
    """The storage release's name, once installed."""
    manager_release: pulumi.Output[str]
    """The manager release's name, once installed."""
    manager_url: pulumi.Output[str]
    """Where the manager answers: ``https://<floating IP>:5480``."""

    def __init__(self, name: str, args: GatewayServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:GatewayServices", name, None, opts)
        ready = list(args.ready)
        # The provider connects only once the health gate passed: it reads the cluster at preview time.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=args.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        charts = args.charts
        storage_files = _value_files(charts.storage)
        if args.node_count == 1 and args.storage is not None:
            pulumi.log.warn(
                "gateway-cluster:storage is not used with a single node: the storage chart keeps the manager's "
                "data on the node's own disk. It takes effect when the cluster has more than one node.",
                resource=self,
            )
        # The Release's own names are the contract the policy pack and the vendor's run-book rely on.
        self.storage = k8s.helm.v3.Release(
            STORAGE_RELEASE,
            name=STORAGE_RELEASE,
            chart=charts.reference(charts.storage),
            version=charts.storage.version,
            values=storage_values(args.storage, args.node_count),
            value_yaml_files=storage_files,
            timeout=RELEASE_TIMEOUT,
            # A component's depends_on does not reach its children: each release names what it waits for.
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=ready),
        )
        self.manager = k8s.helm.v3.Release(
            MANAGER_RELEASE,
            name=MANAGER_RELEASE,
            chart=charts.reference(charts.manager),
            version=charts.manager.version,
            values=manager_values(args.floating_ip, args.manager_password),
            value_yaml_files=_value_files(charts.manager),
            timeout=RELEASE_TIMEOUT,
            # The manager keeps its state on the storage chart's volume: it must exist first.
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[*ready, self.storage]),
        )
        self.storage_release = self.storage.name.apply(lambda n: n or STORAGE_RELEASE)
        self.manager_release = self.manager.name.apply(lambda n: n or MANAGER_RELEASE)
        self.manager_url = pulumi.Output.from_input(manager_url(args.floating_ip))
        self.register_outputs(
            {
                "storageRelease": self.storage_release,
                "managerRelease": self.manager_release,
                "managerUrl": self.manager_url,
            }
        )


def _key(path: str) -> str:
    return f"{NAMESPACE}:{path}"


def manager_url(floating_ip: str) -> str:
    """``https://<floating IP>:5480``, IPv6 in brackets."""
    host = f"[{floating_ip}]" if ":" in floating_ip else floating_ip
    return f"https://{host}:{MANAGER_PORT}"


def _value_files(chart: ChartSettings) -> list[pulumi.Asset | pulumi.Archive] | None:
    return [pulumi.FileAsset(chart.values_file)] if chart.values_file is not None else None
