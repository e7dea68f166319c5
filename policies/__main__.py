"""The gateway cluster's CrossGuard policy pack: `pulumi preview --policy-pack policies`.

The policies live in the package ``gateway_policies`` (this folder), where tests and ``gatewayctl plan`` import
them; building the ``PolicyPack`` starts the analyzer's gRPC server and never returns, so it happens only here.
"""

from typing import TYPE_CHECKING

from pulumi_policy import PolicyPack

if TYPE_CHECKING:
    # Type checkers and tests see this folder as the namespace package `policies` of the project root.
    from policies import gateway_policies
else:
    # The Pulumi CLI runs this file with the pack's own folder on sys.path (and the pack may be published
    # on its own), so the package is imported by its plain name.
    import gateway_policies

PolicyPack(
    name=gateway_policies.PACK_NAME,
    description="The gateway cluster's rules: HA layout, one node per ESXi host, static addressing, "
    "node sizes, NFS storage for multi-node clusters, hostnames.",
    enforcement_level=gateway_policies.PACK_ENFORCEMENT_LEVEL,
    policies=gateway_policies.POLICIES,
    initial_config=dict(gateway_policies.INITIAL_CONFIG) or None,
)
