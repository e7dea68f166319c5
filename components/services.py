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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import NAMESPACE, ChartSettings, ChartsSettings, StorageSettings

STORAGE_RELEASE = "gateway-persistent-storage"
MANAGER_RELEASE = "gateway-manager"
MANAGER_PORT = 5480
METALLB_IPS_ANNOTATION = "metallb.universe.tf/loadBalancerIPs"
#: Seconds Helm may wait for a release's objects to become ready: the manager pulls its images on first
#: install, which on a slow link takes minutes.
RELEASE_TIMEOUT = 900
#: Release revisions Helm keeps (one Secret each): the helm CLI's own default, which the vendor's run-book
#: gets; pulumi-kubernetes would otherwise keep every revision forever.
RELEASE_HISTORY = 10


#: How both releases are installed and upgraded. ``atomic``: a failed install is uninstalled and a failed
#: upgrade rolled back, so a broken release neither stays half-installed nor blocks the next `pulumi up`
#: ("cannot re-use a name that is still in use", pulumi-kubernetes #1727/#2758); it implies waiting for
#: readiness. ``cleanup_on_fail``: objects a failed upgrade created are deleted with it.
RELEASE_SAFETY: dict[str, Any] = {
    "atomic": True,
    "cleanup_on_fail": True,
    "timeout": RELEASE_TIMEOUT,
    "max_history": RELEASE_HISTORY,
}


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


def cluster_identity(kubeconfig: str) -> str:
    """A stable name for the cluster a kubeconfig reaches: a hash of its CA certificate.

    Given to the Kubernetes provider as ``cluster_identifier``. Without one, pulumi-kubernetes replaces the
    provider whenever the kubeconfig's active cluster entry changes, its server address included (another node
    made primary, the address written differently), and every release with it: Helm would then install a
    second ``gateway-manager`` next to the first and fail ("cannot re-use a name that is still in use"). With
    it, the provider is replaced only when the identifier changes. The CA changes only when the cluster is
    built anew (a new primary VM) or its CA is rotated, which is when the releases must be installed afresh.
    Without a CA to read, the whole kubeconfig is hashed. Only a hash leaves: no key material.
    """
    try:
        doc = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        doc = None
    ca = _current_ca(doc)
    return "microk8s-" + hashlib.sha256((ca or kubeconfig).encode()).hexdigest()[:16]


def _current_ca(doc: Any) -> str | None:
    """The current context's cluster's ``certificate-authority-data``, or ``None``."""
    if not isinstance(doc, dict):
        return None
    context = _entry(doc.get("contexts"), doc.get("current-context"), "context")
    cluster = _entry(doc.get("clusters"), context.get("cluster"), "cluster")
    ca = cluster.get("certificate-authority-data")
    return ca if isinstance(ca, str) and ca else None


def _entry(items: Any, name: Any, kind: str) -> dict[str, Any]:
    """``items[i][kind]`` for the kubeconfig list entry named ``name``; ``{}`` when there is none."""
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(kind), dict):
            return dict(item[kind])
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
    cluster_identity: pulumi.Output[str]
    """Which cluster the releases are on (:func:`cluster_identity`, a secret): it changes when the cluster is
    rebuilt and the releases are installed afresh, so registration can tell that it must run again."""

    def __init__(self, name: str, args: GatewayServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:GatewayServices", name, None, opts)
        ready = list(args.ready)
        # The provider connects only once the health gate passed: it reads the cluster at preview time.
        kubeconfig = pulumi.Output.from_input(args.kubeconfig)
        self.cluster_identity = kubeconfig.apply(cluster_identity)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # Replaced only for another cluster, not for every new kubeconfig text (see cluster_identity).
            cluster_identifier=self.cluster_identity,
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
            **RELEASE_SAFETY,
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
            **RELEASE_SAFETY,
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
                "clusterIdentity": self.cluster_identity,
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
