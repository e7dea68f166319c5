"""Preflight's run and report: the stack's settings as the program reads them, every check in turn, and the
table of rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components import config as cfg
from gatewayctl import checks, harness, probe, vcenter
from gatewayctl.checks import Report, stopped
from gatewayctl.commands.preflight import network_checks, ova_checks, vcenter_checks
from gatewayctl.commands.preflight.network_checks import AddressProbe


def run_checks(
    project_dir: Path,
    stack: str,
    settings: cfg.Settings,
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = vcenter.DEFAULT_TIMEOUT,
    probe_timeout: float = probe.DEFAULT_TIMEOUT,
    progress: Callable[[str], None] = lambda _: None,
    probe_addresses: AddressProbe = network_checks.probe_each,
) -> Report:
    """Runs every check. Network failures become failing rows; nothing here raises for them."""
    place = vcenter_checks.Placement()
    checks = vcenter_checks.check_vcenter(
        settings, raw, stack, harness.project_name(project_dir), place, env=env, timeout=timeout, progress=progress
    )
    progress(f"checking the OVA at {ova_checks.shown(settings.ova.source)} ...")
    try:
        checks.extend(ova_checks.check_ova(settings.ova, probe_timeout, project_dir, settings.node_size.disk_gb))
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        checks.append(stopped("ova.source", ova_checks.shown(settings.ova.source), exc))
    count = len(settings.nodes) + 1
    progress(f"probing {count} address(es) for machines already using them (timeout {probe_timeout:g} s) ...")
    try:
        checks.extend(network_checks.check_addresses(settings, place, probe_timeout, probe_addresses))
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the rows already found
        checks.append(stopped("ip.free", "node and floating IPs", exc))
    if settings.storage is not None:
        progress(f"checking NFS server {settings.storage.nfs_server} ...")
        try:
            checks.extend(network_checks.check_nfs(settings, probe_timeout))
        except Exception as exc:  # noqa: BLE001 - as above
            checks.append(stopped("nfs", settings.storage.nfs_server, exc))
    return Report(stack=stack, checks=checks)


# -------------------------------------------------------------------------------------------- output


def to_text(report: Report) -> str:
    """Preflight's table (:func:`gatewayctl.checks.to_text`)."""
    return checks.to_text(
        report,
        title="Preflight",
        verdict_ok="ready for `pulumi up`",
        verdict_failed="NOT READY: fix the failures above",
    )
