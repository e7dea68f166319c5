"""chart-versions-pinned (advisory): Helm releases pin one exact chart version."""

from __future__ import annotations

import re
from typing import Final

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..readers import UNKNOWN, text
from ..stack import RELEASE

# The config parser has the same pattern (a deliberate duplicate: docs/policies-rules.md).
_EXACT_VERSION: Final = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def chart_versions_pinned_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Each Helm release from a repository names one exact chart version, not a range or the latest."""
    if args.resource_type != RELEASE:
        return
    chart = text(args.props, "chart")
    version = text(args.props, "version")
    if chart is UNKNOWN or version is UNKNOWN:
        return
    repo = text(args.props, "repositoryOpts", "repo")
    local = isinstance(chart, str) and chart.startswith(("/", "./", "../", "file://")) and not repo
    if local:
        return  # a chart folder is pinned by its own content; Helm ignores `version` for it
    if version is None or not _EXACT_VERSION.match(version.strip()):
        shown = "no version" if version is None else f"version {version!r}"
        report_violation(
            f"Helm release '{text(args.props, 'name') or args.name}' (chart {chart}) has {shown}: without one "
            "exact version, a preview and the following `pulumi up` (or two stacks) can install different "
            "chart releases. Pin an exact chart version such as '1.2.3'.",
            None,
        )


POLICY = ResourceValidationPolicy(
    name="chart-versions-pinned",
    description="Helm releases pin one exact chart version.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=chart_versions_pinned_validator,
)
