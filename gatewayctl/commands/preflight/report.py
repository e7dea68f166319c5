"""Preflight's run and report: the stack's settings as the program reads them, every check in turn, and the
table of rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components import config as cfg
from gatewayctl import harness, probe, vcenter
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


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines or [""]


def to_text(report: Report) -> str:
    """The table: one row per check; the fix under every failing or warning row."""
    rows = report.checks
    w_id = max([len("CHECK"), *(len(c.id) for c in rows)])
    w_target = min(32, max([len("TARGET"), *(len(c.target) for c in rows)]))
    indent = 6 + 2 + w_id + 2 + w_target + 2
    width = max(40, 120 - indent)
    lines = [f"Preflight of stack '{report.stack}'", ""]
    lines.append(f"{'STATUS':<6}  {'CHECK':<{w_id}}  {'TARGET':<{w_target}}  DETAIL")
    for c in rows:
        detail = _wrap(c.message, width)
        head = f"{c.status.upper():<6}  {c.id:<{w_id}}  {c.target:<{w_target}}  "
        if len(c.target) > w_target:
            # A long target (several hosts) gets its own line rather than pushing the details out of line.
            lines.append(head.rstrip())
            lines.append(" " * indent + detail[0])
        else:
            lines.append(head + detail[0])
        lines.extend(" " * indent + more for more in detail[1:])
        if c.fix and c.status != "pass":
            fix = _wrap(f"fix: {c.fix}", width)
            lines.extend(" " * indent + part for part in fix)
    counts = {s: sum(1 for c in rows if c.status == s) for s in ("pass", "warn", "fail")}
    lines.append("")
    verdict = "NOT READY: fix the failures above" if counts["fail"] else "ready for `pulumi up`"
    lines.append(f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed: {verdict}")
    return "\n".join(lines)
