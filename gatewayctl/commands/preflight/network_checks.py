"""Preflight's network checks: the nodes' and the floating IP are free, and the NFS server answers.

The probes are :mod:`gatewayctl.probe`'s, bounded by a timeout each.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence

from components import config as cfg
from gatewayctl import probe
from gatewayctl.checks import Check, config_key, failed, ok, warned
from gatewayctl.commands.preflight.vcenter_checks import Placement

NFS_PORT = 2049


# ------------------------------------------------------------------------------------------- addresses

AddressProbe = Callable[[Sequence[str], float], Mapping[str, probe.AddressAnswer]]


def probe_each(addresses: Sequence[str], timeout: float) -> Mapping[str, probe.AddressAnswer]:
    """The address probe preflight uses: every address at once, on :data:`gatewayctl.probe.DEFAULT_PORTS`."""
    return probe.probe_addresses(addresses, timeout=timeout)


def check_addresses(
    settings: cfg.Settings, place: Placement, timeout: float, probe_addresses: AddressProbe = probe_each
) -> list[Check]:
    """Each node IP and the floating IP: nobody answers there yet (except this stack's own running nodes)."""
    targets: list[tuple[str, str, str, bool]] = [
        (str(n.ip), n.hostname, config_key(f"nodes[{i}].ip"), n.hostname in place.own_vms)
        for i, n in enumerate(settings.nodes)
    ]
    targets.append((str(settings.floating_ip), "floating IP", config_key("floatingIp"), bool(place.own_vms)))
    answers = probe_addresses([t[0] for t in targets], timeout)
    rows = []
    for address, role, key, expected in targets:
        answer = answers[str(ipaddress.ip_address(address))]
        target = f"{address} ({role})"
        notes = f" ({'; '.join(answer.notes)})" if answer.notes else ""
        if not answer.in_use and not answer.probed:
            rows.append(
                warned(
                    "ip.free",
                    target,
                    f"could not be probed from this machine, so it may be in use{notes}",
                    f"Run preflight from a machine that reaches {settings.network.cidr}, or make sure yourself "
                    f"that nothing uses {address}",
                )
            )
        elif not answer.in_use:
            rows.append(ok("ip.free", target, f"no answer within {timeout:g} s: free{notes}"))
        elif expected:
            rows.append(ok("ip.free", target, f"{answer.describe()}: expected, this stack's cluster runs there"))
        else:
            rows.append(
                failed(
                    "ip.free",
                    target,
                    f"already in use, {answer.describe()}",
                    f"Choose a free address for {key} (outside the DHCP pools), or free {address}",
                )
            )
    return rows


def check_nfs(settings: cfg.Settings, timeout: float) -> list[Check]:
    """The NFS server's name resolves (the nodes mount it by that name) and it answers on port 2049."""
    if settings.storage is None:
        return []
    server = settings.storage.nfs_server
    key = config_key("storage.nfsServer")
    rows = []
    is_address = True
    try:
        ipaddress.ip_address(server)
    except ValueError:
        is_address = False
    try:
        addresses = probe.resolve(server, timeout)
    except probe.ResolveError as exc:
        return [failed("nfs.dns", server, str(exc), f"Add {server} to DNS, or write its address in {key}")]
    if not is_address:
        rows.append(ok("nfs.dns", server, f"resolves to {', '.join(addresses)}"))
    target = f"{server}:{NFS_PORT}"
    # The addresses just resolved, not the name again: a second look-up could fail or take another timeout.
    result = probe.first_open(addresses, NFS_PORT, timeout)
    if result.state == "open":
        rows.append(ok("nfs.port", target, "accepts connections (NFS over TCP)"))
    else:
        rows.append(
            failed(
                "nfs.port",
                target,
                f"no NFS service: {result.detail}",
                f"Start NFS on {server} and let this network reach TCP {NFS_PORT}, or fix {key}",
            )
        )
    return rows
