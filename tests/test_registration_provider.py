"""The dynamic providers (what ``pulumi up`` runs) against the HTTPS stand-ins: create, diff, update, re-runs."""

from __future__ import annotations

from typing import Any

import pytest

from components import vendor_api
from components.registration import ManagementProfileProvider, RegistrationProvider
from tests.support.vendor_standin import (
    ACTIVATION_KEY,
    CLIENT_KEY,
    CLIENT_SECRET,
    MANAGER_PASSWORD,
    MANAGER_USER,
    SERVER,
    TENANT,
    ApplianceFactory,
    ApplianceStandIn,
    Certificate,
    PlatformFactory,
    PlatformStandIn,
    SilentServer,
    assert_no_secret,
)

pytest_plugins = ["tests.support.registration_fixtures"]


def registration_props(target: ApplianceStandIn | SilentServer, **changes: Any) -> dict[str, Any]:
    # As the engine hands them to the provider: plaintext values, the pickled provider under __provider.
    props: dict[str, Any] = {
        "__provider": "opaque",
        "manager_url": target.url,
        "server": SERVER,
        "manager_user": MANAGER_USER,
        "manager_password": MANAGER_PASSWORD,
        "activation_token": ACTIVATION_KEY,
        "wait_seconds": 5.0,
    }
    props.update(changes)
    return props


def profile_props(server: PlatformStandIn, cert: Certificate, **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "__provider": "opaque",
        "server": server.host,
        "tenant_id": TENANT,
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
        "attach_profile_id": None,
        "create_profile_name": "gw-prod",
        "description": "Gateway cluster gateway-cluster/prod, managed by Pulumi.",
        "platform_ca_cert": cert.cert_pem,
    }
    props.update(changes)
    return props


# ----------------------------------------------------------------------------------------------- Registration


def test_create_registers_and_keeps_no_password(appliance: ApplianceFactory) -> None:
    server = appliance()
    result = RegistrationProvider().create(registration_props(server))
    assert server.state.registered == (ACTIVATION_KEY, SERVER)
    assert result.id == server.url
    outs = result.outs or {}
    assert outs["status"] == "registered" and outs["outcome"] == "registered"
    assert "manager_password" not in outs and "__provider" not in outs
    assert MANAGER_PASSWORD not in repr(outs)


def test_rerun_with_the_same_inputs_changes_nothing(appliance: ApplianceFactory) -> None:
    server = appliance()
    provider = RegistrationProvider()
    props = registration_props(server)
    outs = provider.create(props).outs or {}
    calls = len(server.calls)
    # The engine diffs the stored outputs against the program's new inputs: no change, no update, no call.
    diff = provider.diff(server.url, {**outs, "__provider": "opaque"}, registration_props(server))
    assert diff.changes is False
    assert len(server.calls) == calls


def test_create_again_after_lost_state_is_a_no_op(appliance: ApplianceFactory) -> None:
    server = appliance()
    provider = RegistrationProvider()
    provider.create(registration_props(server))
    again = provider.create(registration_props(server))
    assert (again.outs or {})["outcome"] == "already-registered"
    assert server.state.registered == (ACTIVATION_KEY, SERVER)


@pytest.mark.parametrize(
    ("change", "registers_again"),
    [
        ({"wait_seconds": 60.0}, False),
        ({"manager_user": "admin"}, False),
        ({"ca_cert": None}, False),
        ({"activation_token": "SENTINEL-activation-key-new"}, True),
        ({"server": "other.api.example.test"}, True),
    ],
    ids=["wait-time", "same-user", "pin-unset", "new-token", "new-tenant-host"],
)
def test_update_talks_to_the_appliance_only_when_registration_inputs_change(
    appliance: ApplianceFactory, change: dict[str, Any], registers_again: bool
) -> None:
    server = appliance()
    provider = RegistrationProvider()
    outs = provider.create(registration_props(server)).outs or {}
    calls = len(server.calls)
    news = registration_props(server, **change)
    if not registers_again:
        result = provider.update(server.url, outs, news)
        assert len(server.calls) == calls
        assert (result.outs or {})["status"] == "registered"
        return
    assert provider.diff(server.url, outs, news).changes is True
    # The appliance is registered already and the API has no de-register call: the error says to use the UI.
    with pytest.raises(vendor_api.RequestFailedError) as info:
        provider.update(server.url, outs, news)
    message = str(info.value)
    assert "already registered" in message and "vendor's UI" in message and server.url in message
    assert_no_secret(message)


def test_new_floating_ip_with_the_same_token_is_not_a_conflict(appliance: ApplianceFactory) -> None:
    old = appliance()
    provider = RegistrationProvider()
    outs = provider.create(registration_props(old)).outs or {}
    # The same appliance, moved to a new address (floatingIp changed): registered with this token and tenant.
    moved = appliance(registered=(ACTIVATION_KEY, SERVER))
    news = registration_props(moved)
    assert provider.diff(old.url, outs, news).changes is True
    result = provider.update(old.url, outs, news).outs or {}
    assert result["manager_url"] == moved.url and result["status"] == "registered"
    assert result["outcome"] == "already-registered"
    assert [c.path for c in moved.calls][-1] == "/api/v2/registration"


def test_rebuilt_cluster_registers_its_fresh_manager(appliance: ApplianceFactory) -> None:
    old = appliance()
    provider = RegistrationProvider()
    outs = provider.create(registration_props(old, cluster="microk8s-aaaa")).outs or {}
    # Same address, token and tenant, but the cluster was rebuilt: its manager was installed afresh.
    fresh = appliance()
    news = registration_props(fresh, cluster="microk8s-bbbb")
    news["manager_url"] = outs["manager_url"] = fresh.url
    assert provider.diff(fresh.url, outs, news).changes is True
    result = provider.update(fresh.url, outs, news).outs or {}
    assert fresh.state.registered == (ACTIVATION_KEY, SERVER)
    assert result["outcome"] == "registered" and result["cluster"] == "microk8s-bbbb"


def test_update_after_ui_deregistration_registers_with_the_new_token(appliance: ApplianceFactory) -> None:
    server = appliance(valid_keys={ACTIVATION_KEY, "SENTINEL-activation-key-new"})
    provider = RegistrationProvider()
    outs = provider.create(registration_props(server)).outs or {}
    server.state.registered = None  # the UI step: the gateway was detached from its old profile
    result = provider.update(
        server.url, outs, registration_props(server, activation_token="SENTINEL-activation-key-new")
    )
    assert server.state.registered == ("SENTINEL-activation-key-new", SERVER)
    assert (result.outs or {})["activation_token"] == "SENTINEL-activation-key-new"


def test_delete_calls_nothing(appliance: ApplianceFactory) -> None:
    server = appliance()
    RegistrationProvider().delete(server.url, registration_props(server))
    assert server.calls == []


def test_create_times_out_naming_the_url(silent: SilentServer) -> None:
    with pytest.raises(vendor_api.ManagerTimeoutError) as info:
        RegistrationProvider().create(registration_props(silent, wait_seconds=0.3))
    assert silent.url in str(info.value)


# ------------------------------------------------------------------------------------------ ManagementProfile


def test_profile_create_yields_its_token(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    result = ManagementProfileProvider().create(profile_props(server, platform_cert))
    outs = result.outs or {}
    (profile,) = server.state.profiles.values()
    assert result.id == profile["id"] == outs["profile_id"]
    assert outs["activation_token"] == profile["activationToken"] and outs["created"] is True
    assert outs["profile_name"] == "gw-prod"


def test_profile_attach_yields_a_fresh_token(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    classic = vendor_api.PlatformClient(server.host, CLIENT_KEY, CLIENT_SECRET, ca_cert=platform_cert.cert_pem)
    existing = classic.create_profile(TENANT, "classic", "the classic gateway's profile")
    props = profile_props(server, platform_cert, attach_profile_id=existing.id, create_profile_name=None)
    outs = ManagementProfileProvider().create(props).outs or {}
    assert outs["profile_id"] == existing.id and outs["created"] is False
    assert outs["activation_token"] == server.state.tokens_handed_out[-1] != existing.activation_token
    assert len(server.state.profiles) == 1


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"client_secret": "rotated"}, []),
        ({"description": "new words"}, []),
        ({"create_profile_name": "gw-other"}, ["create_profile_name"]),
        ({"attach_profile_id": "mp-1", "create_profile_name": None}, ["attach_profile_id", "create_profile_name"]),
        ({"tenant_id": "client_other"}, ["tenant_id"]),
    ],
    ids=["rotated-secret", "description", "other-name", "attach-instead", "other-tenant"],
)
def test_profile_diff(
    platform: PlatformFactory, platform_cert: Certificate, change: dict[str, Any], replaces: list[str]
) -> None:
    server = platform()
    provider = ManagementProfileProvider()
    outs = provider.create(profile_props(server, platform_cert)).outs or {}
    assert provider.diff("id", outs, profile_props(server, platform_cert)).changes is False
    diff = provider.diff("id", outs, profile_props(server, platform_cert, **change))
    assert diff.changes is True and sorted(diff.replaces or []) == sorted(replaces)


def test_profile_update_keeps_the_token_and_calls_nothing(
    platform: PlatformFactory, platform_cert: Certificate
) -> None:
    server = platform()
    provider = ManagementProfileProvider()
    outs = provider.create(profile_props(server, platform_cert)).outs or {}
    calls = len(server.calls)
    updated = provider.update("id", outs, profile_props(server, platform_cert, client_secret="rotated")).outs or {}
    assert len(server.calls) == calls
    assert updated["activation_token"] == outs["activation_token"] and updated["client_secret"] == "rotated"


def test_profile_then_registration_end_to_end(
    platform: PlatformFactory, platform_cert: Certificate, appliance: ApplianceFactory
) -> None:
    tenant = platform()
    profile = ManagementProfileProvider().create(profile_props(tenant, platform_cert)).outs or {}
    # The appliance accepts exactly the tokens the tenant handed out.
    gateway = appliance(valid_keys=set(tenant.state.tokens_handed_out))
    RegistrationProvider().create(registration_props(gateway, activation_token=profile["activation_token"]))
    assert gateway.state.registered == (profile["activation_token"], SERVER)


def test_profile_with_bad_credentials_is_a_clear_error(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    with pytest.raises(vendor_api.UnauthorizedError) as info:
        ManagementProfileProvider().create(profile_props(server, platform_cert, client_secret="SENTINEL-bad-secret-5"))
    message = str(info.value)
    assert "registrationClientSecret" in message and "SENTINEL-bad-secret-5" not in message
    assert_no_secret(message)
    assert server.state.profiles == {}
