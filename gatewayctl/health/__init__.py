"""The cluster's health, as `gatewayctl validate`, `upgrade` and (later) `drill` check it: one module each
command uses, so that they judge a cluster the same way.

- :mod:`~gatewayctl.health.reach`: SSH to the nodes as the program reaches them.
- :mod:`~gatewayctl.health.facts`: the read-only ``components/scripts/facts.sh`` on every node, in parallel.
- :mod:`~gatewayctl.health.judge`: the checks, pure functions of those facts.
- :mod:`~gatewayctl.health.manager`: the Gateway Manager on the floating IP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from components import config as cfg
from components import scripts, vendor_api
from gatewayctl.checks import Check, failed
from gatewayctl.health import facts, judge
from gatewayctl.health.manager import MANAGER_PORT, manager_answers
from gatewayctl.health.reach import (
    MANAGER_PASSWORD_ENV,
    PASSWORD_ENV,
    STACK_SECRETS,
    Credentials,
    Reach,
    manager_password,
    reach_from,
)

__all__ = [
    "MANAGER_PASSWORD_ENV",
    "MANAGER_PORT",
    "PASSWORD_ENV",
    "STACK_SECRETS",
    "Credentials",
    "Reach",
    "cluster_health",
    "manager_answers",
    "manager_password",
    "reach_from",
    "registration_check",
    "validate",
    "wait_healthy",
]


def cluster_health(settings: cfg.Settings, reach: Reach) -> list[Check]:
    """What the upgrade waits for between nodes: every node Ready under its hostname, and the manager answering."""
    rows = judge.node_ready(settings, facts.collect(settings, reach))
    return [*rows, manager_answers(str(settings.floating_ip), reach.timeout)]


def registration_check(
    settings: cfg.Settings, manager_password: str | None, recorded: str | None, *, timeout: float
) -> Check:
    """``registration``: with a manager password, the appliance's API must accept it (its documented token call);
    the registration itself is as the stack recorded it (judge.registration_row says why)."""
    if manager_password:
        user = settings.registration.manager_user if settings.registration else "admin"
        url = f"https://{scripts.url_host(str(settings.floating_ip))}:{MANAGER_PORT}"
        client = vendor_api.ApplianceClient(url, user, manager_password, timeout=timeout)
        try:
            client.token()
        except vendor_api.VendorApiError as exc:
            return failed(
                "registration",
                "manager",
                f"the Gateway Manager's API did not accept the manager password: {exc}",
                "Check gateway-cluster:managerPassword (or GATEWAY_MANAGER_PASSWORD) and the manager user",
            )
    return judge.registration_row(recorded, manager_password is not None and manager_password != "")


def validate(
    settings: cfg.Settings,
    reach: Reach,
    *,
    manager_password: str | None,
    recorded_registration: str | None,
) -> list[Check]:
    """Every check of `gatewayctl validate`, in report order."""
    rows = judge.judge(settings, facts.collect(settings, reach))
    rows.append(manager_answers(str(settings.floating_ip), reach.timeout))
    rows.append(registration_check(settings, manager_password, recorded_registration, timeout=reach.timeout))
    return rows


def wait_healthy(
    probe: Callable[[], Sequence[Check]],
    *,
    timeout: float,
    interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Runs ``probe`` until every row passes (``None``) or ``timeout`` runs out (what still fails)."""
    deadline = clock() + timeout
    while True:
        rows = probe()
        bad = [r for r in rows if r.status == "fail"]
        if not bad:
            return None
        if clock() + interval > deadline:
            return "; ".join(f"{r.id} {r.target}: {r.message}" for r in bad)
        sleep(interval)
