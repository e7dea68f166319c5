"""gateway-cluster: a vendor gateway cluster on VMware vSphere.

Reads and validates the stack's configuration (nothing is registered when it is invalid), builds the
cluster and exports what operators need.
"""

import pulumi

from components import config
from components.cluster import GatewayCluster, GatewayClusterArgs

stack_config = config.load()
cluster = GatewayCluster(
    "gateway",
    GatewayClusterArgs(
        settings=stack_config.settings,
        secrets=stack_config.secrets,
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
    ),
)

pulumi.export("managerUrl", cluster.manager_url)
pulumi.export("nodes", cluster.nodes)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("registrationStatus", cluster.registration_status)
