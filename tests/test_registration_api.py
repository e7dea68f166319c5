"""The vendor API client against HTTPS stand-ins on 127.0.0.1 with real TLS, following the documented endpoints."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from components import vendor_api
from components.vendor_api import transport
from tests.support.vendor_standin import (
    ACTIVATION_KEY,
    CLIENT_KEY,
    CLIENT_SECRET,
    MANAGER_PASSWORD,
    MANAGER_USER,
    SERVER,
    TENANT,
    ApplianceFactory,
    Certificate,
    GarbageServer,
    PlatformFactory,
    SilentServer,
    assert_no_secret,
)

# The stand-ins' fixtures (appliance, platform, silent, certificates, no proxies).
pytest_plugins = ["tests.support.registration_fixtures"]

TOKEN_PATHS = [
    pytest.param(("/v2/auth/token",), id="newer-token-endpoint"),
    pytest.param(("/api/v2/apiTokenGen",), id="older-token-endpoint"),
    pytest.param(("/v2/auth/token", "/api/v2/apiTokenGen"), id="both-endpoints"),
]


def register(url: str, *, password: str = MANAGER_PASSWORD, key: str = ACTIVATION_KEY, **kw: object) -> str:
    options: dict[str, object] = {"wait_seconds": 5.0, "interval": 0.05, "timeout": 5.0, **kw}
    return vendor_api.register_appliance(url, MANAGER_USER, password, key, SERVER, **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ appliance


@pytest.mark.parametrize("token_paths", TOKEN_PATHS)
def test_token_then_register_as_documented(appliance: ApplianceFactory, token_paths: tuple[str, ...]) -> None:
    server = appliance(token_paths=token_paths)
    assert register(server.url) == "registered"
    assert server.state.registered == (ACTIVATION_KEY, SERVER)
    token_call = next(c for c in server.calls if c.path in token_paths and c.status == 200)
    assert token_call.method == "POST"
    assert token_call.form == {"username": MANAGER_USER, "password": MANAGER_PASSWORD}
    (reg,) = [c for c in server.calls if c.path == "/api/v2/registration"]
    assert reg.method == "POST" and reg.status == 200
    assert reg.headers["Authorization"].startswith("Token ")
    assert reg.headers["Authorization"].split(" ", 1)[1] in server.state.issued
    assert reg.headers["Content-Type"] == "application/json"
    assert reg.json == {"activationKey": ACTIVATION_KEY, "opsRampServer": SERVER}


@pytest.mark.parametrize("repeat_status", [200, 400], ids=["repeat-answers-200", "repeat-answers-400"])
def test_registering_again_is_a_no_op(appliance: ApplianceFactory, repeat_status: int) -> None:
    server = appliance(repeat_status=repeat_status)
    assert register(server.url) == "registered"
    assert register(server.url) == "already-registered"
    assert register(server.url) == "already-registered"
    assert server.state.registered == (ACTIVATION_KEY, SERVER)
    assert [c.status for c in server.calls if c.path == "/api/v2/registration"] == [200, repeat_status, repeat_status]


def test_bad_password_is_a_clear_401(appliance: ApplianceFactory) -> None:
    server = appliance()
    with pytest.raises(vendor_api.UnauthorizedError) as info:
        register(server.url, password="SENTINEL-wrong-password-00")
    message = str(info.value)
    assert server.url in message and "401" in message and "managerPassword" in message
    assert "SENTINEL-wrong-password-00" not in message
    assert_no_secret(message)
    assert server.state.registered is None
    assert not [c for c in server.calls if c.path == "/api/v2/registration"]


def test_bad_activation_key_is_a_clear_401(appliance: ApplianceFactory) -> None:
    server = appliance(valid_keys={"some-other-key"})
    with pytest.raises(vendor_api.UnauthorizedError) as info:
        register(server.url)
    message = str(info.value)
    assert f"{server.url}/api/v2/registration" in message and "activationToken" in message
    assert_no_secret(message)
    assert server.state.registered is None


def test_expired_token_is_renewed_once(appliance: ApplianceFactory) -> None:
    server = appliance(token_paths=("/v2/auth/token",), expire_registrations=1)
    assert register(server.url) == "registered"
    assert server.paths() == [
        ("POST", "/v2/auth/token", 200),
        ("POST", "/api/v2/registration", 407),
        ("POST", "/v2/auth/token", 200),
        ("POST", "/api/v2/registration", 200),
    ]


def test_token_that_keeps_expiring_is_a_clear_407(appliance: ApplianceFactory) -> None:
    server = appliance(expire_registrations=10)
    with pytest.raises(vendor_api.TokenExpiredError) as info:
        register(server.url)
    message = str(info.value)
    assert f"{server.url}/api/v2/registration" in message and "407" in message and "pulumi up" in message
    assert_no_secret(message)
    assert [c.status for c in server.calls if c.path == "/api/v2/registration"] == [407, 407]


def test_manager_never_answering_times_out_naming_the_url(silent: SilentServer) -> None:
    with pytest.raises(vendor_api.ManagerTimeoutError) as info:
        register(silent.url, wait_seconds=0.5, timeout=0.2)
    message = str(info.value)
    assert silent.url in message and "did not answer" in message and "waitSeconds" in message
    assert_no_secret(message)


def test_manager_refusing_connections_times_out_naming_the_url(closed_port_url: str) -> None:
    with pytest.raises(vendor_api.ManagerTimeoutError) as info:
        register(closed_port_url, wait_seconds=0.3)
    assert closed_port_url in str(info.value)


def test_a_401_ends_the_wait_at_once(appliance: ApplianceFactory) -> None:
    server = appliance()
    with pytest.raises(vendor_api.UnauthorizedError):
        register(server.url, password="wrong", wait_seconds=60.0)
    # One answer was enough: the token endpoint(s) were asked once, not polled until the wait ran out.
    assert len([c for c in server.calls if c.status == 401]) == 1


def test_not_http_on_the_port_is_waited_out_not_a_traceback(garbage: GarbageServer) -> None:
    # Something that completes TLS but does not speak HTTP (a half-started manager): keep waiting, then a
    # clear error naming the URL, not a raw http.client exception.
    api = vendor_api.ApplianceClient(garbage.url, MANAGER_USER, MANAGER_PASSWORD, timeout=5.0)
    with pytest.raises(vendor_api.UnreachableError) as once:
        api.token()
    assert garbage.url in str(once.value) and "BadStatusLine" in str(once.value)
    with pytest.raises(vendor_api.ManagerTimeoutError) as info:
        register(garbage.url, wait_seconds=0.5, interval=0.05)
    assert garbage.url in str(info.value)
    assert garbage.connections >= 3  # the wait kept trying
    assert_no_secret(str(once.value) + str(info.value))


@pytest.mark.parametrize(
    ("limited", "retry_after", "pauses"),
    [(2, "0", [0.0, 0.0]), (3, None, [1.0, 2.0, 4.0])],
    ids=["retry-after-header", "no-header-backs-off"],
)
def test_rate_limited_appliance_is_retried(
    appliance: ApplianceFactory,
    monkeypatch: pytest.MonkeyPatch,
    limited: int,
    retry_after: str | None,
    pauses: list[float],
) -> None:
    # The pauses are recorded, not slept: the client's own clock goes forward by each one.
    slept: list[float] = []
    offset = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        offset[0] += seconds

    clock = SimpleNamespace(sleep=sleep, monotonic=lambda: time.monotonic() + offset[0])
    monkeypatch.setattr(transport, "time", clock)
    server = appliance(token_paths=("/v2/auth/token",))
    server.rate_limited, server.retry_after = limited, retry_after
    assert register(server.url, rate_limit_seconds=60.0, wait_seconds=60.0) == "registered"
    assert [c.status for c in server.calls] == [429] * limited + [200, 200]
    assert slept == pauses, "Retry-After when the server gives one, else 1, 2, 4 ... s"
    assert server.state.registered == (ACTIVATION_KEY, SERVER)


def test_rate_limit_longer_than_the_budget_is_a_clear_429(appliance: ApplianceFactory) -> None:
    server = appliance(token_paths=("/v2/auth/token",))
    server.rate_limited, server.retry_after = 100, "3600"
    with pytest.raises(vendor_api.RequestFailedError) as info:
        register(server.url, rate_limit_seconds=5.0)
    message = str(info.value)
    assert info.value.status == 429 and "429" in message and server.url in message and "pulumi up" in message
    # A pause longer than what is left is not waited for: one call, no sleep.
    assert [c.status for c in server.calls] == [429]
    assert_no_secret(message)


def test_pinned_certificate_is_accepted(appliance: ApplianceFactory, appliance_cert: Certificate) -> None:
    server = appliance()
    assert register(server.url, ca_cert=appliance_cert.cert_pem) == "registered"


def test_wrong_pinned_certificate_stops_before_the_password_is_sent(
    appliance: ApplianceFactory, other_cert: Certificate
) -> None:
    server = appliance()
    with pytest.raises(vendor_api.CertificateRejectedError) as info:
        register(server.url, ca_cert=other_cert.cert_pem)
    message = str(info.value)
    assert server.url in message and "caCert" in message
    assert server.calls == []


def test_without_a_pin_the_self_signed_certificate_is_accepted(appliance: ApplianceFactory) -> None:
    server = appliance()
    assert register(server.url, ca_cert=None) == "registered"


# ------------------------------------------------------------------------------------------------- platform


def client(url_host: str, cert: Certificate | None, key: str = CLIENT_KEY) -> vendor_api.PlatformClient:
    return vendor_api.PlatformClient(url_host, key, CLIENT_SECRET, ca_cert=cert.cert_pem if cert else None, timeout=5.0)


def test_create_profile_as_documented(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    profile = client(server.host, platform_cert).create_profile(TENANT, "gw-prod", "made by a test")
    assert profile.id in server.state.profiles and profile.name == "gw-prod"
    assert profile.activation_token == server.state.tokens_handed_out[-1]
    oauth, create = server.calls
    assert (oauth.method, oauth.path) == ("POST", "/auth/oauth/token")
    assert oauth.form == {"grant_type": "client_credentials", "client_id": CLIENT_KEY, "client_secret": CLIENT_SECRET}
    assert (create.method, create.path) == ("POST", f"/api/v2/tenants/{TENANT}/managementProfiles")
    assert create.json == {"name": "gw-prod", "description": "made by a test", "type": "Gateway"}
    assert create.headers["Authorization"].startswith("Bearer ")


def test_attach_existing_profile_issues_a_fresh_token(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    api = client(server.host, platform_cert)
    made = api.create_profile(TENANT, "classic-gateway", "the classic gateway's profile")
    attached = api.attach_profile(TENANT, made.id)
    assert attached.id == made.id and attached.activation_token != made.activation_token
    assert attached.activation_token == server.state.tokens_handed_out[-1]
    assert ("GET", f"/api/v2/tenants/{TENANT}/managementProfiles/{made.id}/attach", 200) in server.paths()


def test_bad_client_key_is_a_clear_401(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    with pytest.raises(vendor_api.UnauthorizedError) as info:
        client(server.host, platform_cert, key="SENTINEL-wrong-key-11").create_profile(TENANT, "x", "y")
    message = str(info.value)
    assert f"{server.url}/auth/oauth/token" in message and "registrationClientKey" in message
    assert "SENTINEL-wrong-key-11" not in message
    assert_no_secret(message)


def test_expired_bearer_token_is_renewed_once(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform(expire_calls=1)
    profile = client(server.host, platform_cert).create_profile(TENANT, "gw", "d")
    assert profile.id in server.state.profiles
    assert [p[2] for p in server.paths()] == [200, 407, 200, 200]


def test_bearer_token_that_keeps_expiring_is_a_clear_407(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform(expire_calls=10)
    with pytest.raises(vendor_api.TokenExpiredError) as info:
        client(server.host, platform_cert).attach_profile(TENANT, "mp-1")
    message = str(info.value)
    assert f"{server.url}/api/v2/tenants/{TENANT}/managementProfiles/mp-1/attach" in message and "407" in message
    assert_no_secret(message)


def test_unknown_profile_names_the_key_to_fix(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    with pytest.raises(vendor_api.RequestFailedError) as info:
        client(server.host, platform_cert).attach_profile(TENANT, "mp-missing")
    message = str(info.value)
    assert "404" in message and "registration.profileId" in message and "mp-missing" in message


def test_duplicate_profile_name_suggests_attaching(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    api = client(server.host, platform_cert)
    api.create_profile(TENANT, "gw-prod", "first")
    with pytest.raises(vendor_api.RequestFailedError) as info:
        api.create_profile(TENANT, "gw-prod", "second")
    assert "already exists" in str(info.value) and "registration.profileId" in str(info.value)


def test_rate_limited_platform_is_retried(platform: PlatformFactory, platform_cert: Certificate) -> None:
    server = platform()
    server.rate_limited = 2
    profile = client(server.host, platform_cert).create_profile(TENANT, "gw", "d")
    assert profile.id in server.state.profiles
    assert [p[2] for p in server.paths()] == [429, 429, 200, 200]


def test_platform_certificate_is_checked_against_trusted_cas(platform: PlatformFactory) -> None:
    server = platform()
    with pytest.raises(vendor_api.CertificateRejectedError) as info:
        client(server.host, None).create_profile(TENANT, "gw", "d")
    assert f"{server.url}/auth/oauth/token" in str(info.value)
    assert server.calls == []


# -------------------------------------------------------------------------------------------------- redact


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("token abc123 ok", ["abc123"], "token [secret] ok"),
        ("k=a%2Fb+c", ["a/b c"], "k=[secret]"),
        ("k=a%2Fb%20c", ["a/b c"], "k=[secret]"),
        ("nothing here", ["abc"], "nothing here"),
        ("abcd and abc", ["abc", "abcd"], "[secret] and [secret]"),
        ("empty secrets are ignored", [""], "empty secrets are ignored"),
    ],
    ids=["plain", "form-encoded", "url-encoded", "absent", "longest-first", "empty"],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert vendor_api.redact(text, secrets) == expected


def test_error_bodies_are_quoted_without_secrets(appliance: ApplianceFactory) -> None:
    # A 400 body that echoes the request (some servers do) must not carry the activation key into the error.
    server = appliance()

    def echo(request: object) -> tuple[int, object]:
        return 400, {"message": f"bad request: {getattr(request, 'json', None)}"}

    server.answer = echo  # type: ignore[method-assign]
    api = vendor_api.ApplianceClient(server.url, MANAGER_USER, MANAGER_PASSWORD, timeout=5.0)
    api._token = "t"  # skip the token call: the echo answers everything
    with pytest.raises(vendor_api.RequestFailedError) as info:
        api.register(ACTIVATION_KEY, SERVER)
    message = str(info.value)
    assert "400" in message and "[secret]" in message
    assert_no_secret(message)
