"""ova-over-https (advisory): the gateway OVA is downloaded over https."""

from __future__ import annotations

from urllib.parse import urlparse

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..readers import text
from ..stack import LIBRARY_ITEM, VM


def ova_over_https_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """The OVA is downloaded over https (a content library item's file URL, or a VM's remote OVF URL)."""
    if args.resource_type == LIBRARY_ITEM:
        url, where = text(args.props, "fileUrl"), "content library item's fileUrl"
    elif args.resource_type == VM:
        url, where = text(args.props, "ovfDeploy", "remoteOvfUrl"), "VM's ovfDeploy.remoteOvfUrl"
    else:
        return
    if isinstance(url, str) and urlparse(url).scheme.lower() == "http":
        report_violation(
            f"the {where} {url} is plain http: the appliance image (which runs as the cluster's nodes) can be "
            "altered in transit. Serve the OVA over https and set gateway-cluster:ova.url to the https URL.",
            None,
        )


POLICY = ResourceValidationPolicy(
    name="ova-over-https",
    description="The gateway OVA is downloaded over https.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=ova_over_https_validator,
)
