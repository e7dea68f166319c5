"""ips-outside-dhcp: no node IP or floating IP lies in a declared DHCP range."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..addresses import Span, in_range, parse_address, parse_range
from ..cluster_inputs import CLUSTER, DHCP_RANGES, cluster_addresses
from ..readers import UNKNOWN, items


def ips_outside_dhcp_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No node IP or floating IP inside a declared DHCP range."""
    if args.resource_type != CLUSTER:
        return
    ranges = items(args.props, *DHCP_RANGES)
    if ranges is UNKNOWN:
        return
    spans: list[tuple[str, Span]] = []
    for i, raw in enumerate(ranges):
        if raw is UNKNOWN:
            continue
        span = parse_range(raw)
        if span is None:
            report_violation(
                f"gateway-cluster:network.dhcpRanges[{i}] {raw!r} is not a range 'first-last', so addresses "
                "cannot be checked against it. Write it as e.g. '10.20.30.100-10.20.30.199'.",
                None,
            )
            continue
        spans.append((str(raw).strip(), span))
    for entry in cluster_addresses(args.props):
        address = parse_address(entry.raw)
        if address is None:
            continue
        for raw, span in spans:
            if in_range(address, span):
                report_violation(
                    f"{entry.label} {address} lies in the DHCP range {raw} (gateway-cluster:network.dhcpRanges): "
                    "the DHCP server may lease it to another machine. Pick a static address outside every "
                    "DHCP range, or shrink the DHCP pool on the DHCP server and in the stack config.",
                    None,
                )


POLICY = ResourceValidationPolicy(
    name="ips-outside-dhcp",
    description="No node IP or floating IP lies in a declared DHCP range.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=ips_outside_dhcp_validator,
)
