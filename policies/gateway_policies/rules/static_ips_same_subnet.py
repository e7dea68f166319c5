"""static-ips-same-subnet: node IPs and the floating IP are distinct host addresses in the configured subnet."""

from __future__ import annotations

import ipaddress

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..addresses import IPAddress, IPNetwork, parse_address
from ..cluster_inputs import CIDR, CLUSTER, GATEWAY, cluster_addresses
from ..readers import UNKNOWN, text, value


def static_ips_same_subnet_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every node IP and the floating IP in the configured subnet, usable as a host address, all distinct."""
    if args.resource_type != CLUSTER:
        return
    props = args.props
    cidr_raw = text(props, *CIDR)
    if cidr_raw is UNKNOWN:
        return
    try:
        net: IPNetwork = ipaddress.ip_network(str(cidr_raw).strip(), strict=False)
    except ValueError:
        report_violation(
            f"gateway-cluster:network.cidr {cidr_raw!r} is not a subnet, so the node addresses cannot be "
            "checked. Write the nodes' subnet in CIDR form, e.g. '10.20.30.0/24'.",
            None,
        )
        return
    gateway = parse_address(value(props, *GATEWAY))
    seen: dict[IPAddress, str] = {}
    for entry in cluster_addresses(props):
        if entry.raw is UNKNOWN or entry.raw is None:
            continue
        address = parse_address(entry.raw)
        if address is None:
            report_violation(
                f"{entry.label} {entry.raw!r} is not an IP address. Write one address such as '10.20.30.41'.", None
            )
            continue
        if address.version != net.version or address not in net:
            report_violation(
                f"{entry.label} {address} is outside the subnet {net} (gateway-cluster:network.cidr): the "
                f"nodes reach each other and the floating IP on one layer-2 segment. Pick an address in {net}.",
                None,
            )
        elif address == net.network_address and net.num_addresses > 2:
            report_violation(
                f"{entry.label} {address} is the network address of {net}. Pick a host address in {net}.", None
            )
        elif net.version == 4 and address == net.broadcast_address and net.num_addresses > 2:
            report_violation(
                f"{entry.label} {address} is the broadcast address of {net}. Pick a host address in {net}.", None
            )
        elif gateway is not None and address == gateway:
            report_violation(
                f"{entry.label} {address} is the subnet's gateway (gateway-cluster:network.gateway). Pick an "
                "address no other device uses.",
                None,
            )
        if address in seen:
            report_violation(
                f"{entry.label} {address} is also used by {seen[address]}: every node IP and the floating "
                "IP must differ. Give each one its own address.",
                None,
            )
        else:
            seen[address] = entry.label


POLICY = ResourceValidationPolicy(
    name="static-ips-same-subnet",
    description="Node IPs and the floating IP are distinct host addresses in the configured subnet.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=static_ips_same_subnet_validator,
)
