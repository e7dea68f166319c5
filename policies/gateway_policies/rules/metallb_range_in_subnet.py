"""metallb-range-in-subnet (advisory): MetalLB's pool is in the nodes' subnet, clear of DHCP, node IPs and the
gateway."""

from __future__ import annotations

import ipaddress

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..addresses import IPAddress, in_range, overlap, parse_address, parse_range
from ..cluster_inputs import CIDR, CLUSTER, DHCP_RANGES, GATEWAY, IP, METALLB_RANGE, NODES
from ..readers import known_items, text, value


def metallb_range_in_subnet_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """MetalLB's address pool lies in the nodes' subnet and clear of DHCP pools, node IPs and the gateway."""
    if args.resource_type != CLUSTER:
        return
    props = args.props
    pool = text(props, *METALLB_RANGE)
    cidr = text(props, *CIDR)
    if not isinstance(pool, str) or not isinstance(cidr, str):
        return
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return  # static-ips-same-subnet reports the subnet itself
    taken: list[tuple[str, IPAddress]] = []
    for i, node in enumerate(known_items(props, *NODES)):
        address = parse_address(value(node, *IP))
        if address is not None:
            taken.append((f"node IP nodes[{i}].ip {address}", address))
    gateway = parse_address(value(props, *GATEWAY))
    if gateway is not None:
        taken.append((f"the gateway {gateway}", gateway))
    dhcp = [(str(r), s) for r in known_items(props, *DHCP_RANGES) if (s := parse_range(r)) is not None]
    for part in (p.strip() for p in pool.split(",")):
        span = parse_range(part)
        if span is None:
            report_violation(
                f"gateway-cluster:metallbRange part {part!r} is not a range 'first-last' or a CIDR. Write it "
                "as e.g. '10.20.30.50-10.20.30.59'.",
                None,
            )
            continue
        first, last = span
        if not (first.version == net.version and first in net and last in net):
            report_violation(
                f"MetalLB range {part} (gateway-cluster:metallbRange) is not inside the nodes' subnet {net}: in "
                "layer-2 mode MetalLB can only answer for addresses on the nodes' own segment. Use addresses "
                f"in {net}.",
                None,
            )
        for label, address in taken:
            if in_range(address, span):
                report_violation(
                    f"MetalLB range {part} contains {label}: MetalLB would hand it out as a service address. "
                    "Narrow gateway-cluster:metallbRange.",
                    None,
                )
        for raw, dspan in dhcp:
            if overlap(span, dspan):
                report_violation(
                    f"MetalLB range {part} overlaps the DHCP range {raw}: both would hand out the same "
                    "addresses. Move gateway-cluster:metallbRange outside every DHCP range.",
                    None,
                )


POLICY = ResourceValidationPolicy(
    name="metallb-range-in-subnet",
    description="MetalLB's pool is in the nodes' subnet, clear of DHCP, node IPs and the gateway.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=metallb_range_in_subnet_validator,
)
